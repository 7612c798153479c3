"""scripts/services.sh: idempotent start/stop, status, a restart keeps the address, clear errors."""

from __future__ import annotations

import os
import subprocess

import pytest
from influx_helpers import SERVICES, ping

pytestmark = pytest.mark.slow


def _sh(state, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "SYNTHWATCH_SERVICES_DIR": str(state)}
    return subprocess.run(
        ["bash", str(SERVICES), *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_start_stop_status_are_idempotent(private_influxd):
    state = private_influxd.state_dir
    pid = (state / "influxdb" / "pid").read_text()
    again = _sh(state, "start", "influxdb")
    assert again.returncode == 0 and again.stdout == again.stderr == ""  # quiet
    assert (state / "influxdb" / "pid").read_text() == pid  # the same server
    status = _sh(state, "status", "influxdb")  # (kafka is not started in this state dir)
    assert status.returncode == 0
    assert status.stdout == f"influxdb: running (pid {pid.strip()}) at {private_influxd.url}\n"
    assert _sh(state, "stop").returncode == 0 and not ping(private_influxd.url)
    assert (state / "env").read_text() == ""  # nothing running, nothing to read
    assert _sh(state, "stop", "all").returncode == 0  # stopping a stopped service is fine
    status = _sh(state, "status", "all")
    assert (status.returncode, status.stdout) == (3, "influxdb: stopped\nkafka: stopped\n")
    private_influxd.start()  # the same address again
    assert ping(private_influxd.url)


def test_usage_errors(tmp_path):
    for args in ([], ["restart"], ["start", "postgres"], ["start", "influxdb", "extra"]):
        proc = _sh(tmp_path, *args)
        assert proc.returncode == 2 and proc.stderr.startswith("usage: scripts/services.sh")
