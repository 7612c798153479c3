"""The root of synthwatch's errors: one class the command line catches in one place.

Every error a person or the environment can cause subclasses :class:`SynthwatchError` (next to
its usual base, e.g. ``class ConfigError(SynthwatchError, ValueError)``, so ``except
ValueError`` still works). Its message is one line; ``exit_code`` is the status ``synthwatch``
exits with:

* 2 -- a usage or input mistake the person can fix (a bad option, an unknown run, a bad config
  value, a file that does not parse). The default.
* 1 -- a runtime failure of something outside the command (an unreachable broker or server, an
  instrument that does not answer, a checkpoint that cannot be restored).

This module imports nothing; the contract package stays at the bottom of the layers.
"""

from __future__ import annotations

#: exit status of a usage or input mistake
USAGE = 2
#: exit status of a runtime failure (a server, broker or instrument)
FAILURE = 1


class SynthwatchError(Exception):
    """The root of synthwatch's errors; ``exit_code`` is the CLI's exit status for it."""

    exit_code: int = USAGE


def one_line(error: BaseException) -> str:
    """``error``'s text on one line (a KeyError's message unquoted)."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else error
    return " ".join(str(text).split()) or type(error).__name__


class UsageError(SynthwatchError):
    """A mistake on the command line (a bad option or a combination that does not fit)."""
