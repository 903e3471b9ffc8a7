"""Goals of a zoe-bench run as data: what is measured, the comparison, the value to reach, and how far off it was.

A goal is a :class:`Goal` (or, in the result JSON, the dict :meth:`Goal.as_dict` writes)::

    Goal("INT8 speedup", metric="speedup", comparison=">=", value=2.5, unit="x", measured=2.1, met=False)

and reads as one line: ``INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %``. Nothing here parses text: a record
that carries only a free-text ``target`` (as older results do) is shown with that text as written.
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .numbers import fmt_percent, number

#: the comparisons a goal may use, and what each means
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
}

#: metrics that are multiples of something, written 0.93x, when a goal gives no unit
_MULTIPLES = frozenset({"ratio", "speedup"})


@dataclass(frozen=True)
class Goal:
    """A promise about one measured figure, e.g. speedup >= 2.5x, with what the run measured and its verdict.

    ``met`` is the producer's verdict, which may weigh more than the figure (an INT8 speed-up counts only
    within its accuracy budget); None means not judged. :meth:`reached` says what the figure alone gives.
    """

    what: str
    metric: str
    comparison: str
    value: float
    unit: str = ""  # "x", "%", "ms", or "" for a plain number
    measured: float | None = None
    met: bool | None = None
    condition: str = ""  # words after the value, e.g. "within its accuracy budget"

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"goal comparison {self.comparison!r}: give one of {', '.join(COMPARISONS)}")

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Goal | None:
        """The goal a result record describes, or None where it lacks the structured fields or they are invalid."""
        metric, comparison, value = record.get("metric"), record.get("comparison"), number(record.get("value"))
        if not metric or comparison not in COMPARISONS or value is None:
            return None
        unit = record.get("unit")
        met = record.get("met")
        return cls(what=str(record.get("what") or "goal"), metric=str(metric), comparison=comparison, value=value,
                   unit=str(unit) if unit is not None else ("x" if metric in _MULTIPLES else ""),
                   measured=number(record.get("measured")), met=None if met is None else bool(met),
                   condition=str(record.get("condition") or ""))

    def as_dict(self) -> dict[str, Any]:
        """The record for the result JSON: the fields, and ``target`` as readable text."""
        return {"what": self.what, "metric": self.metric, "comparison": self.comparison, "value": self.value,
                "unit": self.unit, "condition": self.condition, "target": f"{self.metric} {self.target_text}",
                "measured": self.measured, "met": self.met}

    @property
    def target_text(self) -> str:
        """'>= 2.5x', '<= 1x', '< 40 ms', with the condition after it."""
        return " ".join(filter(None, (self.comparison, value_text(self.value, self.unit), self.condition)))

    def reached(self, measured: float | None = None) -> bool | None:
        """Whether ``measured`` (default: the goal's own) is on the right side of the value; None without a figure."""
        figure = self.measured if measured is None else measured
        return None if figure is None else COMPARISONS[self.comparison](figure, self.value)

    def shortfall_percent(self) -> float | None:
        """How far the measured figure is on the wrong side of the value, in percent of it (negative: to spare)."""
        if self.measured is None or self.value == 0:
            return None
        if self.comparison in ("<=", "<"):
            return 100 * (self.measured - self.value) / abs(self.value)
        if self.comparison in (">=", ">"):
            return 100 * (self.value - self.measured) / abs(self.value)
        return 100 * abs(self.measured - self.value) / abs(self.value)


def value_text(value: float, unit: str) -> str:
    """2.1 with unit 'x' -> '2.1x'; 40 with 'ms' -> '40 ms'; three significant digits."""
    return f"{value:.3g}{'' if unit in ('', 'x') else ' '}{unit}"


def _verdict(met: bool | None, shortfall: float | None) -> str:
    if met is None:
        return "not judged"
    if met:
        return f"met, {fmt_percent(-shortfall)} to spare" if shortfall is not None and shortfall < 0 else "met"
    return f"missed by {fmt_percent(shortfall)}" if shortfall is not None and shortfall > 0 else "missed"


def goal_line(goal: Goal | Mapping[str, Any]) -> str:
    """'INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %' (or 'met, 7 % to spare', 'not measured').

    ``goal`` is a :class:`Goal` or its record; a record without the structured fields shows its ``target`` text
    as written, and its verdict without a margin.
    """
    structured = goal if isinstance(goal, Goal) else Goal.from_dict(goal)
    if structured is not None:
        what, goal_text, measured = structured.what, f"goal {structured.target_text}", structured.measured
        unit, met, shortfall = structured.unit, structured.met, structured.shortfall_percent()
    else:
        what, goal_text = str(goal.get("what") or "goal"), f"goal {goal.get('target')}"
        measured, unit, met, shortfall = number(goal.get("measured")), "", goal.get("met"), None
    if measured is None:
        return f"{what}: not measured, {goal_text}"
    return f"{what}: {value_text(measured, unit)}, {goal_text}: {_verdict(met, shortfall)}"


def result_goals(result: Mapping[str, Any]) -> list[Goal | Mapping[str, Any]]:
    """The run's goals: a :class:`Goal` for each structured record, the record itself for a free-text one."""
    found: list[Goal | Mapping[str, Any]] = []
    for record in result.get("goals") or []:
        if isinstance(record, Goal):
            found.append(record)
        elif isinstance(record, Mapping):
            found.append(Goal.from_dict(record) or record)
    return found
