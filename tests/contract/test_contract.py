"""The message contract: round trips, refusals that name the field, schema versions, drift."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthwatch.contract import messages as c
from synthwatch.contract.schemas import schema_documents

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
WL = [300.0 + i for i in range(16)]


def examples() -> list[c.Message]:
    return [
        c.RunStart(
            run_id="r1",
            t=T0,
            reactor="R1",
            system="Au-citrate",
            recipe={"HAuCl4_mM": 0.25, "T_degC": 100, "stirred": True, "note": "x"},
            operator="ana",
            tags={"campaign": "c7"},
        ),
        c.Descriptor(
            run_id="r1",
            t=T0,
            sensor_id="uv1",
            kind="uvvis",
            axis=WL,
            axis_units="nm",
            value_units="AU",
            path_length_cm=1.0,
            expected_interval_s=2.0,
        ),
        c.Descriptor(
            run_id="r1",
            t=T0,
            sensor_id="z1",
            kind="impedance",
            axis=[10.0, 100.0, 1e3],
            axis_units="Hz",
            value_units="ohm",
            cell_constant_per_cm=0.8,
        ),
        c.Descriptor(
            run_id="r1",
            t=T0,
            sensor_id="temp",
            kind="scalar",
            value_units="degC",
            quantity="temperature",
        ),
        c.Reading(
            run_id="r1",
            t=T0,
            sensor_id="uv1",
            seq=3,
            values=[0.1] * 15 + [math.nan],
            flags=["lamp_warming"],
        ),
        c.Reading(
            run_id="r1",
            t=T0,
            sensor_id="z1",
            seq=0,
            values=[1.0, 2.0, 3.0],
            values_imag=[-1.0, -2.0, -3.0],
        ),
        c.Label(
            run_id="r1",
            t=T0 + timedelta(hours=5),
            sample_t=T0,
            quantity="d_mean_nm",
            value=15.2,
            uncertainty=1.1,
            units="nm",
            method="TEM",
        ),
        c.Estimate(
            run_id="r1",
            t=T0,
            sensor_id="uv1",
            seq=3,
            model="uvvis_features",
            model_version="1",
            measurement="uvvis_features",
            quantities=[
                c.Quantity(name="d_haiss_nm", value=15.0, units="nm", uncertainty=1.7),
                c.Quantity(name="fwhm_nm", value=None, units="nm"),
            ],
            flags=["no_peak"],
        ),
        c.Alert(
            run_id="r1",
            t=T0,
            rule="flagged_frames:uv1",
            severity="warning",
            state="firing",
            sensor_id="uv1",
            values={"flagged_fraction": 0.3},
            message="check the cell",
        ),
        c.RunStop(run_id="r1", t=T0, status="aborted", reason="power cut"),
    ]


def same(a: c.Message, b: c.Message) -> bool:
    """Equality that treats NaN == NaN (a missing point stays missing)."""
    return json.loads(c.encode(a)) == json.loads(c.encode(b))


@pytest.mark.parametrize("msg", examples(), ids=lambda m: type(m).__name__)
def test_round_trip(msg):
    back = c.decode(c.encode(msg))
    assert type(back) is type(msg)
    assert same(back, msg)
    assert c.validate(json.loads(c.encode(msg))) is not None


def test_nan_travels_as_null_and_back():
    r = examples()[4]
    raw = json.loads(c.encode(r))
    assert raw["values"][-1] is None
    assert raw["schema"] == "synthwatch.reading/1"
    assert math.isnan(c.decode(c.encode(r)).values[-1])


def test_times_are_normalised_to_utc():
    cet = timezone(timedelta(hours=1))
    r = c.RunStop(run_id="r1", t=datetime(2026, 1, 1, 10, tzinfo=cet), status="success")
    assert r.t == datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    assert r.t.tzinfo == timezone.utc


def reading_json(**override) -> bytes:
    raw = {
        "schema": "synthwatch.reading/1",
        "run_id": "r1",
        "t": "2026-01-01T00:00:00Z",
        "sensor_id": "uv1",
        "seq": 1,
        "values": [0.1, 0.2],
    }
    raw.update(override)
    return json.dumps({k: v for k, v in raw.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    "override, field, words",
    [
        ({"values": [0.1, "abc"]}, "values.1", "valid number"),
        ({"seq": -1}, "seq", "greater than or equal to 0"),
        ({"seq": ...}, "seq", "Field required"),
        ({"t": "2026-01-01T00:00:00"}, "t", "timezone"),
        ({"run_id": "has space"}, "run_id", "pattern"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"values": []}, "values", "at least 1"),
        ({"values_imag": [1.0]}, "values_imag", "expected 2 values"),
    ],
)
def test_malformed_message_names_field_and_expectation(override, field, words):
    with pytest.raises(c.ContractError) as info:
        c.decode(reading_json(**override))
    assert info.value.field == field
    assert words in str(info.value)
    assert "Reading" in str(info.value)


def test_unknown_schema_version_is_refused_by_name():
    with pytest.raises(c.ContractError) as info:
        c.decode(reading_json(schema="synthwatch.reading/2"))
    text = str(info.value)
    assert "'synthwatch.reading/2'" in text and "synthwatch.reading/1" in text
    assert info.value.field == "schema"
    with pytest.raises(c.ContractError, match="unknown schema 'acme.thing/1'"):
        c.decode(reading_json(schema="acme.thing/1"))
    with pytest.raises(c.ContractError, match="unknown schema 'synthwatch.reading/2'"):
        c.validate(json.loads(reading_json(schema="synthwatch.reading/2")))


@pytest.mark.parametrize(
    "data, words",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'"text"', "expected a JSON object"),
        (b'{"run_id": "r1"}', "'schema': missing"),
    ],
)
def test_not_a_message(data, words):
    with pytest.raises(c.ContractError, match=words):
        c.decode(data)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(kind="uvvis", axis=[3.0, 2.0, 1.0], axis_units="nm"), "strictly increasing"),
        (dict(kind="uvvis", axis=WL, axis_units="nm"), "path_length_cm"),
        (dict(kind="uvvis", axis=WL, axis_units="Hz", path_length_cm=1.0), "nm"),
        (dict(kind="impedance", axis=[0.0, 1.0, 2.0], axis_units="Hz"), "above 0 Hz"),
        (dict(kind="scalar", axis=[1.0]), "no axis"),
    ],
)
def test_descriptor_rules(kwargs, words):
    with pytest.raises(ValueError, match=words):
        c.Descriptor(run_id="r1", t=T0, sensor_id="s", value_units="AU", **kwargs)


def test_estimate_identity_ignores_quantity_order():
    e = examples()[7]
    swapped = e.model_copy(update={"quantities": list(reversed(e.quantities))})
    assert e.identity == swapped.identity == ("r1", "uvvis_features", "d_haiss_nm,fwhm_nm", T0)
    assert e.get("d_haiss_nm").value == 15.0
    with pytest.raises(KeyError, match="has"):
        e.get("nope")


def test_messages_are_frozen():
    with pytest.raises(ValueError):
        examples()[0].run_id = "other"  # type: ignore[misc]


def test_json_schemas_have_not_drifted():
    """`python -m synthwatch.contract.schemas` regenerates contract/json_schemas/ after a change."""
    folder = Path(__file__).resolve().parents[2] / "contract" / "json_schemas"
    committed = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.json")}
    assert committed == schema_documents(), (
        "the contract changed: run `python -m synthwatch.contract.schemas` and commit "
        "contract/json_schemas/"
    )


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
values = st.lists(st.one_of(finite, st.just(math.nan)), min_size=1, max_size=50)


@settings(max_examples=200, deadline=None)
@given(values=values, seq=st.integers(0, 2**53), flags=st.lists(st.text(max_size=10), max_size=3))
def test_any_valid_reading_round_trips(values, seq, flags):
    r = c.Reading(run_id="r1", t=T0, sensor_id="uv1", seq=seq, values=values, flags=flags)
    assert same(c.decode(c.encode(r)), r)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_decoder_never_fails_other_than_by_contract_error(data):
    try:
        c.decode(data)
    except c.ContractError as err:
        assert str(err)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["schema", "run_id", "t", "sensor_id", "seq", "values", "flags", "extra"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.floats(), max_size=3)),
        max_size=8,
    )
)
def test_random_objects_are_refused_with_a_named_field(obj):
    obj.setdefault("schema", "synthwatch.reading/1")
    try:
        c.decode(json.dumps(obj).encode())
    except c.ContractError as err:
        assert err.field is not None or "message" in str(err)
