"""The message contract: every message that moves between the parts of synthwatch.

A run is opened (:class:`RunStart`), its sensors are described once (:class:`Descriptor`),
readings follow (:class:`Reading`), reference measurements may arrive late (:class:`Label`),
models publish :class:`Estimate` and :class:`Alert` messages, and the run is closed
(:class:`RunStop`). Every message carries ``schema`` (name and version, e.g.
``synthwatch.reading/1``), ``run_id`` and ``t`` (event time, UTC).

This module imports nothing else of synthwatch: ``models/``, ``collectors/`` and
``dashboards/`` depend on it alone (checked by the import-linter contract in the test suite).

Unknown fields are refused, every field is described, and the JSON schema of each message is
generated into ``stream/schemas/`` (a test fails when it drifts from the code).

>>> from datetime import datetime, timezone
>>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
>>> msg = Reading(run_id="r1", t=t0, sensor_id="uv1", seq=0, values=[0.1, None, 0.3])
>>> back = decode(encode(msg))
>>> back == msg, back.schema_id
(True, 'synthwatch.reading/1')
>>> try:
...     decode(b'{"schema": "synthwatch.reading/9", "run_id": "r1"}')
... except ContractError as err:
...     print(err)
unknown schema 'synthwatch.reading/9': this synthwatch reads synthwatch.reading/1
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from synthwatch.contract.errors import SynthwatchError

__all__ = [
    "ContractError",
    "RunStart",
    "Descriptor",
    "Reading",
    "Label",
    "Quantity",
    "Distribution",
    "Estimate",
    "Alert",
    "RunStop",
    "Message",
    "MESSAGE_TYPES",
    "SCHEMAS",
    "SYSTEMS",
    "encode",
    "decode",
    "validate",
    "now_utc",
]

#: Chemistry systems the models know about. Others are accepted, but no model is attached.
SYSTEMS = ("Au-citrate", "Ag-citrate", "SiO2-Stober")

#: The counters of a run's ``pipeline_health`` estimate (quantities ``<name>_count``), in order;
#: the worker writes them when a run stops and the dashboards read them.
HEALTH_COUNTERS = (
    "received",
    "processed",
    "duplicates",
    "late",
    "deadlettered",
    "flagged",
    "model_errors",
)

_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
_ID_HELP = "1-128 characters: letters, digits, '_', '.', ':', '-', starting with a letter or digit"

#: A list of numbers where a non-finite value (NaN, ±inf) travels as JSON null, a missing point.
Values = Annotated[
    list[float],
    WithJsonSchema({"type": "array", "items": {"type": ["number", "null"]}}),
]

RunId = Annotated[str, Field(pattern=_ID_PATTERN, description=f"Run identifier ({_ID_HELP}).")]
SensorId = Annotated[
    str, Field(pattern=_ID_PATTERN, description=f"Sensor identifier within the run ({_ID_HELP}).")
]


class ContractError(SynthwatchError, ValueError):
    """A message that does not follow the contract.

    ``field`` is the dotted path of the offending field (``values.3``), or ``None`` when the
    message as a whole is wrong (not JSON, unknown schema); ``expected`` says what was expected.
    """

    def __init__(self, message: str, *, field: str | None = None, expected: str | None = None):
        super().__init__(message)
        self.field = field
        self.expected = expected


def now_utc() -> datetime:
    """The current time, timezone-aware in UTC (for collectors; models never read clocks)."""
    return datetime.now(timezone.utc)


def _nan_to_none(values: list[float] | None) -> list[float | None] | None:
    if values is None:
        return None
    return [None if (v is None or math.isnan(v)) else v for v in values]


class _Message(BaseModel):
    """Fields and rules shared by every message."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        ser_json_inf_nan="null",
        str_strip_whitespace=False,
    )

    run_id: RunId
    t: AwareDatetime = Field(description="Event time (when it happened, not when it arrived), UTC.")

    @field_validator("t")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(timezone.utc)


def _schema_field(name: str) -> Any:
    return Field(
        default=name,
        alias="schema",
        description=f"Message schema and version; always '{name}' for this message.",
    )


class RunStart(_Message):
    """Opens a run: which reactor, which chemistry, which recipe."""

    schema_id: Literal["synthwatch.run_start/1"] = _schema_field("synthwatch.run_start/1")
    reactor: str = Field(min_length=1, max_length=128, description="Reactor or vessel name.")
    system: str = Field(
        min_length=1,
        max_length=64,
        description="Chemistry system, e.g. 'Au-citrate', 'Ag-citrate', 'SiO2-Stober'.",
    )
    recipe: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        description="Recipe parameters, flat: name (with units, e.g. 'HAuCl4_mM') to value.",
    )
    operator: str | None = Field(default=None, max_length=128, description="Who runs it.")
    tags: dict[str, str] = Field(default_factory=dict, description="Free tags.")


class Descriptor(_Message):
    """Describes one sensor of a run once: its kind, its fixed axis and its units."""

    schema_id: Literal["synthwatch.descriptor/1"] = _schema_field("synthwatch.descriptor/1")
    sensor_id: SensorId
    kind: Literal["uvvis", "impedance", "scalar"] = Field(description="Kind of sensor.")
    axis: list[float] = Field(
        default_factory=list,
        description="Fixed axis of every reading: wavelengths in nm (uvvis), frequencies in Hz "
        "(impedance), empty for scalar sensors. Strictly increasing.",
    )
    axis_units: Literal["nm", "Hz", ""] = Field(default="", description="Units of the axis.")
    value_units: str = Field(
        description="Units of the values: 'AU' (absorbance), 'ohm' (impedance), 'degC', ..."
    )
    quantity: str = Field(
        default="",
        max_length=64,
        description="For scalar sensors: what is measured (e.g. 'temperature').",
    )
    path_length_cm: float | None = Field(
        default=None, gt=0, description="Optical path length of a uvvis cell, cm."
    )
    cell_constant_per_cm: float | None = Field(
        default=None, gt=0, description="Cell constant of an impedance cell, 1/cm."
    )
    expected_interval_s: float | None = Field(
        default=None, gt=0, description="Nominal time between readings, s."
    )
    saturation_au: float | None = Field(
        default=None, gt=0, description="Absorbance above which the detector saturates, AU."
    )

    @model_validator(mode="after")
    def _check_kind(self) -> Descriptor:
        axis = self.axis
        if any(not math.isfinite(a) for a in axis):
            raise ValueError("axis: expected finite numbers only")
        if any(b <= a for a, b in zip(axis, axis[1:])):
            raise ValueError("axis: expected strictly increasing values")
        if self.kind == "uvvis":
            if len(axis) < 8 or self.axis_units != "nm":
                raise ValueError("axis: a uvvis sensor needs at least 8 wavelengths in 'nm'")
            if self.path_length_cm is None:
                raise ValueError("path_length_cm: a uvvis sensor needs its path length in cm")
        elif self.kind == "impedance":
            if len(axis) < 3 or self.axis_units != "Hz":
                raise ValueError("axis: an impedance sensor needs at least 3 frequencies in 'Hz'")
            if axis[0] <= 0:
                raise ValueError("axis: expected frequencies above 0 Hz")
        elif axis:
            raise ValueError("axis: a scalar sensor has no axis (expected an empty list)")
        return self


class Reading(_Message):
    """One reading of one sensor, on its descriptor's axis.

    ``values`` holds absorbance (uvvis), Z' (impedance, with Z'' in ``values_imag``) or the one
    value of a scalar sensor. A missing point is ``null`` in JSON and NaN in numpy.
    """

    schema_id: Literal["synthwatch.reading/1"] = _schema_field("synthwatch.reading/1")
    sensor_id: SensorId
    seq: int = Field(ge=0, description="Per-sensor sequence number, increasing by one.")
    values: Values = Field(
        min_length=1, description="Values on the descriptor's axis; null marks a missing point."
    )
    values_imag: Values | None = Field(
        default=None, description="Imaginary part Z'' for impedance readings, ohm."
    )
    counts: Values | None = Field(default=None, description="Raw detector counts.")
    dark: Values | None = Field(default=None, description="Dark counts.")
    reference: Values | None = Field(default=None, description="Reference (blank) counts.")
    flags: list[str] = Field(default_factory=list, description="Quality flags from the source.")

    @field_validator("values", "values_imag", "counts", "dark", "reference", mode="before")
    @classmethod
    def _none_to_nan(cls, value: Any) -> Any:
        if isinstance(value, list):
            try:
                # a list of numbers has no None (sum raises TypeError on one); 4x cheaper than
                # `None in value`, whose == compares every float with None
                sum(value)
            except TypeError:
                if None in value:
                    return [math.nan if v is None else v for v in value]
        return value

    @model_validator(mode="after")
    def _same_lengths(self) -> Reading:
        n = len(self.values)
        for name in ("values_imag", "counts", "dark", "reference"):
            other = getattr(self, name)
            if other is not None and len(other) != n:
                raise ValueError(f"{name}: expected {n} values like 'values', got {len(other)}")
        return self


class Label(_Message):
    """A reference measurement that arrives late (TEM, DLS, ICP, ...).

    ``t`` is when the label arrived; ``sample_t`` is the event time of the sample it describes.
    """

    schema_id: Literal["synthwatch.label/1"] = _schema_field("synthwatch.label/1")
    sample_t: AwareDatetime = Field(description="Event time at which the sample was taken, UTC.")
    quantity: str = Field(min_length=1, max_length=64, description="e.g. 'd_mean_nm'.")
    value: float = Field(allow_inf_nan=False, description="Measured value, in `units`.")
    uncertainty: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    units: str = Field(description="Units of value and uncertainty, e.g. 'nm'.")
    method: str = Field(default="", max_length=64, description="e.g. 'TEM', 'DLS', 'ICP-MS'.")


class Quantity(BaseModel):
    """One estimated quantity with its units and (optional) standard uncertainty."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="null")

    name: str = Field(
        min_length=1, max_length=64, description="Name with units in it, e.g. 'd_mean_nm'."
    )
    value: float | None = Field(description="Value; null when it could not be estimated.")
    units: str = Field(description="Units, e.g. 'nm', 'AU', 'mM', '1'.")
    uncertainty: float | None = Field(
        default=None,
        description="Standard uncertainty (1 sd); the total when the parts below are given.",
    )
    uncertainty_noise: float | None = Field(
        default=None,
        description="Part of the uncertainty (1 sd) from the measurement noise alone.",
    )
    uncertainty_model: float | None = Field(
        default=None,
        description=(
            "Part of the uncertainty (1 sd) from the model's error (e.g. the spread across an "
            "ensemble of published optical constants); the total is the root sum of squares "
            "of the two parts."
        ),
    )
    lower: float | None = Field(
        default=None,
        description=(
            "Lower end of the 95 % interval when it is not value - 2 uncertainty (e.g. a "
            "parameter at a bound of its fit, from the profile likelihood)."
        ),
    )
    upper: float | None = Field(
        default=None,
        description="Upper end of the 95 % interval when it is not value + 2 uncertainty.",
    )

    @field_validator(
        "value",
        "uncertainty",
        "uncertainty_noise",
        "uncertainty_model",
        "lower",
        "upper",
        mode="before",
    )
    @classmethod
    def _not_finite_is_none(cls, value: Any) -> Any:
        """NaN or ±inf means 'could not be estimated': stored and sent as null."""
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value


class Distribution(BaseModel):
    """A distribution over an axis, e.g. the number of particles per diameter bin.

    ``values[i]`` belongs to the bin centred on ``axis[i]``; ``uncertainties``, if given, are
    1-sd per bin. Units are declared once here, like a descriptor's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="null")

    quantity: str = Field(
        min_length=1, max_length=64, description="What is distributed, e.g. 'number_per_ml'."
    )
    units: str = Field(description="Units of the values, e.g. 'mL^-1' (per bin).")
    axis_name: str = Field(min_length=1, max_length=64, description="e.g. 'd_nm'.")
    axis_units: str = Field(description="Units of the axis, e.g. 'nm'.")
    axis: list[float] = Field(min_length=1, description="Bin centres, strictly increasing.")
    values: list[float] = Field(min_length=1, description="Value per bin.")
    uncertainties: list[float] | None = Field(default=None, description="1-sd per bin.")

    @model_validator(mode="after")
    def _check(self) -> Distribution:
        n = len(self.axis)
        if any(not math.isfinite(a) for a in self.axis) or any(
            b <= a for a, b in zip(self.axis, self.axis[1:])
        ):
            raise ValueError("axis: expected finite, strictly increasing values")
        if len(self.values) != n:
            raise ValueError(f"values: expected {n} values like 'axis', got {len(self.values)}")
        if self.uncertainties is not None and len(self.uncertainties) != n:
            raise ValueError(
                f"uncertainties: expected {n} values like 'axis', got {len(self.uncertainties)}"
            )
        return self


class Estimate(_Message):
    """What a model estimated from one reading (or a window of them).

    Its identity is (run_id, model, the set of quantity names, t): a replay writes the same
    estimate again instead of a new one.
    """

    schema_id: Literal["synthwatch.estimate/1"] = _schema_field("synthwatch.estimate/1")
    sensor_id: SensorId
    seq: int | None = Field(default=None, ge=0, description="seq of the reading it came from.")
    model: str = Field(min_length=1, max_length=64, description="Model name.")
    model_version: str = Field(min_length=1, max_length=32, description="Model version.")
    measurement: str = Field(
        min_length=1,
        max_length=64,
        description="Where it lands: 'uvvis_features', 'psd', 'impedance_fit', 'kinetics', ...",
    )
    quantities: list[Quantity] = Field(min_length=1, description="The estimated quantities.")
    distribution: Distribution | None = Field(
        default=None, description="A distribution estimated with the quantities (e.g. the PSD)."
    )
    flags: list[str] = Field(default_factory=list, description="Quality flags.")

    def get(self, name: str) -> Quantity:
        """The quantity called ``name``; KeyError naming the ones there are otherwise."""
        for q in self.quantities:
            if q.name == name:
                return q
        raise KeyError(f"{name!r} not in estimate (has {[q.name for q in self.quantities]})")

    @property
    def identity(self) -> tuple[str, str, str, datetime]:
        """(run_id, model, sorted quantity names joined by ',', t)."""
        names = ",".join(sorted(q.name for q in self.quantities))
        return (self.run_id, self.model, names, self.t)


class Alert(_Message):
    """An alert rule changed state: firing or resolved."""

    schema_id: Literal["synthwatch.alert/1"] = _schema_field("synthwatch.alert/1")
    rule: str = Field(min_length=1, max_length=128, description="Rule name.")
    severity: Literal["info", "warning", "critical"]
    state: Literal["firing", "resolved"]
    sensor_id: str | None = Field(default=None, description="Sensor concerned, if one.")
    values: dict[str, float] = Field(
        default_factory=dict, description="The values that triggered it, by name with units."
    )
    message: str = Field(min_length=1, description="What happened and what to do, for a person.")


class RunStop(_Message):
    """Closes a run."""

    schema_id: Literal["synthwatch.run_stop/1"] = _schema_field("synthwatch.run_stop/1")
    status: Literal["success", "aborted", "failed"]
    reason: str = Field(default="", description="Why it stopped, for a person.")


MESSAGE_TYPES: tuple[type[_Message], ...] = (
    RunStart,
    Descriptor,
    Reading,
    Label,
    Estimate,
    Alert,
    RunStop,
)
Message = Union[RunStart, Descriptor, Reading, Label, Estimate, Alert, RunStop]

#: schema id ('synthwatch.reading/1') → message class
SCHEMAS: dict[str, type[_Message]] = {
    cls.model_fields["schema_id"].default: cls for cls in MESSAGE_TYPES
}
_NAMES = {sid.split("/")[0]: sid for sid in SCHEMAS}

_ADAPTER: TypeAdapter[Message] = TypeAdapter(Annotated[Message, Field(discriminator="schema_id")])


def _unknown_schema(schema: object) -> ContractError:
    if not isinstance(schema, str):
        return ContractError(
            f"field 'schema': expected a string such as 'synthwatch.reading/1', got {schema!r}",
            field="schema",
            expected="one of " + ", ".join(SCHEMAS),
        )
    known = _NAMES.get(schema.split("/")[0])
    if known:
        text = f"unknown schema {schema!r}: this synthwatch reads {known}"
    else:
        text = f"unknown schema {schema!r}: expected one of {', '.join(SCHEMAS)}"
    return ContractError(text, field="schema", expected=known or ", ".join(SCHEMAS))


def _from_validation_error(err: ValidationError, raw: Any) -> ContractError:
    first = err.errors(include_url=False)[0]
    loc = [str(p) for p in first["loc"]]
    if first["type"] == "union_tag_invalid" or first["type"] == "union_tag_not_found":
        schema = raw.get("schema") if isinstance(raw, dict) else None
        if first["type"] == "union_tag_not_found":
            return ContractError(
                "field 'schema': missing; expected one of " + ", ".join(SCHEMAS),
                field="schema",
                expected="one of " + ", ".join(SCHEMAS),
            )
        return _unknown_schema(schema)
    kind = ""
    if loc and loc[0] in SCHEMAS:
        kind = SCHEMAS[loc[0]].__name__ + " "
        loc = loc[1:]
    field = ".".join(loc) if loc else None
    got = first.get("input")
    got_text = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    msg = first["msg"]
    if first["type"] == "value_error" and msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        return ContractError(f"{kind}message: {msg}", field=msg.split(":")[0], expected=msg)
    where = f"field '{field}'" if field else "message"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return ContractError(
        f"{kind}{where}: {msg}, got {got_text}{more}", field=field, expected=first["msg"]
    )


def validate(data: dict[str, Any] | Message) -> Message:
    """Validate a dict (or re-validate a message) into the right message class."""
    if isinstance(data, BaseModel):
        data = data.model_dump(by_alias=True)
    if not isinstance(data, dict):
        raise ContractError(f"message: expected a JSON object, got {type(data).__name__}")
    schema = data.get("schema")
    if schema is not None and schema not in SCHEMAS:
        raise _unknown_schema(schema)
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as err:
        raise _from_validation_error(err, data) from None


def encode(msg: Message) -> bytes:
    """Serialise a message to JSON bytes (UTF-8); NaN becomes null."""
    return msg.model_dump_json(by_alias=True).encode()


def decode(data: bytes | str) -> Message:
    """Parse and validate JSON bytes into a message; :class:`ContractError` if they are wrong.

    The error names the field and what was expected, or the JSON offset for text that is not
    JSON, or the schema that is not known.
    """
    try:
        return _ADAPTER.validate_json(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise ContractError(
                f"message: not valid JSON ({first['msg']})", expected="a JSON object"
            ) from None
        try:
            raw = json.loads(data)
        except ValueError:  # pragma: no cover - validate_json already rejected invalid JSON
            raw = None
        if not isinstance(raw, dict):
            raise ContractError(
                f"message: expected a JSON object, got {type(raw).__name__}",
                expected="a JSON object",
            ) from None
        raise _from_validation_error(err, raw) from None
