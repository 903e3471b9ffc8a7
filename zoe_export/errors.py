"""The one exception type for user errors, and how messages name what the user typed.

Anything the user can fix (a wrong variant name, a missing or corrupt checkpoint, an input of the
wrong shape, an unwritable path) raises :class:`ZoeExportError` with a message that says how to fix
it. The command-line tools print the message and exit with status 1, without a traceback.

A message names an option the way the user gave it: ``option("--checkpoint", "checkpoint=")``
is the flag inside the command-line tools (:func:`command_line` is active) and the Python
argument everywhere else.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

_COMMAND_LINE = contextvars.ContextVar("zoe_export_command_line", default=False)


class ZoeExportError(Exception):
    """A problem with what the user asked for, with a message that names the fix."""


def option(flag: str, argument: str) -> str:
    """``flag`` when a command-line tool is running, else ``argument`` (the Python spelling)."""
    return flag if _COMMAND_LINE.get() else argument


def check_seed(seed) -> None:
    """A seed is a whole number, 0 or more (numpy's generators refuse anything else with a traceback)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ZoeExportError(f"{option('--seed', 'seed=')} {seed!r}: give a whole number, 0 or more.")


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Messages raised inside name command-line flags (the CLI entry points wrap their work in this)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)
