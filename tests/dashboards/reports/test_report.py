"""``synthwatch report``: one self-contained HTML file, rendered by headless Chromium.

Chromium is Debian's ``chromium`` package. With CI=true a missing browser fails the test;
elsewhere it is skipped. Every console message of the page (Chromium logs them as ``CONSOLE``
lines with ``--enable-logging=stderr``) fails it: a report logs nothing when all is well.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from required import unavailable
from synthwatch.collectors.sim.gold import GoldCitrateSimulator
from synthwatch.collectors.sim.stober import StoberSimulator
from synthwatch.contract.messages import Alert
from synthwatch.stream.cli.main import main
from synthwatch.stream.cli.report_data import build_report
from synthwatch.stream.runtime.pipeline import run_embedded
from synthwatch.stream.store.embedded import Store

GOLD = "sim-au-citrate-s3"
SILICA = "sim-sio2-stober-s3"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "store.sqlite"
    gold = GoldCitrateSimulator(
        seed=3, duration_s=1800.0, interval_s=15.0, wavelengths_nm=np.arange(400.0, 801.0, 4.0)
    )
    silica = StoberSimulator(seed=3, duration_s=8 * 3600.0, interval_s=600.0)
    with Store(path) as store:
        run_embedded(gold.messages(), [store])
        run_embedded(silica.messages(), [store])
        for state, dt in (("firing", 600), ("resolved", 900)):
            store.add(
                Alert(
                    run_id=GOLD,
                    t=gold.start + timedelta(seconds=dt),
                    rule="size_out_of_spec",
                    severity="warning",
                    state=state,
                    values={"d_mean_nm": 9.0},
                    message="mean size outside 12-18 nm: check the citrate dose",
                )
            )
    return path


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        unavailable("chromium is not installed (apt-get install -y chromium)")
    return exe


def render(html: Path, tmp_path: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """(the DOM after the scripts ran, the page's console messages) from headless Chromium."""
    args = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=15000",
        "--window-size=1300,2400",
    ]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = subprocess.run(
        [*args, html.resolve().as_uri()], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    return proc.stdout, console


def test_report_data_from_the_store(store_path):
    with Store(store_path, readonly=True) as store:
        gold = build_report(store, GOLD)
        silica = build_report(store, SILICA)
    assert gold.spectra is not None and gold.spectra.z.shape == (120, 101)
    assert gold.psd is not None and gold.psd.z.max() == pytest.approx(1.0)
    titles = [p.title for p in gold.series]
    assert "Particle size" in titles and "Kinetics: conversion" in titles
    assert any(t.startswith("Kinetics: t90") for t in titles)
    assert [a.state for a in gold.alerts] == ["firing", "resolved"]
    assert dict(gold.metadata)["system"] == "Au-citrate"
    assert silica.spectra is None
    assert [p.title for p in silica.series][-2:] == [
        "Impedance: resistances",
        "Impedance: CPE exponent",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("run_id, min_figures", [(GOLD, 6), (SILICA, 3)])
def test_report_renders_in_headless_chromium(store_path, tmp_path, capsys, run_id, min_figures):
    out = tmp_path / "report.html"
    assert main(["--store", str(store_path), "report", run_id, "-o", str(out)]) == 0
    assert f"written to {out}" in capsys.readouterr().out
    html = out.read_text()
    assert not re.search(r"<script[^>]*\bsrc=", html)  # self-contained: plotly.js inline
    assert not re.search(r"<link[^>]*\bhref=", html)
    n_figures = html.count('class="plotly-graph-div"')
    assert n_figures >= min_figures
    dom, console = render(out, tmp_path)
    assert console == []
    # plotly draws each figure into svg.main-svg elements once its script has run
    assert dom.count('class="main-svg"') >= n_figures
    shot = tmp_path / "report.png"
    _, console = render(out, tmp_path, screenshot=shot)
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.mark.slow
def test_console_errors_are_caught(tmp_path):
    """The check above would see a page's errors: a page with one fails it."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('boom'); nope();</script></body></html>")
    _, console = render(page, tmp_path)
    assert any("boom" in ln for ln in console)
    assert any("ReferenceError" in ln for ln in console)


def test_report_mistakes_one_line(store_path, tmp_path, capsys):
    assert main(["--store", str(store_path), "report", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no run 'nope'" in err
    missing = tmp_path / "missing.sqlite"
    assert main(["--store", str(missing), "report", GOLD]) == 2
    assert "no store at" in capsys.readouterr().err
