"""Goals as data: metric, comparison and value; judged by comparing numbers, never by reading text back."""
import dataclasses
import json

import pytest

from zoe_export.bench.report import Goal, goal_line
from zoe_export.bench.report.goals import result_goals


def test_goal_lines_say_met_or_missed_by_how_much(result):
    assert goal_line(result["goals"][1]) == "INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %"
    assert goal_line(result["goals"][0]) == "ONNX Runtime FP32 vs PyTorch eager: 0.93x, goal <= 1x: met, 7 % to spare"
    latency = Goal("batch 1 latency", metric="latency p50", comparison="<", value=40, unit="ms", measured=41.0,
                   met=False)
    assert goal_line(latency) == "batch 1 latency: 41 ms, goal < 40 ms: missed by 2 %"
    unmeasured = dataclasses.replace(latency, measured=None, met=None)
    assert goal_line(unmeasured) == "batch 1 latency: not measured, goal < 40 ms"
    assert goal_line(dataclasses.replace(latency, met=None)).endswith(": not judged")


def test_records_become_goals_and_back():
    goal = Goal.from_dict({"what": "INT8 speedup", "metric": "speedup", "comparison": ">=", "value": 2.5,
                           "measured": 2.1, "met": False, "condition": "within its accuracy budget"})
    assert goal == Goal("INT8 speedup", "speedup", ">=", 2.5, "x", 2.1, False, "within its accuracy budget")
    assert goal.unit == "x"  # a ratio or speedup is a multiple when the record gives no unit
    record = json.loads(json.dumps(goal.as_dict()))
    assert Goal.from_dict(record) == goal
    assert record["target"] == "speedup >= 2.5x within its accuracy budget"
    assert goal_line(goal) == "INT8 speedup: 2.1x, goal >= 2.5x within its accuracy budget: missed by 16 %"


def test_the_verdict_comes_from_comparing_numbers():
    goal = Goal("ratio", "ratio", "<=", 1.0, "x")
    assert goal.reached() is None and goal.reached(0.93) is True and goal.reached(1.07) is False
    assert dataclasses.replace(goal, measured=1.0).reached() is True
    assert dataclasses.replace(goal, comparison="<").reached(1.0) is False
    assert dataclasses.replace(goal, measured=1.2).shortfall_percent() == pytest.approx(20.0)
    assert Goal("x", "speedup", ">=", 2.5, measured=3.0).shortfall_percent() == pytest.approx(-20.0)
    assert Goal("x", "speedup", ">=", 0.0, measured=3.0).shortfall_percent() is None
    with pytest.raises(ValueError, match="give one of"):
        Goal("x", "ratio", "=<", 1.0)


def test_text_targets_are_shown_as_written_not_parsed():
    """A record without the structured fields (older results) keeps its words; no number is read out of them."""
    legacy = {"what": "ORT vs torch", "target": "ratio <= 1.0", "measured": 0.93, "met": True}
    assert Goal.from_dict(legacy) is None
    assert goal_line(legacy) == "ORT vs torch: 0.93, goal ratio <= 1.0: met"
    assert goal_line({"what": "odd", "target": "fast enough", "measured": 3, "met": False}) == \
        "odd: 3, goal fast enough: missed"
    assert "not measured" in goal_line({"what": "x", "target": "ratio <= 1", "measured": None, "met": None})
    bad = {"what": "typo", "metric": "ratio", "comparison": "=<", "value": 1.0, "target": "ratio =< 1"}
    assert Goal.from_dict(bad) is None and goal_line(bad) == "typo: not measured, goal ratio =< 1"


def test_result_goals_are_goals_where_the_record_allows(result):
    result["goals"].append({"what": "legacy", "target": "fast", "measured": 1, "met": True})
    result["goals"].append("not a record")
    first, second, legacy = result_goals(result)
    assert isinstance(first, Goal) and isinstance(second, Goal) and legacy["target"] == "fast"
    assert result_goals({}) == []
