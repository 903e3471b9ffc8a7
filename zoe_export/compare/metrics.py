"""Metrics that say whether two backends compute the same depth, and tolerances per precision.

Depth is compared as depth is judged: mean relative error (REL), RMSE, delta1 (share of pixels
within a factor 1.25) and the largest absolute error. Domain logits are compared by the route
they choose and their largest absolute difference. A non-finite value always fails.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .tolerance import Tolerance


def depth_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """REL, RMSE, delta1 and max abs error of ``pred`` against ``ref`` (same shape, metres)."""
    pred = np.asarray(pred, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"shape {pred.shape} vs reference {ref.shape}")
    finite = np.isfinite(pred)
    non_finite = int(pred.size - finite.sum())
    if not finite.any():
        return {"rel": float("inf"), "rmse": float("inf"), "delta1": 0.0, "max_abs": float("inf"), "non_finite": non_finite}
    p, r = pred[finite], ref[finite]
    safe_r = np.maximum(np.abs(r), 1e-12)
    ratio = np.maximum(p / safe_r, safe_r / np.maximum(p, 1e-12))
    return {
        "rel": float(np.mean(np.abs(p - r) / safe_r)),
        "rmse": float(np.sqrt(np.mean((p - r) ** 2))),
        # a non-finite pixel counts as outside the 1.25 band
        "delta1": float(np.sum(ratio < 1.25) / pred.size),
        "max_abs": float(np.max(np.abs(p - r))),
        "non_finite": non_finite,
    }


def logits_metrics(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Route agreement (argmax), max abs and RMSE of domain logits (B, n_domains)."""
    pred = np.asarray(pred, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if pred.shape != ref.shape:
        raise ValueError(f"shape {pred.shape} vs reference {ref.shape}")
    finite = bool(np.isfinite(pred).all())
    return {
        "route_agreement": float(np.mean(pred.argmax(-1) == ref.argmax(-1))) if finite else 0.0,
        "max_abs": float(np.max(np.abs(pred - ref))) if finite else float("inf"),
        "rmse": float(np.sqrt(np.mean((pred - ref) ** 2))) if finite else float("inf"),
        "scale": float(np.max(np.abs(ref))),
        "non_finite": int((~np.isfinite(pred)).sum()),
    }


@dataclass
class OutputComparison:
    name: str
    metrics: dict[str, float]
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def compare_outputs(pred: dict[str, np.ndarray], ref: dict[str, np.ndarray], tolerance: Tolerance) -> list[OutputComparison]:
    """Compare every output of ``ref``; each failing bound is listed, none short-circuits."""
    results = []
    for name, expected in ref.items():
        if name not in pred:
            results.append(OutputComparison(name, {}, [f"{name}: missing from the backend's outputs"]))
            continue
        got = np.asarray(pred[name])
        if got.shape != np.shape(expected):
            results.append(OutputComparison(name, {}, [f"{name}: shape {got.shape}, expected {np.shape(expected)}"]))
            continue
        if name == "domain_logits":
            m = logits_metrics(got, expected)
            failures = tolerance.logits_failures(m, name)
        else:
            m = depth_metrics(got, expected)
            failures = tolerance.depth_failures(m, name)
        results.append(OutputComparison(name, m, failures))
    return results
