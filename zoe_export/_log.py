"""Logging and stage progress shared by the library and the command-line tools."""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import Iterator

log = logging.getLogger("zoe_export")

_open_peaks: list[float] = []  # running peak memory (GB) of each open stage, innermost last


def setup_logging(verbose: bool = False) -> None:
    """Send the package's log to stderr as short lines (the CLI calls this once)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s %(message)s" if verbose else "%(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def peak_rss_gb() -> float | None:
    """This process's peak resident memory since the last reset (Linux: VmHWM), in GB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


@contextlib.contextmanager
def stage(what: str) -> Iterator[None]:
    """Log the start of a long step, then how long it took and its peak memory (where the OS says)."""
    log.info("%s ...", what)
    if _open_peaks:
        _open_peaks[-1] = max(_open_peaks[-1], peak_rss_gb() or 0.0)
    _reset_peak()
    _open_peaks.append(0.0)
    start = time.perf_counter()
    try:
        yield
    finally:
        peak = max(_open_peaks.pop(), peak_rss_gb() or 0.0)
        if _open_peaks:
            _open_peaks[-1] = max(_open_peaks[-1], peak)
    memory = f", peak memory {peak:.1f} GB" if peak else ""
    log.info("%s: done in %.1f s%s", what, time.perf_counter() - start, memory)
