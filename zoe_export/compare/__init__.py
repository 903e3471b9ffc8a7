"""Parity: depth metrics and per-output, per-precision tolerances ("N runners, one comparator")."""
from .metrics import OutputComparison, Tolerance, compare_outputs, depth_metrics, logits_metrics

__all__ = ["OutputComparison", "Tolerance", "compare_outputs", "depth_metrics", "logits_metrics"]
