"""Parity: depth metrics and the tolerance judge ("N runners, one comparator"); tolerances per precision are in
the precision registry. ``Tolerance`` loads without numpy; the metrics load on first use."""
from __future__ import annotations

import importlib

from .tolerance import Tolerance

_METRICS = ("OutputComparison", "compare_outputs", "depth_metrics", "logits_metrics")

__all__ = ["Tolerance", *_METRICS]


def __getattr__(name: str):
    if name in _METRICS:
        return getattr(importlib.import_module(".metrics", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
