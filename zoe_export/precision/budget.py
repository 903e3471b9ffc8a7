"""Accuracy budget search: the fewest layer groups kept out of INT8 so that REL stays in budget.

Measure every group's sensitivity (REL with only that group in INT8), then, starting from all
groups in INT8, move groups back to high precision, most sensitive first, until REL on the
held-out samples is within the budget. Every step is timed and kept for the table.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .._log import log
from .int8 import Int8Selection

#: evaluate(selection) -> (REL, delta1) on the held-out samples
Evaluate = Callable[[Int8Selection], tuple[float, float]]


@dataclass
class SearchStep:
    action: str
    group: str | None
    int8_groups: int
    rel: float
    delta1: float
    seconds: float


@dataclass
class SearchResult:
    budget: float
    met: bool
    kept_groups: list[str]
    selection: Int8Selection
    sensitivity: dict[str, float] = field(default_factory=dict)
    steps: list[SearchStep] = field(default_factory=list)
    seconds: float = 0.0

    def rows(self, high_precision: str) -> list[dict]:
        """One row per group: its sensitivity, final precision, and REL/delta1 after its step."""
        after = {s.group: s for s in self.steps if s.group}
        groups = sorted(self.sensitivity or {g: 0.0 for g in self.selection.groups},
                        key=lambda g: -self.sensitivity.get(g, 0.0))
        rows = []
        for group in groups:
            step = after.get(group)
            rows.append({
                "group": group,
                "sensitivity_rel": self.sensitivity.get(group),
                "precision": high_precision if group in self.kept_groups else "int8",
                "rel_after": step.rel if step else None,
                "delta1_after": step.delta1 if step else None,
                "seconds": step.seconds if step else None,
            })
        return rows

    def table(self, high_precision: str) -> str:
        """The console table of this search (:func:`search_table` of :meth:`to_dict`)."""
        return search_table(self.to_dict(high_precision))

    def to_dict(self, high_precision: str) -> dict:
        return {"budget_rel": self.budget, "met": self.met, "kept_groups": self.kept_groups,
                "int8_groups": sorted(self.selection.groups), "seconds": round(self.seconds, 1),
                "steps": [asdict(s) for s in self.steps], "table": self.rows(high_precision)}


def search_table(search: dict) -> str:
    """The console table of a budget search, from :meth:`SearchResult.to_dict` (as a manifest holds it)."""
    first = search["steps"][0]
    on = f", {search['backend']}" if search.get("backend") else ""  # where it was measured (manifests since measure_on)
    lines = [f"accuracy budget: REL <= {search['budget_rel']:g} on the held-out samples{on} "
             f"({'met' if search['met'] else 'NOT met'}, {search['seconds']:.0f} s)",
             f"all groups INT8: REL {first['rel']:.3e}  delta1 {first['delta1']:.5f}  ({first['seconds']:.1f} s)"]
    rows = search["table"]
    if all(row["sensitivity_rel"] is None for row in rows):  # met at once: no group was measured
        return "\n".join(lines)
    lines += [f"{'group':20} {'sensitivity':>12} {'precision':>9} {'REL after':>11} {'delta1':>9} {'s':>6}"]
    for row in rows:
        fmt = lambda v, spec: f"{'-':>{spec.split('.')[0]}}" if v is None else format(v, spec)  # noqa: E731
        lines.append(f"{row['group']:20} {fmt(row['sensitivity_rel'], '12.3e')} {row['precision']:>9} "
                     f"{fmt(row['rel_after'], '11.3e')} {fmt(row['delta1_after'], '9.5f')} "
                     f"{fmt(row['seconds'], '6.1f')}")
    return "\n".join(lines)


def _timed(evaluate: Evaluate, selection: Int8Selection) -> tuple[float, float, float]:
    start = time.perf_counter()
    rel, delta1 = evaluate(selection)
    return rel, delta1, time.perf_counter() - start


def search_budget(selection: Int8Selection, evaluate: Evaluate, budget: float) -> SearchResult:
    """Greedy add-back by sensitivity; see the module docstring."""
    start = time.perf_counter()
    rel, delta1, seconds = _timed(evaluate, selection)
    result = SearchResult(budget, rel <= budget, [], selection,
                          steps=[SearchStep("all groups INT8", None, len(selection.groups), rel, delta1, seconds)])
    log.info("all %d groups in INT8: REL %.3e (budget %g)", len(selection.groups), rel, budget)
    if not result.met:
        for group in selection.groups:
            result.sensitivity[group] = _timed(evaluate, selection.only(group))[0]
            log.info("sensitivity %-20s REL %.3e", group, result.sensitivity[group])
        for group in sorted(selection.groups, key=lambda g: -result.sensitivity[g]):
            result.kept_groups.append(group)
            candidate = selection.without(result.kept_groups)
            rel, delta1, seconds = _timed(evaluate, candidate)
            result.steps.append(SearchStep(f"keep {group}", group, len(candidate.groups), rel, delta1, seconds))
            log.info("keep %-20s -> REL %.3e with %d group(s) in INT8", group, rel, len(candidate.groups))
            if rel <= budget:
                result.met, result.selection = True, candidate
                break
    result.seconds = time.perf_counter() - start
    return result
