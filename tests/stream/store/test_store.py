"""The embedded store: round trips, idempotent upserts, ordering, errors, readers, crashes."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthwatch.contract.messages import (
    Alert,
    Descriptor,
    Estimate,
    Label,
    Quantity,
    Reading,
    RunStart,
    RunStop,
    encode,
)
from synthwatch.stream.sinks.base import BackPressure, Sink
from synthwatch.stream.store.embedded import (
    SCHEMA_VERSION,
    DeadLetter,
    RunSummary,
    SchemaVersionError,
    Store,
    StoreError,
    UnknownRunError,
)

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
HERE = Path(__file__).parent


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run_start(run_id: str = "r1", **kw) -> RunStart:
    fields = dict(
        reactor="R1",
        system="Au-citrate",
        recipe={"HAuCl4_mM": 0.25, "citrate_ratio": 3, "stir": True, "note": "x", "big": math.inf},
        operator="ada",
        tags={"site": "lab2"},
    )
    fields.update(kw)
    return RunStart(run_id=run_id, t=at(0), **fields)


def descriptor(run_id: str = "r1", sensor_id: str = "uv1") -> Descriptor:
    return Descriptor(
        run_id=run_id,
        t=at(0),
        sensor_id=sensor_id,
        kind="uvvis",
        axis=[300.0 + 0.5 * i for i in range(601)],
        axis_units="nm",
        value_units="AU",
        path_length_cm=1.0,
        expected_interval_s=2.0,
        saturation_au=3.5,
    )


def reading(seq: int, run_id: str = "r1", sensor_id: str = "uv1", **kw) -> Reading:
    fields = dict(values=[seq + i / 3.0 for i in range(601)])
    fields.update(kw)
    return Reading(run_id=run_id, t=at(seq), sensor_id=sensor_id, seq=seq, **fields)


def estimate(t: float, model: str = "lspr", run_id: str = "r1", **kw) -> Estimate:
    fields = dict(
        sensor_id="uv1",
        seq=int(t),
        model_version="1.2",
        measurement="uvvis_features",
        quantities=[
            Quantity(name="lspr_nm", value=520.1 + t, units="nm", uncertainty=0.3),
            Quantity(name="a_max_AU", value=None, units="AU"),
        ],
        flags=["baseline_drift"],
    )
    fields.update(kw)
    return Estimate(run_id=run_id, t=at(t), model=model, **fields)


def alert(t: float, state: str = "firing", sensor_id: str | None = "uv1", **kw) -> Alert:
    fields = dict(
        rule="size_out_of_spec",
        severity="warning",
        values={"d_mean_nm": 21.5, "limit_nm": 20.0},
        message="mean size 21.5 nm above 20 nm: check the citrate dose",
    )
    fields.update(kw)
    return Alert(run_id="r1", t=at(t), state=state, sensor_id=sensor_id, **fields)


def label(sample_t: float, value: float = 14.2) -> Label:
    return Label(
        run_id="r1",
        t=at(3600),
        sample_t=at(sample_t),
        quantity="d_mean_nm",
        value=value,
        uncertainty=1.1,
        units="nm",
        method="TEM",
    )


def same_reading(a: Reading, b: Reading) -> bool:
    """Equal including NaN and ±inf, bit for bit in every array (NaN payloads aside)."""

    def arr(x):  # every NaN is the one missing-point marker; all else bit for bit
        if x is None:
            return None
        a = np.asarray(x, dtype="<f8").copy()
        a[np.isnan(a)] = np.nan
        return a.tobytes()

    fields = ("values", "values_imag", "counts", "dark", "reference")
    return (a.run_id, a.sensor_id, a.seq, a.t, a.flags) == (
        b.run_id,
        b.sensor_id,
        b.seq,
        b.t,
        b.flags,
    ) and all(arr(getattr(a, f)) == arr(getattr(b, f)) for f in fields)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "sub" / "dir" / "store.db"  # parent folders are created


@pytest.fixture
def store(path: Path):
    with Store(path, commit_interval_s=60) as s:
        yield s


# ---------------------------------------------------------------- sink base


def test_sink_base_and_backpressure():
    class Memory(Sink):
        def __init__(self):
            self.items, self.durable, self.opened = [], [], False

        def setup(self):
            self.opened = True

        def add(self, message):
            if len(self.items) >= 1:
                raise BackPressure(0.25, "full")
            self.items.append(message)

        def flush(self):
            self.durable = list(self.items)

    with Memory() as sink:
        assert sink.opened
        sink.add(run_start())
        with pytest.raises(BackPressure) as info:
            sink.add(run_start("r2"))
        assert info.value.retry_after == 0.25 and "0.25 s" in str(info.value)
        sink.add_deadletter(b"x", "bad", "test")  # default: ignored
    assert sink.durable == [run_start()]  # close() flushed
    with pytest.raises(ValueError):
        BackPressure(-1)


def test_constructor_does_no_io(path: Path):
    s = Store(path)
    assert not path.exists() and not path.parent.exists()
    assert "closed" in repr(s)
    with pytest.raises(StoreError, match="not open"):
        s.add(run_start())


# ---------------------------------------------------------------- round trips


def test_round_trip_every_message_type(store: Store):
    start = run_start()
    desc = descriptor()
    r_nan = reading(
        0,
        values=[0.1, None, math.inf, -math.inf, 5e-324, 1 / 3],
        values_imag=[1.0, 2.0, None, 4.0, 5.0, 6.0],
        counts=[1e5] * 6,
        dark=[10.0] * 6,
        reference=[2e5] * 6,
        flags=["saturated", "dark_drift"],
    )
    r_plain = reading(1)
    est = estimate(1)
    est2 = estimate(1, model="mie_psd", measurement="psd", sensor_id="uv1", seq=None, flags=[])
    al = alert(5)
    al_none = alert(6, sensor_id=None, rule="stale_data", severity="critical")
    lab = label(1800)
    stop = RunStop(run_id="r1", t=at(7200), status="success", reason="done")
    for m in (start, desc, r_nan, r_plain, est, est2, al, al_none, lab, stop):
        store.add(m)
    store.flush()

    assert store.run_start("r1") == start
    assert store.run_stop("r1") == stop
    assert store.descriptors("r1") == [desc]
    got = list(store.readings("r1"))
    assert len(got) == 2
    assert same_reading(got[0], r_nan) and same_reading(got[1], r_plain)
    assert got[1] == r_plain
    assert encode(got[0]) == encode(r_nan)
    assert store.estimates("r1") == [est, est2]  # same t: by model name
    assert store.alerts("r1") == [al, al_none]  # by time
    assert store.labels("r1") == [lab]
    summary = store.run("r1")
    assert summary == RunSummary(
        run_id="r1",
        reactor="R1",
        system="Au-citrate",
        t_start=at(0),
        t_stop=at(7200),
        status="success",
        reason="done",
        n_readings=2,
        n_estimates=2,
        n_alerts=2,
        t_last=at(7200),
    )
    assert store.runs() == [summary]
    assert list(store.messages("r1")) == [start, desc, *got, lab, stop]


def test_readings_without_nan_equal_exactly(store: Store):
    # NaN comes back as math.nan, as the contract itself makes it, so == holds
    r = reading(3, values=[1.0, None, 2.0])
    store.add(r)
    assert list(store.readings("r1")) == [r]


def test_estimate_nonfinite_values_come_back_as_none(store: Store):
    """The contract turns NaN and ±inf into None ('could not be estimated'), as JSON would."""
    e = estimate(
        2,
        quantities=[
            Quantity(name="k_per_s", value=math.inf, units="1/s", uncertainty=None),
            Quantity(name="x", value=math.nan, units="1", uncertainty=-math.inf),
        ],
    )
    assert e.get("k_per_s").value is None and e.get("x").uncertainty is None
    store.add(e)
    (back,) = store.estimates("r1")
    assert back == e and back.get("k_per_s").value is None and back.get("x").value is None


def test_deadletters(store: Store):
    store.add_deadletter(b'{"schema": "nope"}', "unknown schema 'nope'", "worker")
    store.add_deadletter(b'{"schema": "nope"}', "unknown schema 'nope'", "worker")  # again
    store.add_deadletter("not json", "message: not valid JSON", "collector:uv1")
    letters = store.deadletters()
    assert [(d.raw, d.reason, d.source) for d in letters] == [
        (b'{"schema": "nope"}', "unknown schema 'nope'", "worker"),
        (b"not json", "message: not valid JSON", "collector:uv1"),
    ]
    assert all(isinstance(d, DeadLetter) and d.time.tzinfo is not None for d in letters)
    assert [d.raw for d in store.deadletters(limit=1)] == [b"not json"]
    assert store.count("deadletters") == 2


def test_add_refuses_non_messages(store: Store):
    with pytest.raises(TypeError, match="dict"):
        store.add({"schema": "synthwatch.reading/1"})


# ---------------------------------------------------------------- idempotency


def test_same_reading_twice_leaves_one_row_with_last_values(store: Store):
    store.add(reading(0))
    store.add(reading(0, values=[9.0] * 601))
    store.flush()
    store.add(reading(0, values=[7.0] * 601))  # in a later transaction
    assert store.count("readings", "r1") == 1
    (back,) = store.readings("r1")
    assert back.values == [7.0] * 601


def test_same_estimate_identity_twice_leaves_one_row(store: Store):
    store.add(estimate(1))
    # same identity: run, model, quantity *set* (order does not matter), t
    e2 = estimate(
        1,
        model_version="1.3",
        quantities=[
            Quantity(name="a_max_AU", value=0.9, units="AU"),
            Quantity(name="lspr_nm", value=519.0, units="nm"),
        ],
    )
    store.add(e2)
    store.add(estimate(1, model="other"))  # another model: another estimate
    store.add(  # another quantity set: another estimate
        estimate(1, quantities=[Quantity(name="lspr_nm", value=1.0, units="nm")])
    )
    store.add(estimate(1.5))  # another time
    assert store.count("estimates", "r1") == 4
    assert e2 in store.estimates("r1", model="lspr")


def test_same_alert_twice_leaves_one_row(store: Store):
    for _ in range(2):
        store.add(alert(5))
        store.add(alert(5, sensor_id=None))  # None sensor is a key too, not NULL != NULL
        store.add(alert(9, state="resolved", message="back in spec"))
    assert store.count("alerts", "r1") == 3
    store.add(alert(5, severity="critical"))
    assert [a.severity for a in store.alerts("r1") if a.sensor_id == "uv1"][0] == "critical"
    assert store.count("alerts", "r1") == 3


def test_labels_descriptors_runs_upsert(store: Store):
    store.add(label(100))
    store.add(label(100, value=15.0))
    store.add(descriptor())
    store.add(descriptor())
    store.add(run_start())
    store.add(run_start(reactor="R2"))
    assert [lab.value for lab in store.labels("r1")] == [15.0]
    assert len(store.descriptors("r1")) == 1
    assert store.run("r1").reactor == "R2" and store.count("runs") == 1


def test_run_stop_before_run_start_keeps_the_stop(store: Store):
    store.add(RunStop(run_id="r9", t=at(10), status="aborted", reason="power"))
    assert store.run("r9").status == "aborted"
    with pytest.raises(UnknownRunError):
        store.run_start("r9")
    store.add(run_start("r9"))
    s = store.run("r9")
    assert (s.status, s.reason, s.reactor, s.t_start) == ("aborted", "power", "R1", at(0))


def test_run_with_data_but_no_start_is_listed(store: Store):
    store.add(reading(4, run_id="orphan"))
    s = store.run("orphan")
    assert (s.status, s.reactor, s.n_readings, s.t_last) == ("unknown", None, 1, at(4))
    assert list(store.messages("orphan")) == [reading(4, run_id="orphan")]


# ---------------------------------------------------------------- ordering & queries


def test_readings_ordered_by_sensor_then_seq_and_streamed(store: Store):
    import synthwatch.stream.store.embedded as store_module

    order = [(s, q) for q in (5, 1, 3, 0, 4, 2) for s in ("uv2", "uv1", "t1")]
    for s, q in order:
        store.add(reading(q, sensor_id=s, values=[float(q)]))
    store.add(reading(0, run_id="r2"))
    got = [(r.sensor_id, r.seq) for r in store.readings("r1")]
    assert got == sorted(order)
    assert [r.seq for r in store.readings("r1", "uv2")] == [0, 1, 2, 3, 4, 5]
    assert list(store.readings("r1", "nope")) == []
    assert list(store.readings("nope")) == []
    # pages smaller than the data: same answer
    old = store_module._PAGE_ROWS
    store_module._PAGE_ROWS = 4
    try:
        assert [(r.sensor_id, r.seq) for r in store.readings("r1")] == sorted(order)
    finally:
        store_module._PAGE_ROWS = old
    by_time = [(r.t, r.sensor_id) for r in store.readings_by_time("r1")]
    assert by_time == sorted(by_time) and len(by_time) == len(order)
    assert store.count("readings", "r1", "uv1") == 6


def test_readings_iterator_survives_writes_in_between(store: Store):
    for q in range(10):
        store.add(reading(q, values=[1.0]))
    import synthwatch.stream.store.embedded as store_module

    old = store_module._PAGE_ROWS
    store_module._PAGE_ROWS = 3
    try:
        seen = []
        for r in store.readings("r1"):
            seen.append(r.seq)
            if r.seq == 2:
                store.add(reading(100, values=[1.0]))
                store.add(reading(1, values=[2.0]))  # behind the position: not seen again
                store.flush()
    finally:
        store_module._PAGE_ROWS = old
    assert seen == [*range(10), 100]


def test_estimates_in_time_order_and_filters(store: Store):
    for t in (5, 1, 3):
        store.add(estimate(t))
        store.add(estimate(t, model="mie", measurement="psd"))
    assert [e.t for e in store.estimates("r1")] == [at(1), at(1), at(3), at(3), at(5), at(5)]
    assert [e.model for e in store.estimates("r1", measurement="psd")] == ["mie"] * 3
    assert len(store.estimates("r1", model="lspr", measurement="psd")) == 0
    assert store.estimates("other") == []


def test_unknown_run_error_names_run_and_suggests_runs(store: Store):
    with pytest.raises(UnknownRunError) as info:
        store.run("r404")
    err = info.value
    assert isinstance(err, KeyError) and err.run_id == "r404"
    assert "'r404'" in str(err) and "synthwatch runs" in str(err) and str(store.path) in str(err)
    with pytest.raises(KeyError):
        store.run_start("r404")
    with pytest.raises(UnknownRunError):
        store.run_stop("r404")
    with pytest.raises(UnknownRunError):
        list(store.messages("r404"))


def test_count_refuses_unknown_tables(store: Store):
    with pytest.raises(ValueError, match="expected runs"):
        store.count("readings; DROP TABLE runs")
    with pytest.raises(ValueError):
        store.count("alerts", sensor_id="uv1")


def test_runs_sorted_by_start(store: Store):
    store.add(RunStart(run_id="b", t=at(10), reactor="R", system="Ag-citrate"))
    store.add(RunStart(run_id="a", t=at(20), reactor="R", system="Ag-citrate"))
    store.add(reading(0, run_id="c"))
    assert [r.run_id for r in store.runs()] == ["b", "a", "c"]


# ---------------------------------------------------------------- files and errors


def test_not_a_database_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"this is a lab notebook, not a database\n" * 200)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="not a SQLite database") as info:
            Store(bad, readonly=readonly).setup()
        assert str(bad) in str(info.value)
    assert bad.read_bytes().startswith(b"this is a lab notebook")  # untouched


def test_other_sqlite_database_is_refused(tmp_path: Path):
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a synthwatch store") as info:
        Store(other).setup()
    assert str(other) in str(info.value)


def test_folder_and_missing_file(tmp_path: Path):
    with pytest.raises(StoreError, match="folder"):
        Store(tmp_path).setup()
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError, match="no such store") as info:
        Store(missing, readonly=True).setup()
    assert str(missing) in str(info.value) and not missing.exists()


def test_newer_schema_is_refused(path: Path):
    with Store(path) as s:
        s.add(run_start())
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    for readonly in (False, True):
        with pytest.raises(SchemaVersionError, match="newer synthwatch") as info:
            Store(path, readonly=readonly).setup()
        assert str(path) in str(info.value)


def test_reopen_keeps_data_and_wal_settings(path: Path):
    with Store(path) as s:
        s.add(run_start())
        s.add(reading(0))
    with Store(path) as s:
        assert s.count("readings") == 1
        s.add(reading(1))
        con = s._conn
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert s.integrity_check() == ["ok"]
    with Store(path, readonly=True) as s:
        assert s.count("readings") == 2
        with pytest.raises(StoreError, match="read-only"):
            s.add(reading(2))


def test_close_twice_and_flush_when_closed(path: Path):
    s = Store(path)
    s.setup()
    s.setup()  # no-op
    s.add(reading(0))
    s.close()
    s.close()
    s.flush()  # nothing to do
    with Store(path, readonly=True) as r:
        assert r.count("readings") == 1


# ---------------------------------------------------------------- readers and commits


def test_reader_sees_committed_data_while_writer_is_open(path: Path):
    with Store(path, commit_interval_s=60) as writer:
        writer.add(run_start())
        writer.flush()
        with Store(path, readonly=True) as reader:
            assert reader.run("r1").n_readings == 0
            writer.add(reading(0))
            assert writer.count("readings") == 1  # the writer sees its own transaction
            assert reader.count("readings") == 0  # not committed yet
            writer.flush()
            assert reader.count("readings") == 1
            assert [r.seq for r in reader.readings("r1")] == [0]
            writer.add(reading(1))
            writer.flush()
            assert reader.run("r1").n_readings == 2


def test_commits_by_batch_size_and_by_time(path: Path):
    with Store(path, commit_interval_s=60, batch_size=3) as writer:
        with Store(path, readonly=True) as reader:
            writer.add(reading(0))
            writer.add(reading(1))
            assert reader.count("readings") == 0
            writer.add(reading(2))  # batch full: committed
            assert reader.count("readings") == 3
    with Store(path, commit_interval_s=0.1) as writer:
        with Store(path, readonly=True) as reader:
            writer.add(reading(10))
            # no further add(): the background committer commits it
            deadline = time.monotonic() + 5
            while reader.count("readings") < 4 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert reader.count("readings") == 4
            assert time.monotonic() < deadline


def test_writer_usable_from_another_thread(path: Path):
    import threading

    with Store(path) as s:
        t = threading.Thread(target=lambda: [s.add(reading(q)) for q in range(5)])
        t.start()
        t.join()
        assert s.count("readings") == 5


# ---------------------------------------------------------------- property


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
reading_specs = st.lists(
    st.tuples(
        st.sampled_from(["uv1", "uv2", "temp"]),
        st.integers(min_value=0, max_value=12),
        st.lists(finite_or_not, min_size=1, max_size=5),
        st.booleans(),  # flush after this one
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=reading_specs, batch_size=st.integers(min_value=1, max_value=7))
def test_property_unique_keys_last_write_wins(specs, batch_size):
    expected: dict[tuple[str, int], Reading] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "p.db", batch_size=batch_size) as s:
            for i, (sensor, seq, values, flush) in enumerate(specs):
                r = Reading(
                    run_id="r1",
                    t=at(i),
                    sensor_id=sensor,
                    seq=seq,
                    values=values,
                    flags=[f"w{i}"],
                )
                s.add(r)
                expected[(sensor, seq)] = r
                if flush:
                    s.flush()
        with Store(Path(tmp) / "p.db", readonly=True) as s:
            got = list(s.readings("r1"))
    assert [(r.sensor_id, r.seq) for r in got] == sorted(expected)
    for r in got:
        assert same_reading(r, expected[(r.sensor_id, r.seq)])


# ---------------------------------------------------------------- crash


def _spectrum(seq: int) -> list[float]:
    sys.path.insert(0, str(HERE))
    try:
        from store_crash_writer import spectrum
    finally:
        sys.path.pop(0)
    return spectrum(seq)


@pytest.mark.slow
def test_kill_9_loses_at_most_the_last_second(tmp_path: Path):
    path = tmp_path / "crash.db"
    script = HERE / "store_crash_writer.py"
    for round_ in range(3):  # same file each round: also recovers after the previous crash
        run_id = f"crash{round_}"
        log_path = tmp_path / f"{run_id}.log"
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), run_id, str(log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 20
            while not (log_path.exists() and log_path.read_text().startswith("ready")):
                assert child.poll() is None, child.stderr.read().decode()
                assert time.monotonic() < deadline, "writer did not start"
                time.sleep(0.02)
            time.sleep(1.0)
            # another process reads while the writer writes
            with Store(path, readonly=True) as reader:
                seen_live = reader.count("readings", run_id)
            time.sleep(1.0)
            kill_time = time.time()
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:  # pragma: no cover
                child.kill()
                child.wait()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL

        logged = {}
        for line in log_path.read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) == 2:  # the last line may be torn by the kill
                logged[int(parts[0])] = float(parts[1])
        assert len(logged) > 500, "the writer wrote too little to test anything"
        assert seen_live > 0, "a reader saw nothing while the writer ran"

        with Store(path) as store:
            assert store.integrity_check() == ["ok"]
            seqs = [r.seq for r in store.readings(run_id)]
            n = len(seqs)
            assert seqs == list(range(n)), "stored readings are not a gap-free prefix"
            # nothing beyond what was written (the one add in flight may not be logged yet)
            assert n <= max(logged) + 2
            missing_times = [t for q, t in logged.items() if q >= n]
            assert not missing_times or min(missing_times) > kill_time - 1.0, (
                f"lost readings written {kill_time - min(missing_times):.2f} s before the kill"
            )
            last = store.readings(run_id, "uv1")
            for r in last:
                if r.seq in (0, n - 1):
                    assert r.values == _spectrum(r.seq)
            assert store.run(run_id).status == "running"


def test_estimate_with_distribution_round_trips(store: Store):
    from synthwatch.contract.messages import Distribution

    dist = Distribution(
        quantity="number_per_ml",
        units="mL^-1",
        axis_name="d_nm",
        axis_units="nm",
        axis=[10.0, 12.0, 14.5],
        values=[1e11, 3e11, 5e10],
        uncertainties=[1e10, 2e10, 1e10],
    )
    e = estimate(3).model_copy(update={"distribution": dist})
    store.add(e)
    store.add(e)  # idempotent
    (back,) = store.estimates("r1")
    assert back == e and back.distribution == dist
