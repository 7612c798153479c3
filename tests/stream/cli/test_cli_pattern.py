"""One CLI pattern: a table of command modules, one error root, plain help, suggestions.

Every command is a module with ``add_arguments(parser)`` and ``run(args)`` listed in
``main.COMMANDS``; every error class of synthwatch subclasses ``SynthwatchError`` and main()
turns it into one line on stderr and its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import subprocess
import sys
import time

import pytest

from conftest import source_modules
from synthwatch.contract.errors import SynthwatchError, UsageError
from synthwatch.stream.cli.main import COMMANDS, build_parser, main

EXPECTED = {
    "demo",
    "runs",
    "show",
    "deadletters",
    "report",
    "compare",
    "replay",
    "golden",
    "dashboards",
    "collect",
    "work",
}
#: exceptions that are flow control, not errors
FLOW_CONTROL = {"BackPressure", "Terminated"}


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synthwatch.stream.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, COLUMNS="200"),
    )


def test_the_table_lists_every_command_with_add_arguments_and_run():
    assert {c.NAME for c in COMMANDS} == EXPECTED
    for command in COMMANDS:
        assert isinstance(command.HELP, str) and "\n" not in command.HELP, command.NAME
        assert list(inspect.signature(command.add_arguments).parameters) == ["parser"]
        assert next(iter(inspect.signature(command.run).parameters)) == "args"
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == EXPECTED


def test_main_dispatches_through_the_table_only():
    source = inspect.getsource(importlib.import_module("synthwatch.stream.cli.main"))
    assert "args.command ==" not in source and "args.command in" not in source


def test_help_is_plain_text_starting_with_demo_and_lists_every_command():
    for argv in (["--help"], []):
        proc = cli(*argv)
        assert proc.returncode == (0 if argv else 2), proc.stderr
        text = proc.stdout
        description = text.split("\n\n", 1)[1]
        assert description.startswith("Start with `synthwatch demo`"), text
        assert "[bold" not in text and "\x1b[" not in text
        for command in COMMANDS:
            lines = [ln for ln in text.splitlines() if ln.split()[:1] == [command.NAME]]
            assert len(lines) == 1 and command.HELP in lines[0], (command.NAME, text)


def test_a_mistyped_command_gets_a_suggestion(capsys):
    assert main(["replya"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'replay'?" in err, err
    assert err.startswith("synthwatch")


def test_a_mistyped_option_gets_a_suggestion(capsys):
    assert main(["demo", "--sped", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean --speed?" in err, err
    assert main(["show", "latest", "--rowz=3"]) == 2
    assert "did you mean --rows?" in capsys.readouterr().err
    assert main(["dashboards", "exprt", "out"]) == 2
    assert "did you mean 'export'?" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_replay_of_a_path_says_how_to_replay_a_folder(tmp_path, capsys, kind):
    path = tmp_path / "exports"
    path.mkdir() if kind == "dir" else path.write_text("x")
    assert main(["--store", str(tmp_path / "s.sqlite"), "replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert (
        f"'{path}' is a path, not a stored run: replay a folder of exports with "
        f"`synthwatch replay --folder {path} --system ...`"
    ) in err


def test_work_without_a_broker_exits_1_within_10_s_in_one_line(tmp_path):
    cfg = tmp_path / "sw.toml"
    cfg.write_text('[kafka]\nbootstrap_servers = ["127.0.0.1:9"]\n')
    store = tmp_path / "s.sqlite"
    started = time.monotonic()
    proc = cli("--config", str(cfg), "--store", str(store), "work", timeout=30)
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    assert took < 10, took
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1:9" in lines[0], proc.stderr
    assert lines[0].startswith("synthwatch: kafka at 127.0.0.1:9")


def test_work_honours_a_shorter_max_runtime(tmp_path):
    cfg = tmp_path / "sw.toml"
    cfg.write_text('[kafka]\nbootstrap_servers = ["127.0.0.1:9"]\n')
    proc = cli("--config", str(cfg), "work", "--max-runtime", "1", timeout=30)
    assert proc.returncode == 1 and "within 1 s" in proc.stderr, proc.stderr


def _error_classes():
    for name in source_modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                obj.__module__ == module.__name__
                and issubclass(obj, BaseException)
                and not issubclass(obj, Warning)  # warnings.warn categories, not errors
                and obj.__name__ not in FLOW_CONTROL
            ):
                yield obj


def test_every_error_class_is_a_synthwatch_error():
    found = list(_error_classes())
    names = {c.__name__ for c in found}
    assert {"ConfigError", "UnknownRunError", "KafkaTransportError", "ScpiError"} <= names
    assert {"DashboardsError", "ReplayError", "CircuitSyntaxError", "SpoolError"} <= names
    bad = [f"{c.__module__}.{c.__name__}" for c in found if not issubclass(c, SynthwatchError)]
    assert bad == []
    for c in found:
        assert c.exit_code in (1, 2), c


def test_errors_keep_their_usual_bases():
    from synthwatch.contract.config import ConfigError
    from synthwatch.stream.store.embedded import UnknownRunError
    from synthwatch.stream.transport.errors import KafkaTransportError

    assert issubclass(ConfigError, ValueError) and ConfigError.exit_code == 2
    assert issubclass(UnknownRunError, KeyError) and UnknownRunError.exit_code == 2
    assert issubclass(KafkaTransportError, RuntimeError) and KafkaTransportError.exit_code == 1
    assert UsageError.exit_code == 2


def test_main_reports_any_synthwatch_error_in_one_line(monkeypatch, capsys):
    class Unreachable(SynthwatchError):
        exit_code = 1

    def run(args):
        raise Unreachable("server at http://x:1 did not answer\n(after 3 tries)")

    runs = next(c for c in COMMANDS if c.NAME == "runs")
    monkeypatch.setattr(runs, "run", run)
    assert main(["runs"]) == 1
    assert capsys.readouterr().err == (
        "synthwatch: server at http://x:1 did not answer (after 3 tries)\n"
    )
