"""Numbers as report text: each kind of figure (ms, ratio, GB, error, share, seconds) with the precision that suits it.

Every formatter takes whatever the result dict holds and gives ``MISSING`` ("-") for a value that is absent or not
a number, never a crash or a made-up figure.
"""
from __future__ import annotations

import math
from typing import Any

#: the text of a cell or figure that was not measured
MISSING = "-"


def number(value: Any) -> float | None:
    """``value`` as a float, or None where it is missing or not a number (a bool is not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN or infinite)."""
    v = number(value)
    return v if v is not None and math.isfinite(v) else None


def fmt_ms(value: Any) -> str:
    """A duration or rate with precision that suits its size: 0.042, 4.20, 42.0, 420."""
    v = number(value)
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_ratio(value: Any) -> str:
    """A ratio to the base backend: 0.93x."""
    v = number(value)
    return MISSING if v is None else f"{v:.2f}x"


def fmt_gb(megabytes: Any) -> str:
    """Megabytes as gigabytes: 2150 -> 2.10."""
    v = number(megabytes)
    return MISSING if v is None else f"{v / 1024:.2f}"


def fmt_sig(value: Any, digits: int = 3) -> str:
    """Errors such as REL, RMSE, max abs: a few significant digits (1.2e-06, 0.0213)."""
    v = number(value)
    return MISSING if v is None else f"{v:.{digits}g}"


def fmt_share(value: Any) -> str:
    """delta1 and other shares in [0, 1]."""
    v = number(value)
    return MISSING if v is None else f"{v:.4f}"


def fmt_seconds(value: Any) -> str:
    """A run's length: 42.0 s, or 5.4 min from two minutes on."""
    v = number(value)
    if v is None:
        return MISSING
    return f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min"


def fmt_percent(value: float) -> str:
    """A margin in percent: 0.5 %, 16 %."""
    return f"{value:.1f} %" if abs(value) < 1 else f"{value:.0f} %"


def first_line(text: Any, limit: int = 80) -> str:
    """The first line of ``text``, cut to ``limit`` characters with '...'."""
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."
