"""The InfluxDB sink's disk spool: order, durability, restart of the sink and of the process."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from influx_helpers import sample_estimates

from synthwatch.stream.sinks.base import BackPressure
from synthwatch.stream.sinks.influx import InfluxSink
from synthwatch.stream.sinks.influx_points import estimate_lines
from synthwatch.stream.sinks.influx_spool import Spool, SpoolError

DEAD_URL = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused


def _lines(ests) -> list[str]:
    return [x for e in ests for x in estimate_lines(e, None)]


def test_spool_keeps_order_across_reopen_and_acks_only_what_was_sent(tmp_path):
    spool = Spool(tmp_path).open()
    spool.append(["a 1", "b 2"])
    spool.append(["c 3"])
    rows = spool.peek(2)
    spool.close()
    spool = Spool(tmp_path).open()  # a restart: the same three, in order
    assert [x for _, x in spool.peek(10)] == ["a 1", "b 2", "c 3"] and len(spool) == 3
    spool.ack(rows[-1][0])
    spool.deadletter(spool.peek(1), "HTTP 400: bad")
    assert len(spool) == 0 and spool.deadletters() == [("c 3", "HTTP 400: bad")]
    spool.close()


@settings(max_examples=30)  # each example fsyncs a fresh SQLite file
@given(st.lists(st.lists(st.text(min_size=1, max_size=20), max_size=5), max_size=8))
def test_spool_drains_what_was_appended_in_order(tmp_path_factory, batches):
    spool = Spool(tmp_path_factory.mktemp("spool")).open()
    out = []
    for batch in batches:
        spool.append(batch)
        rows = spool.peek(3)
        if rows:
            out += [x for _, x in rows]
            spool.ack(rows[-1][0])
    while rows := spool.peek(3):
        out += [x for _, x in rows]
        spool.ack(rows[-1][0])
    spool.close()
    assert out == [x for b in batches for x in b]


def test_one_process_per_spool(tmp_path):
    first = Spool(tmp_path).open()
    with pytest.raises(SpoolError, match="in use by another synthwatch process"):
        Spool(tmp_path).open()
    first.close()
    Spool(tmp_path).open().close()  # released on close


def test_spool_file_that_is_not_sqlite_is_refused_clearly(tmp_path):
    (tmp_path / Spool.FILE).write_bytes(b"not a database" * 100)
    with pytest.raises(SpoolError, match="not a usable spool file"):
        Spool(tmp_path).open()


def test_a_new_sink_drains_what_the_old_one_left_in_order(tmp_path, influx_config, contract_server):
    ests = sample_estimates(120)
    with InfluxSink(influx_config(DEAD_URL, batch_size=25, close_timeout_s=0.2)) as old:
        for e in ests:
            old.add(e)
    assert old.pending == 120 and old.written == 0
    with InfluxSink(influx_config(contract_server.url, batch_size=25)) as new:
        assert new.pending == 120
        assert new.wait_drained(10)
    assert contract_server.written_lines() == _lines(ests)
    assert [r.query for r in contract_server.writes()][0] == {"db": "synthwatch", "precision": "u"}


def test_spool_survives_a_killed_process(tmp_path, influx_config, contract_server):
    """A synthwatch process spools while InfluxDB is down and is SIGKILLed right after a flush;
    a new process-worth of sink over the same spool writes every point, in order."""
    spool_dir = tmp_path / "spool"
    child = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from influx_helpers import sample_estimates
        from synthwatch.contract.config import InfluxConfig
        from synthwatch.stream.sinks.influx import InfluxSink
        sink = InfluxSink(InfluxConfig(enabled=True, url={DEAD_URL!r}, spool_dir={str(spool_dir)!r},
                                       batch_size=7, retry_interval_s=5))
        sink.setup()
        for e in sample_estimates(100):
            sink.add(e)
        sink.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with InfluxSink(influx_config(contract_server.url, spool_dir=spool_dir)) as sink:
        assert sink.wait_drained(10)
    assert contract_server.written_lines() == _lines(sample_estimates(100))


def test_full_spool_pushes_back(tmp_path, influx_config):
    cfg = influx_config(DEAD_URL, max_spool_points=10, batch_size=5, close_timeout_s=0)
    ests = sample_estimates(11)
    with InfluxSink(cfg) as sink:
        for e in ests[:10]:
            sink.add(e)
        with pytest.raises(BackPressure) as busy:
            sink.add(ests[10])
        assert busy.value.retry_after > 0 and "spool full" in str(busy.value)
        assert sink.pending == 10  # the refused one was not taken


def test_sink_pickles_before_setup_without_io(tmp_path, influx_config):
    import pickle

    sink = pickle.loads(pickle.dumps(InfluxSink(influx_config(DEAD_URL))))
    assert not (tmp_path / "spool").exists()  # built and unpickled without touching the disk
    assert sink.config.url == DEAD_URL and sink.pending == 0
