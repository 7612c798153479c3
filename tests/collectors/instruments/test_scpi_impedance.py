"""The SCPI list-sweep driver against pyvisa-sim instruments (collectors/data/scpi/lcr_sim.yaml)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pytest

from synthwatch.collectors.impedance.messages import descriptor_for, reading_for
from synthwatch.collectors.instruments.scpi_impedance import (
    SIM_DEVICES,
    SIM_RESOURCE,
    LcrListSweep,
    ScpiError,
)

SIM = f"{SIM_DEVICES}@sim"
MALFORMED = "USB0::0x2A8D::0x0101::SIM0002::INSTR"
SILENT = "USB0::0x2A8D::0x0101::SIM0003::INSTR"
ERRORED = "USB0::0x2A8D::0x0101::SIM0004::INSTR"
LIST_HZ = [1e5, 1e4, 1e3, 1e2, 1e1]
T0 = datetime(2026, 3, 14, 9, 0, tzinfo=timezone.utc)


def randles(f_hz):
    cpe = 1.0 / (2e-6 * (2j * np.pi * np.asarray(f_hz)) ** 0.9)
    return 100.0 + 1.0 / (1.0 / 1000.0 + 1.0 / cpe)


@pytest.fixture
def meter():
    m = LcrListSweep.open(SIM_RESOURCE, visa_library=SIM, timeout_ms=200)
    yield m
    m.close()


def test_a_list_sweep_reads_r_and_x_as_z_prime_and_z_double_prime(meter):
    assert meter.identity.maker == "Keysight Technologies"
    meter.configure(LIST_HZ, level_v=0.05)
    assert meter.resource.query(":VOLT:LEV?").strip() == "+5.000000E-02"
    sweep = meter.measure(started_at=T0)
    assert sweep.fmt == "scpi" and sweep.started_at == T0
    assert sweep.frequencies_hz.tolist() == sorted(LIST_HZ)
    z = randles(sweep.frequencies_hz)
    ok = ~np.isnan(sweep.z_real_ohm)
    assert ok.tolist() == [True, False, True, True, True]  # 100 Hz point: status +1 overload
    assert np.allclose(sweep.z_real_ohm[ok], z.real[ok], rtol=1e-5)
    assert np.allclose(sweep.z_imag_ohm[ok], z.imag[ok], rtol=1e-5)
    assert sweep.flags == ("scpi_status_1",)
    assert dict(sweep.meta)["instrument"] == "Keysight Technologies E4980A"


def test_driver_sweeps_travel_as_readings_with_their_flags(meter):
    meter.configure(LIST_HZ)
    sweep = meter.measure()
    d = descriptor_for(sweep, run_id="r1", sensor_id="lcr1", t=T0)
    r = reading_for(sweep, d, seq=0, t=T0)
    assert r.flags == ["scpi_status_1"] and np.isnan(r.values[1])


def test_a_list_the_meter_does_not_measure_is_a_count_error(meter):
    meter.configure([2e5, 2e4, 2e3])
    with pytest.raises(ScpiError, match=r"has 20 numbers, expected 12 \(R, X, status, bin"):
        meter.measure()


def test_start_stop_points_becomes_a_log_list(meter):
    meter.configure_log_sweep(1e5, 10.0, 5)
    assert meter.resource.query(":LIST:FREQ?").strip() == ",".join(f"{x:+.5E}" for x in LIST_HZ)
    assert meter.measure().n_points == 5
    with pytest.raises(ValueError, match="two different frequencies above 0 Hz"):
        meter.configure_log_sweep(10.0, 10.0, 5)


def test_measure_before_configure(meter):
    with pytest.raises(ScpiError, match="call configure"):
        meter.measure()


@pytest.mark.parametrize(
    ("freqs", "level", "message"),
    [
        ([1e3, 1e2], 0.01, "expected 3..201 frequencies"),
        ([1e3, 1e3, 1e2], 0.01, "distinct finite frequencies above 0 Hz"),
        ([1e3, 0.0, 1e2], 0.01, "distinct finite frequencies above 0 Hz"),
        ([1e3, 1e2, 10], 50.0, "level_v"),
    ],
)
def test_configuration_is_validated_before_anything_is_sent(meter, freqs, level, message):
    with pytest.raises(ValueError, match=message):
        meter.configure(freqs, level_v=level)


def test_a_malformed_reply_names_the_command_and_field():
    m = LcrListSweep.open(MALFORMED, visa_library=SIM, timeout_ms=200)
    m.configure([1e5, 1e4, 1e3])
    with pytest.raises(ScpiError, match=r"SIM0002::INSTR: reply to ':FETC\?': field 6 is 'OVLD'"):
        m.measure()


def test_a_silent_instrument_times_out_with_advice():
    m = LcrListSweep.open(SILENT, visa_library=SIM, timeout_ms=100)
    m.configure([1e5, 1e4, 1e3])
    with pytest.raises(ScpiError, match=r"no reply to ':FETC\?' within 100 ms: check the conn"):
        m.measure()


def test_an_error_in_the_queue_after_configuring_is_raised():
    m = LcrListSweep.open(ERRORED, visa_library=SIM, timeout_ms=200)
    with pytest.raises(ScpiError, match=r"instrument error -222 'Data out of range'"):
        m.configure([1e5, 1e4, 1e3])


@pytest.mark.filterwarnings("ignore:read string doesn't end with termination characters")
def test_an_unknown_address_is_an_error_naming_it():
    # real VISA refuses to open it ("cannot open the instrument ... found: ..."); pyvisa-sim
    # opens an empty device that answers nothing, which the *IDN? check catches
    with pytest.raises(ScpiError, match=r"^USB0::0x1::0x2::NOPE::INSTR: "):
        LcrListSweep.open("USB0::0x1::0x2::NOPE::INSTR", visa_library=SIM, timeout_ms=100)


class _Replies:
    """A message-based resource with scripted replies (for reply shapes no sim device has)."""

    timeout = 100

    def __init__(self, replies: dict[str, str]):
        self.replies = replies

    def query(self, command: str) -> str:
        return self.replies[command]

    def write(self, command: str) -> None:
        pass


@pytest.mark.parametrize(
    ("replies", "message"),
    [
        ({"*IDN?": "hello"}, "expected 'maker,model,serial,firmware'"),
        (
            {"*IDN?": "a,b,c,d", ":FUNC:IMP:TYPE?": "CPD"},
            "reply to ':FUNC:IMP:TYPE?' is 'CPD', expected 'RX'",
        ),
        (
            {"*IDN?": "a,b,c,d", ":FUNC:IMP:TYPE?": "RX", ":LIST:FREQ?": "1E5,1E4"},
            "holds 2 list frequencies",
        ),
        (
            {
                "*IDN?": "a,b,c,d",
                ":FUNC:IMP:TYPE?": "RX",
                ":LIST:FREQ?": "1E5,1E4,1E3",
                ":SYST:ERR?": "garbled",
            },
            "reply to ':SYST:ERR?' is 'garbled'",
        ),
    ],
)
def test_replies_of_the_wrong_shape(replies, message):
    with pytest.raises(ScpiError, match=re.escape(message)):
        LcrListSweep(_Replies(replies), "scripted").configure([1e5, 1e4, 1e3])
