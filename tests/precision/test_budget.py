"""The accuracy budget search: greedy add-back by sensitivity, every step recorded."""
import pytest

from zoe_export.precision import search_budget
from zoe_export.precision.int8 import Int8Selection

COST = {"a": 0.004, "b": 0.001, "c": 0.003, "d": 0.0005}  # each group's REL when it alone is INT8


def _selection():
    groups = {g: (f"{g}1", f"{g}2") for g in COST}
    return Int8Selection(tuple(n for v in groups.values() for n in v), {}, groups)


def _evaluate(selection):  # REL adds up over the groups in INT8
    return sum(COST[g] for g in selection.groups), 1.0 - sum(COST[g] for g in selection.groups)


def test_groups_go_back_most_sensitive_first_until_the_budget_holds():
    result = search_budget(_selection(), _evaluate, budget=0.002)
    assert result.met
    assert result.sensitivity == pytest.approx(COST)
    assert result.kept_groups == ["a", "c"]  # 0.0085 -> 0.0045 -> 0.0015
    assert sorted(result.selection.groups) == ["b", "d"]
    assert "a1" in result.selection.kept and "b1" in result.selection.quantize
    assert [s.rel for s in result.steps] == pytest.approx([0.0085, 0.0045, 0.0015])
    table = result.table("fp16")
    assert "a" in table and "fp16" in table and "met" in table


def test_a_tighter_budget_keeps_more_out_of_int8():
    loose = search_budget(_selection(), _evaluate, budget=0.01)
    tight = search_budget(_selection(), _evaluate, budget=0.0006)
    assert len(loose.selection.groups) == 4 and not loose.sensitivity  # met at once: nothing measured
    assert len(tight.selection.groups) == 1 and tight.kept_groups == ["a", "c", "b"]


def test_an_unreachable_budget_is_reported_not_met():
    result = search_budget(_selection(), lambda s: (0.1, 0.5), budget=0.01)
    assert not result.met and sorted(result.kept_groups) == ["a", "b", "c", "d"]
    assert "NOT met" in result.table("fp32")
