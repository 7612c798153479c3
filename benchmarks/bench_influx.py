"""InfluxDB sink: write throughput beside two baselines, and a 60-second outage at 100 reactors.

Throughput (points/s, median of ``--repeat`` runs, each from the first ``add`` until the server
acknowledged the last point):

* ``sink v1 -> InfluxDB 1.x``: :class:`~synthwatch.stream.sinks.influx.InfluxSink` given Estimate
  messages (it serializes them, spools them on disk, drains in batches) against a real InfluxDB
  1.6 (Debian's, started privately by scripts/services.sh).
* ``bare /write loop -> InfluxDB 1.x``: the same lines, pre-serialized, POSTed batch after batch
  with urllib3 to the same server: the server's own ceiling for this batch size.
* ``sink v2 -> contract server`` and ``influxdb-client batching -> contract server``: the same
  points through the sink's v2 path and through influxdb-client's own batching ``WriteApi``
  (given the pre-serialized lines), both to the local contract server of the tests (a Python
  http.server: it bounds both rates, so only their ratio means something).

Outage: 100 reactors, one spectrum every 2 s each (50 spectra/s; each spectrum gives the points
of the demo's models: 2 ``uvvis_features`` points and a ``psd`` point with 35 distribution bins,
38 points), paced in real time. After ``--before`` s the InfluxDB is stopped for ``--outage`` s
(real seconds), then restarted; the load goes on for ``--after`` s. Reported: points spooled at
the peak, how long the backlog took to drain after the restart, and points lost (InfluxDB's
count against what was added: must be 0).

    python benchmarks/bench_influx.py                     # about 2.5 minutes
    python benchmarks/bench_influx.py --skip-outage --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import urllib3
from influxdb_client import InfluxDBClient, WriteOptions

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stream"))

from influx_helpers import ContractServer, InfluxQL  # noqa: E402

from synthwatch.contract.config import InfluxConfig  # noqa: E402
from synthwatch.contract.messages import Distribution, Estimate, Quantity, RunStart  # noqa: E402
from synthwatch.stream.sinks.influx import InfluxSink  # noqa: E402
from synthwatch.stream.sinks.influx_points import estimate_lines  # noqa: E402

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)
BINS = 35
POINTS_PER_SPECTRUM = 2 + 1 + BINS
FEATURES = (
    "lambda_spr_nm",
    "a_spr_au",
    "a_400_au",
    "a_450_au",
    "fwhm_nm",
    "d_haiss_nm",
    "au0_mM",
    "ratio_spr_450",
    "red_tail_ratio",
    "noise_au",
)


def spectrum_estimates(reactor: int, tick: int) -> list[Estimate]:
    """The estimates the demo's models publish for one spectrum (synthetic values)."""
    run_id = f"bench-r{reactor:03d}"
    t = T0 + timedelta(seconds=2.0 * tick)
    x = 1.0 + 1e-3 * tick + 1e-6 * reactor
    common = dict(run_id=run_id, t=t, sensor_id="uv1", seq=tick)
    out = [
        Estimate(
            **common,
            model=model,
            model_version="1",
            measurement="uvvis_features",
            quantities=[
                Quantity(name=n, value=x * (i + 1), units="1", uncertainty=0.01 * x)
                for i, n in enumerate(FEATURES)
            ],
        )
        for model in ("uvvis_features", "uvvis_shape")
    ]
    axis = [2.0 + 2.0 * i for i in range(BINS)]
    out.append(
        Estimate(
            **common,
            model="psd_lognormal",
            model_version="2",
            measurement="psd",
            quantities=[
                Quantity(name="d_mean_nm", value=10 * x, units="nm", uncertainty=0.2),
                Quantity(name="gsd", value=1.1, units="1", uncertainty=0.01),
                Quantity(name="number_per_ml", value=1e12 * x, units="mL^-1"),
                Quantity(name="rel_rms_residual", value=0.01, units="1"),
            ],
            distribution=Distribution(
                quantity="number_per_ml",
                units="mL^-1",
                axis_name="d_nm",
                axis_units="nm",
                axis=axis,
                values=[1e10 * x * (i + 1) for i in range(BINS)],
            ),
        )
    )
    return out


def run_starts(reactors: int) -> list[RunStart]:
    return [
        RunStart(run_id=f"bench-r{r:03d}", t=T0, reactor=f"R{r:03d}", system="Au-citrate")
        for r in range(reactors)
    ]


class Influxd:
    """A private InfluxDB 1.x run by scripts/services.sh (which the tests use too)."""

    def __init__(self, state: Path):
        self.env = {**os.environ, "SYNTHWATCH_SERVICES_DIR": str(state)}
        self.state = state
        self.url = ""

    def _run(self, action: str) -> None:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "services.sh"), action, "influxdb"],
            env=self.env,
            check=True,
        )

    def start(self) -> None:
        self._run("start")
        text = (self.state / "env").read_text()
        self.url = text.split("SYNTHWATCH_TEST_INFLUXDB_URL=", 1)[1].split()[0]

    def stop(self) -> None:
        self._run("stop")


def _config(url: str, spool: Path, **kw) -> InfluxConfig:
    return InfluxConfig(enabled=True, url=url, spool_dir=spool, **kw)


def _count(url: str, db: str) -> int:
    q = InfluxQL(url)
    total = 0
    for m, field in (
        ("uvvis_features", "flag_count"),
        ("psd", "flag_count"),
        ("psd", "bin_number_per_ml"),
    ):
        for row in q.series(f'SELECT count("{field}") FROM "{m}"', db):
            total += row["count"]
    return total


def bench_sink(url: str, messages, tmp: Path, **kw) -> tuple[float, int]:
    cfg = _config(url, Path(tempfile.mkdtemp(dir=tmp)), **kw)
    with InfluxSink(cfg) as sink:
        t0 = time.perf_counter()
        for m in messages:
            sink.add(m)
        if not sink.wait_drained(600):
            raise RuntimeError(f"sink did not drain: {sink.pending} points left")
        dt = time.perf_counter() - t0
    return dt, sink.written


def bench_bare(url: str, db: str, batches: list[bytes]) -> float:
    http = urllib3.PoolManager()
    http.request("POST", f"{url}/query", fields={"q": f'CREATE DATABASE "{db}"'})
    write = f"{url}/write?db={db}&precision=u"
    t0 = time.perf_counter()
    for body in batches:
        resp = http.request("POST", write, body=body)
        if resp.status != 204:
            raise RuntimeError(f"bare /write: HTTP {resp.status} {resp.data[:200]!r}")
    return time.perf_counter() - t0


def bench_client_batching(url: str, lines: list[str], batch: int) -> float:
    with InfluxDBClient(url=url, token="bench", org="bench") as client:
        options = WriteOptions(batch_size=batch, flush_interval=1000)
        t0 = time.perf_counter()
        with client.write_api(write_options=options) as api:
            for i in range(0, len(lines), batch):
                api.write("bench", "bench", lines[i : i + batch], write_precision="us")
        # leaving the block flushes and waits for every batch
        return time.perf_counter() - t0


def throughput(args, influxd: Influxd, tmp: Path) -> dict:
    reactors = 100
    messages: list = run_starts(reactors)
    reactor_of = {m.run_id: m.reactor for m in messages}
    for tick in range(args.spectra // reactors):
        for r in range(reactors):
            messages += spectrum_estimates(r, tick)
    lines = [
        x
        for m in messages
        if isinstance(m, Estimate)
        for x in estimate_lines(m, reactor_of[m.run_id])
    ]
    b = args.batch_size
    batches = ["\n".join(lines[i : i + b]).encode() for i in range(0, len(lines), b)]
    kinds = ("sink_v1", "bare_v1", "sink_v2", "client_v2", "serialize_only")
    results: dict[str, list[float]] = {k: [] for k in kinds}
    for rep in range(args.repeat):
        db = f"bench_sink_{rep}_{int(time.time())}"
        dt, written = bench_sink(influxd.url, messages, tmp, database=db, batch_size=b)
        assert written == len(lines) == _count(influxd.url, db), (written, len(lines))
        results["sink_v1"].append(len(lines) / dt)
        db = f"bench_bare_{rep}_{int(time.time())}"
        dt = bench_bare(influxd.url, db, batches)
        assert _count(influxd.url, db) == len(lines)
        results["bare_v1"].append(len(lines) / dt)
        with ContractServer() as srv:
            v2 = dict(api="v2", token="bench", org="bench", bucket="bench", batch_size=b)
            dt, written = bench_sink(srv.url, messages, tmp, **v2)
            assert srv.written_lines() == lines
            results["sink_v2"].append(len(lines) / dt)
        with ContractServer() as srv:
            dt = bench_client_batching(srv.url, lines, b)
            assert sorted(srv.written_lines()) == sorted(lines)
            results["client_v2"].append(len(lines) / dt)
        t0 = time.perf_counter()  # the sink's own serialization alone (influxdb-client Point)
        for m in messages:
            if isinstance(m, Estimate):
                estimate_lines(m, reactor_of[m.run_id])
        results["serialize_only"].append(len(lines) / (time.perf_counter() - t0))
        print(f"repeat {rep + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in results.items()))
    med = {k: statistics.median(v) for k, v in results.items()}
    return {
        "points": len(lines),
        "batch_size": b,
        "points_per_s_median": med,
        "points_per_s_all": results,
        "ratio_sink_v1_to_bare_v1": med["sink_v1"] / med["bare_v1"],
        "ratio_sink_v2_to_client_v2": med["sink_v2"] / med["client_v2"],
        "ratio_sink_v1_to_serialize_only": med["sink_v1"] / med["serialize_only"],
    }


def outage(args, influxd: Influxd, tmp: Path) -> dict:
    reactors, interval = args.reactors, 2.0
    db = f"bench_outage_{int(time.time())}"
    cfg = _config(
        influxd.url,
        tmp / "outage-spool",
        database=db,
        max_retries=1,
        retry_interval_s=0.5,
        max_retry_delay_s=5.0,
        timeout_s=5.0,
    )
    added = 0
    peak = 0
    events: dict[str, float] = {}
    total_s = args.before + args.outage + args.after
    with InfluxSink(cfg) as sink:
        for m in run_starts(reactors):
            sink.add(m)
        wall0 = time.monotonic()

        def outage_thread() -> None:
            time.sleep(args.before)
            influxd.stop()
            events["stopped"] = time.monotonic() - wall0
            time.sleep(args.outage)
            events["restarting"] = time.monotonic() - wall0
            influxd.start()
            events["restarted"] = time.monotonic() - wall0

        th = threading.Thread(target=outage_thread)
        th.start()
        tick = 0
        lag_max = 0.0
        while (tick * interval) < total_s:
            due = wall0 + tick * interval
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            lag_max = max(lag_max, time.monotonic() - due)
            for r in range(reactors):
                for est in spectrum_estimates(r, tick):
                    sink.add(est)
                    added += 1 + (len(est.distribution.axis) if est.distribution else 0)
            sink.flush()
            peak = max(peak, sink.pending)
            if (
                "restarted" in events
                and "drained" not in events
                and sink.pending <= 2 * cfg.batch_size
            ):
                events["drained"] = time.monotonic() - wall0
            tick += 1
        th.join()
        if not sink.wait_drained(600):
            raise RuntimeError(f"not drained: {sink.pending} points left")
        events.setdefault("drained", time.monotonic() - wall0)
        failures = sink.failures
        written = sink.written
    in_db = _count(influxd.url, db)
    return {
        "reactors": reactors,
        "spectra_per_s": reactors / interval,
        "points_per_s": reactors / interval * POINTS_PER_SPECTRUM,
        "outage_s": events["restarting"] - events["stopped"],
        "points_added": added,
        "peak_spooled": peak,
        "drain_s_after_restart": events["drained"] - events["restarted"],
        "failed_attempts": failures,
        "points_acknowledged": written,
        "points_in_influxdb": in_db,
        "lost": added - in_db,
        "load_lag_max_s": lag_max,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spectra", type=int, default=3000, help="throughput: spectra (x38 points)")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reactors", type=int, default=100)
    ap.add_argument("--before", type=float, default=10.0)
    ap.add_argument("--outage", type=float, default=60.0)
    ap.add_argument("--after", type=float, default=20.0)
    ap.add_argument("--skip-outage", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        influxd = Influxd(tmp / "services")
        influxd.start()
        out["influxdb"] = influxd.url
        try:
            if not args.skip_throughput:
                out["throughput"] = throughput(args, influxd, tmp)
            if not args.skip_outage:
                out["outage"] = outage(args, influxd, tmp)
        finally:
            influxd.stop()
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
