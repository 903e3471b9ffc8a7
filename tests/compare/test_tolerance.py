"""The tolerance judge: NaN and non-finite values always fail; only what was measured is judged."""
from zoe_export.compare.tolerance import Tolerance


def test_the_depth_judge_fails_nan_and_non_finite_and_judges_only_what_was_measured():
    judge = Tolerance.from_bound({"max_rel": 0.05, "min_delta1": 0.95})
    assert judge.max_logit_rel == float("inf")
    assert Tolerance.from_bound({"max_rel": None}).depth_breaches({"rel": 9.0, "delta1": 0.0}) == []
    assert judge.depth_breaches({"rel": 0.01, "delta1": 0.99, "non_finite": 0}) == []
    assert judge.depth_breaches({"rel": 0.05, "delta1": 0.95}) == []  # the bounds themselves pass
    assert judge.depth_breaches({"rel": float("nan"), "delta1": float("nan")}) == ["REL", "delta1"]
    assert judge.depth_breaches({"rel": 0.01, "delta1": 0.99, "non_finite": 3}) == ["non-finite"]
    assert judge.depth_breaches({"rel": None, "delta1": 0.5}) == ["delta1"]
    assert judge.depth_failures({"rel": 0.2, "delta1": 0.5, "non_finite": 1}, "kitchen") == [
        "kitchen: 1 non-finite values", "kitchen: REL 0.2 > 0.05", "kitchen: delta1 0.500000 < 0.95"]


def test_the_precision_registry_and_the_command_line_load_it_without_numpy():
    import subprocess
    import sys

    code = "import sys, zoe_export.compare.tolerance, zoe_export.registry; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
