"""What every ``synthwatch`` parser shares: option types and the parser class.

:class:`Parser` is the class of every parser and subparser: a mistake becomes a one-line
:class:`~synthwatch.contract.errors.UsageError` (exit 2), with a suggestion when a close name
exists (``did you mean 'replay'?`` for a command or a choice, ``did you mean --speed?`` for an
option). The ``parse_*`` functions are argparse ``type=`` converters.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, timezone
from difflib import get_close_matches
from typing import Sequence

from synthwatch.contract.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*(s|m|min|h|d)?\s*$")
_UNIT_S = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def parse_duration(text: str) -> float:
    """``"2h"`` → 7200.0; plain numbers are seconds."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive duration such as 7200, 90m or 2h, got {text!r}"
        )
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def parse_speed(text: str) -> float:
    """``"1000"`` → 1000.0; ``"max"`` → 0 (as fast as possible)."""
    if text.strip().lower() == "max":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive factor (simulated s per wall s) or 'max', got {text!r}"
        )
    return value


def parse_replay_speed(text: str) -> float:
    """``realtime`` → 1, ``max`` → 0 (as fast as possible), ``60`` or ``60x`` → 60."""
    t = text.strip().lower()
    if t in ("realtime", "real-time", "1x"):
        return 1.0
    if t == "max":
        return 0.0
    try:
        value = float(t.removesuffix("x"))
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(
            f"expected 'realtime', 'max' or a factor such as 60 (simulated s per wall s), "
            f"got {text!r}"
        )
    return value


def parse_tz(text: str) -> timezone:
    """``+01:00`` / ``-0500`` / ``UTC`` → a fixed zone."""
    t = text.strip().upper()
    if t in ("UTC", "Z", "GMT"):
        return timezone.utc
    try:
        sign = {"+": 1, "-": -1}[t[0]]
        digits = t[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if len(digits) not in (2, 4) or hours > 14 or minutes > 59:
            raise ValueError
    except (KeyError, ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"expected a UTC offset such as +01:00 or -05:00, or UTC, got {text!r}"
        ) from None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_time(text: str) -> datetime:
    """ISO 8601, with a zone (``2026-11-25T09:00:00+01:00`` or ``...Z``)."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time with its zone, e.g. 2026-11-25T09:00:00Z, got {text!r}"
        )
    return t.astimezone(timezone.utc)


def positive(text: str) -> float:
    """A number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _with_hint(message: str) -> str:
    """An argparse invalid-choice message with ``did you mean 'replay'?`` instead of the list
    of choices, when one is close; other messages as they are."""
    m = _INVALID_CHOICE.search(message)
    if not m:
        return message
    close = get_close_matches(m.group(1), re.findall(r"'([^']*)'", m.group(2)), n=1)
    if not close:
        return message
    return f"{message[: m.start()]}invalid choice: {m.group(1)!r}; did you mean {close[0]!r}?"


def _chain(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> list:
    """The parser and the subparsers ``ns`` went through (``synthwatch``, ``dashboards``...)."""
    chain = [parser]
    while True:
        sub = next(
            (a for a in chain[-1]._actions if isinstance(a, argparse._SubParsersAction)), None
        )
        name = getattr(ns, sub.dest, None) if sub is not None else None
        if name is None or name not in sub.choices:
            return chain
        chain.append(sub.choices[name])


def _option_hint(chain: list, extras: Sequence[str]) -> str:
    """``"; did you mean --speed?"`` for the first unknown option close to a known one."""
    for parsers in (chain[-1:], chain):
        known = [o for p in parsers for a in p._actions for o in a.option_strings]
        for word in extras:
            if word.startswith("-"):
                close = get_close_matches(word.split("=", 1)[0], known, n=1)
                if close:
                    return f"; did you mean {close[0]}?"
    return ""


class Parser(argparse.ArgumentParser):
    """The class of every ``synthwatch`` parser: mistakes are one line, with a suggestion."""

    def parse_args(self, args=None, namespace=None):
        """argparse's, with a suggestion for an unknown option of the chosen command."""
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            chain = _chain(self, ns)
            chain[-1].error(
                f"unrecognized arguments: {' '.join(extras)}{_option_hint(chain, extras)}"
            )
        return ns

    def error(self, message: str):
        """One line, no usage dump: raised as a UsageError that main() prints."""
        raise UsageError(f"{self.prog}: {_with_hint(message)} (see {self.prog} --help)")
