"""Pass/fail bounds of one precision, and the one judge of metrics against them (no numpy: the precision
registry, which the command line reads for its choices, imports this)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    """Pass/fail bounds of one precision. Each precision's, with its reason, is in :mod:`zoe_export.registry.precisions`."""

    max_rel: float
    min_delta1: float
    #: domain logits may differ by this much relative to their largest magnitude
    max_logit_rel: float

    @classmethod
    def from_bound(cls, bound: Mapping) -> "Tolerance":
        """A depth-only tolerance from a ``{"max_rel": .., "min_delta1": ..}`` bound as zoe-bench records it
        (a bound that is missing or None does not limit)."""
        max_rel, min_delta1 = bound.get("max_rel"), bound.get("min_delta1")
        return cls(max_rel=math.inf if max_rel is None else float(max_rel),
                   min_delta1=0.0 if min_delta1 is None else float(min_delta1), max_logit_rel=math.inf)

    def depth_breaches(self, metrics: Mapping) -> list[str]:
        """Which bounds :func:`depth_metrics` break: "non-finite", "REL", "delta1" (NaN breaks its bound).

        A metric that is missing (None) is not judged.
        """
        breaches = []
        if metrics.get("non_finite"):
            breaches.append("non-finite")
        if metrics.get("rel") is not None and not metrics["rel"] <= self.max_rel:
            breaches.append("REL")
        if metrics.get("delta1") is not None and not metrics["delta1"] >= self.min_delta1:
            breaches.append("delta1")
        return breaches

    def depth_failures(self, metrics: Mapping, name: str = "metric_depth") -> list[str]:
        """One line per bound of :meth:`depth_breaches`, with the numbers."""
        failures = []
        for breach in self.depth_breaches(metrics):
            if breach == "non-finite":
                failures.append(f"{name}: {metrics['non_finite']} non-finite values")
            elif breach == "REL":
                failures.append(f"{name}: REL {metrics['rel']:.3g} > {self.max_rel:g}")
            else:
                failures.append(f"{name}: delta1 {metrics['delta1']:.6f} < {self.min_delta1:g}")
        return failures

    def logits_failures(self, metrics: Mapping, name: str = "domain_logits") -> list[str]:
        """What breaks the bounds of :func:`logits_metrics`: non-finite values, another route, the max abs error."""
        failures, scale = [], max(1.0, metrics["scale"])
        if metrics["non_finite"]:
            failures.append(f"{name}: {metrics['non_finite']} non-finite values")
        if not metrics["route_agreement"] >= 1.0:
            failures.append(f"{name}: picks another head for {1 - metrics['route_agreement']:.0%} of the samples")
        if not metrics["max_abs"] <= self.max_logit_rel * scale:
            failures.append(f"{name}: max abs error {metrics['max_abs']:.3g} > {self.max_logit_rel:g} "
                            f"x scale {scale:.3g}")
        return failures
