import numpy as np
import pytest

from zoe_export.compare import Tolerance, compare_outputs, depth_metrics, logits_metrics

FP32 = Tolerance(max_rel=1e-5, min_delta1=1.0, max_logit_rel=1e-4)


def test_depth_metrics_on_known_values():
    ref = np.array([1.0, 2.0, 4.0, 10.0])
    pred = np.array([1.1, 2.0, 4.0, 14.0])  # 10 % and 40 % off: the second falls outside delta1
    m = depth_metrics(pred, ref)
    assert m["rel"] == pytest.approx((0.1 + 0.4) / 4)
    assert m["rmse"] == pytest.approx(np.sqrt((0.01 + 16) / 4))
    assert m["delta1"] == pytest.approx(0.75) and m["max_abs"] == pytest.approx(4.0)


def test_non_finite_always_fails():
    ref = np.ones((1, 1, 2, 2))
    pred = ref.copy()
    pred[0, 0, 0, 0] = np.nan
    [result] = compare_outputs({"metric_depth": pred}, {"metric_depth": ref}, FP32)
    assert not result.passed and any("non-finite" in f for f in result.failures)
    assert result.metrics["delta1"] == 0.75


def test_every_failure_is_reported_at_once():
    ref = {"metric_depth": np.ones((2, 1, 2, 2)), "domain_logits": np.array([[2.0, -1.0], [-1.0, 3.0]])}
    pred = {"metric_depth": np.full((2, 1, 2, 2), 1.5), "domain_logits": np.array([[2.0, -1.0], [4.0, 3.0]])}
    results = compare_outputs(pred, ref, FP32)
    failures = [f for r in results for f in r.failures]
    assert any("REL" in f for f in failures) and any("delta1" in f for f in failures)
    assert any("another head for 50%" in f for f in failures) and any("max abs" in f for f in failures)


def test_logits_metrics_route_agreement():
    m = logits_metrics(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.5], [1.0, 0.0]]))
    assert m["route_agreement"] == 0.5 and m["max_abs"] == 1.0


def test_missing_output_and_shape_mismatch_fail():
    ref = {"metric_depth": np.ones((1, 1, 2, 2)), "domain_logits": np.ones((1, 2))}
    results = compare_outputs({"metric_depth": np.ones((1, 1, 2, 3))}, ref, FP32)
    assert [r.passed for r in results] == [False, False]


def test_a_nan_reference_fails_compare_outputs():
    ref = np.ones((1, 1, 2, 2))
    ref[0, 0, 0, 0] = np.nan  # every prediction is finite, REL is NaN: it used to pass
    loose = Tolerance(max_rel=0.1, min_delta1=0.0, max_logit_rel=1.0)
    [result] = compare_outputs({"metric_depth": np.ones((1, 1, 2, 2))}, {"metric_depth": ref}, loose)
    assert result.failures == ["metric_depth: REL nan > 0.1"]
