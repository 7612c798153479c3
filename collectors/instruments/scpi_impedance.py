"""A SCPI driver (pyvisa) for an LCR meter / impedance analyzer doing a frequency list sweep.

The commands are those of the Keysight E4980A precision LCR meter's list sweep (E4980A User's
Guide, ch. "SCPI command reference": ``:FUNCtion:IMPedance:TYPE``, ``:LIST:FREQuency``,
``:LIST:MODE``, ``:TRIGger:SOURce``, ``:TRIGger:IMMediate``, ``:FETCh?``, ``:SYSTem:ERRor?``),
which other LCR meters with a list sweep (E4980AL, IM3536-style SCPI dialects) follow closely:

1. ``*IDN?`` (the instrument must answer ``maker,model,serial,firmware``), ``*CLS``;
2. ``:FUNC:IMP:TYPE RX`` (primary R = Z', secondary X = Z'', ohm), ``:VOLT:LEV <V>``,
   ``:LIST:FREQ f1,f2,...`` read back with ``:LIST:FREQ?`` and compared, ``:LIST:MODE SEQ``,
   ``:TRIG:SOUR BUS``, ``:DISP:PAGE LIST``, ``:FORM:ASC:LONG ON``, ``:INIT:CONT ON``; the error
   queue (``:SYST:ERR?``) must then be empty;
3. per sweep ``:TRIG:IMM``, ``*OPC?``, ``:FETC?`` which returns ``R, X, status, bin`` per list
   point. A point whose status is not 0 (-1 no data, 1 overload, 3 signal source over its
   limit, 4 ALC unregulated) becomes NaN and the sweep gets the flag ``scpi_status_<status>``:
   flagged, never dropped.

Every reply is validated: a timeout or a malformed reply raises :class:`ScpiError` naming the
resource, the command and what was expected, with what to check.

Tested with pyvisa-sim and the device file shipped in ``collectors/data/scpi/lcr_sim.yaml``
(:data:`SIM_DEVICES`):

>>> meter = LcrListSweep.open(SIM_RESOURCE, visa_library=f"{SIM_DEVICES}@sim")
>>> meter.identity.model
'E4980A'
>>> meter.configure([1e5, 1e4, 1e3, 1e2, 1e1], level_v=0.01)
>>> sweep = meter.measure()
>>> sweep.frequencies_hz.tolist()
[10.0, 100.0, 1000.0, 10000.0, 100000.0]
>>> sweep.flags, bool(np.isnan(sweep.z_real_ohm[1]))
(('scpi_status_1',), True)
>>> meter.close()
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import numpy as np
import pyvisa
from pyvisa import constants
from pyvisa.errors import VisaIOError

from synthwatch.collectors.impedance.sweep import ImpedanceSweep, ParseError, make_sweep
from synthwatch.contract.errors import FAILURE, SynthwatchError

__all__ = [
    "SIM_DEVICES",
    "SIM_RESOURCE",
    "MAX_POINTS",
    "ScpiError",
    "Identity",
    "LcrListSweep",
]

#: pyvisa-sim device definitions shipped with synthwatch (``f"{SIM_DEVICES}@sim"``)
SIM_DEVICES = str(resources.files("synthwatch.collectors.data.scpi") / "lcr_sim.yaml")
#: the simulated working meter of :data:`SIM_DEVICES`
SIM_RESOURCE = "USB0::0x2A8D::0x0101::SIM0001::INSTR"
#: most points of an E4980A list sweep
MAX_POINTS = 201
_FIELDS_PER_POINT = 4


class ScpiError(SynthwatchError, RuntimeError):
    """The instrument did not answer, answered something malformed, or reported an error."""

    exit_code = FAILURE


@dataclass(frozen=True)
class Identity:
    """The instrument's ``*IDN?`` reply."""

    maker: str
    model: str
    serial: str
    firmware: str


def _numbers(reply: str, resource: str, command: str) -> list[float]:
    fields = reply.strip().split(",")
    values = []
    for i, field in enumerate(fields):
        try:
            values.append(float(field))
        except ValueError:
            raise ScpiError(
                f"{resource}: reply to {command!r}: field {i + 1} is {field.strip()[:20]!r}, "
                f"expected a number (reply starts {reply[:60]!r})"
            ) from None
    return values


class LcrListSweep:
    """An E4980A-style LCR meter doing a list sweep over pyvisa (module doc).

    ``resource`` is an open pyvisa message-based resource; ``name`` names it in errors and as
    the sweeps' source. Use :meth:`open` to open one by its VISA address.
    """

    def __init__(self, resource: pyvisa.resources.MessageBasedResource, name: str):
        self.resource = resource
        self.name = name
        self._frequencies_hz: np.ndarray | None = None
        self.identity = self._identify()

    @classmethod
    def open(
        cls, address: str, *, visa_library: str = "", timeout_ms: int = 10_000
    ) -> LcrListSweep:
        """Open the instrument at VISA ``address`` (``visa_library``: e.g. ``"path@sim"``)."""
        rm = pyvisa.ResourceManager(visa_library)
        try:
            res = rm.open_resource(
                address, read_termination="\n", write_termination="\n", timeout=timeout_ms
            )
        except VisaIOError as err:
            raise ScpiError(
                f"{address}: cannot open the instrument ({err.description}); check the VISA "
                f"address (found: {', '.join(rm.list_resources()) or 'none'})"
            ) from err
        return cls(res, address)

    def close(self) -> None:
        """Close the VISA session."""
        self.resource.close()

    # low level ------------------------------------------------------------------------------
    def _query(self, command: str) -> str:
        try:
            return self.resource.query(command)
        except VisaIOError as err:
            if err.error_code == constants.StatusCode.error_timeout:
                raise ScpiError(
                    f"{self.name}: no reply to {command!r} within {self.resource.timeout} ms: "
                    "check the connection and address, that the sweep can finish in that time "
                    "(long lists at low frequency need a longer timeout_ms), and the trigger"
                ) from err
            raise ScpiError(f"{self.name}: {command!r} failed: {err.description}") from err

    def _write(self, command: str) -> None:
        try:
            self.resource.write(command)
        except VisaIOError as err:
            raise ScpiError(f"{self.name}: cannot send {command!r}: {err.description}") from err

    def _identify(self) -> Identity:
        reply = self._query("*IDN?").strip()
        parts = [p.strip() for p in reply.split(",")]
        if len(parts) != 4 or not all(parts[:2]):
            raise ScpiError(
                f"{self.name}: reply to '*IDN?' is {reply[:60]!r}, expected "
                "'maker,model,serial,firmware' (is this a SCPI instrument?)"
            )
        return Identity(*parts)

    def check_errors(self) -> None:
        """Raise :class:`ScpiError` with the first entry of the error queue, if any."""
        reply = self._query(":SYST:ERR?").strip()
        match = re.match(r'^([+-]?\d+)\s*,\s*"?(.*?)"?$', reply)
        if not match:
            raise ScpiError(
                f"{self.name}: reply to ':SYST:ERR?' is {reply[:60]!r}, expected "
                "'<code>,\"<message>\"'"
            )
        if int(match.group(1)) != 0:
            raise ScpiError(
                f"{self.name}: instrument error {match.group(1)} {match.group(2)!r} after "
                "configuring the list sweep: check the frequencies and level are in its range"
            )

    # sweep ------------------------------------------------------------------------------------
    def configure(self, frequencies_hz: Sequence[float], *, level_v: float = 0.01) -> None:
        """Set up the list sweep: frequencies (Hz, any order), AC level (V rms), RX, bus trigger."""
        f = np.asarray(frequencies_hz, dtype=float)
        if f.ndim != 1 or not 3 <= f.size <= MAX_POINTS:
            raise ValueError(f"frequencies_hz: expected 3..{MAX_POINTS} frequencies, got {f.size}")
        if not np.all(np.isfinite(f)) or np.any(f <= 0) or np.unique(f).size != f.size:
            raise ValueError("frequencies_hz: expected distinct finite frequencies above 0 Hz")
        if not 0 < level_v <= 20:
            raise ValueError(f"level_v: expected an AC level in (0, 20] V, got {level_v}")
        self._write("*CLS")
        self._write(":FUNC:IMP:TYPE RX")
        self._write(f":VOLT:LEV {level_v:g}")
        self._write(":LIST:FREQ " + ",".join(f"{x:+.5E}" for x in f))
        self._write(":LIST:MODE SEQ")
        self._write(":TRIG:SOUR BUS")
        self._write(":DISP:PAGE LIST")
        self._write(":FORM:ASC:LONG ON")
        self._write(":INIT:CONT ON")
        function = self._query(":FUNC:IMP:TYPE?").strip()
        if function.upper() != "RX":
            raise ScpiError(
                f"{self.name}: reply to ':FUNC:IMP:TYPE?' is {function!r}, expected 'RX' "
                "(the meter ignored the function: is it in list-sweep capable mode?)"
            )
        back = np.asarray(_numbers(self._query(":LIST:FREQ?"), self.name, ":LIST:FREQ?"))
        if back.size != f.size or not np.allclose(back, f, rtol=1e-5, atol=0.0):
            raise ScpiError(
                f"{self.name}: the meter holds {back.size} list frequencies "
                f"{back[:3].tolist()}... where {f.size} {f[:3].tolist()}... were set: "
                "frequencies out of its range, or list too long"
            )
        self.check_errors()
        self._frequencies_hz = f

    def configure_log_sweep(
        self, start_hz: float, stop_hz: float, points: int, *, level_v: float = 0.01
    ) -> None:
        """Start/stop/points as a logarithmic list (the E4980A's list takes frequencies only)."""
        if not (start_hz > 0 and stop_hz > 0 and start_hz != stop_hz):
            raise ValueError(
                f"start_hz, stop_hz: expected two different frequencies above 0 Hz, got "
                f"{start_hz}, {stop_hz}"
            )
        self.configure(np.geomspace(start_hz, stop_hz, int(points)), level_v=level_v)

    def measure(self, started_at: datetime | None = None) -> ImpedanceSweep:
        """Trigger one list sweep and read it (module doc); ``started_at``: when it started."""
        if self._frequencies_hz is None:
            raise ScpiError(f"{self.name}: call configure() before measure()")
        f = self._frequencies_hz
        self._write(":TRIG:IMM")
        done = self._query("*OPC?").strip()
        if done not in ("1", "+1"):
            raise ScpiError(f"{self.name}: reply to '*OPC?' is {done[:20]!r}, expected '1'")
        values = _numbers(self._query(":FETC?"), self.name, ":FETC?")
        if len(values) != _FIELDS_PER_POINT * f.size:
            raise ScpiError(
                f"{self.name}: reply to ':FETC?' has {len(values)} numbers, expected "
                f"{_FIELDS_PER_POINT * f.size} (R, X, status, bin for {f.size} frequencies): "
                "a partial or interleaved reply; check nothing else talks to the instrument"
            )
        table = np.asarray(values).reshape(f.size, _FIELDS_PER_POINT)
        z_real, z_imag, status = table[:, 0].copy(), table[:, 1].copy(), table[:, 2]
        bad = status != 0
        z_real[bad] = np.nan
        z_imag[bad] = np.nan
        flags = [f"scpi_status_{int(s)}" for s in sorted(set(status[bad].tolist()))]
        try:
            return make_sweep(
                Path(self.name),
                f,
                z_real,
                z_imag,
                fmt="scpi",
                started_at=started_at,
                flags=flags,
                meta=(("instrument", f"{self.identity.maker} {self.identity.model}"),),
                allow_nan_z=True,
            )
        except ParseError as err:
            raise ScpiError(f"{self.name}: reply to ':FETC?': {err.reason}") from err
