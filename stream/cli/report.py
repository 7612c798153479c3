"""``synthwatch report RUN [-o FILE]``: one self-contained HTML report of a run.

The data comes from the store through :func:`synthwatch.stream.cli.report_data.build_report`
(long runs thinned for the plots); :mod:`synthwatch.dashboards.reports.run_report` renders it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from synthwatch.contract.errors import UsageError
from synthwatch.stream.cli.common import load, need_store, resolve_run, stdout

NAME = "report"
HELP = "one self-contained HTML report of a run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN", help="a run id, or 'latest'")
    parser.add_argument("-o", "--output", type=Path, help="HTML file (default: report-<run>.html)")


def run(args: argparse.Namespace) -> int:
    from synthwatch.dashboards.reports.run_report import render_report
    from synthwatch.stream.cli.report_data import build_report
    from synthwatch.stream.store.embedded import Store

    cfg, console = load(args), stdout()
    need_store(cfg, "report")
    with Store(cfg.store.path, readonly=True) as store:
        run_id = resolve_run(store, args.run_id)
        data = build_report(store, run_id)
    out = args.output or Path(f"report-{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id)}.html")
    try:
        out.write_text(render_report(data), encoding="utf-8")
    except OSError as err:
        raise UsageError(f"synthwatch report: cannot write {out}: {err.strerror}") from None
    console.print(f"report of run {run_id} written to {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
