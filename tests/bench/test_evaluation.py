"""The paper's evaluation protocol: crops, valid pixels, the nine metrics, resizing, references."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from zoe_export.bench.evaluation import (
    PAPER_ROWS,
    PROTOCOLS,
    Box,
    Protocol,
    depth_errors,
    eigen_crop,
    evaluate,
    garg_crop,
    kb_crop,
    load_reference,
    mean_rid,
    relative_improvement,
    valid_mask,
)
from zoe_export.errors import ZoeExportError

NYU = PROTOCOLS["nyu"]
KITTI = PROTOCOLS["kitti"]


def nyu_gt(value: float = 2.0) -> np.ndarray:
    return np.full((480, 640), value, dtype=np.float32)


def halves_gt() -> np.ndarray:
    """NYU ground truth: 1 m in the left half, 3 m in the right half."""
    gt = nyu_gt(1.0)
    gt[:, 320:] = 3.0
    return gt


# --------------------------------------------------------------------------- crops


def test_nyu_eigen_crop_box():
    assert eigen_crop(480, 640) == Box(45, 471, 41, 601)
    assert int(valid_mask(nyu_gt(), NYU).sum()) == 426 * 560


def test_eigen_crop_rejects_other_sizes():
    with pytest.raises(ZoeExportError, match="480x640"):
        eigen_crop(240, 320)


def test_kitti_kb_and_garg_boxes():
    assert kb_crop(375, 1242) == Box(23, 375, 13, 1229)
    assert kb_crop(352, 1216) == Box(0, 352, 0, 1216)
    assert garg_crop(352, 1216) == Box(143, 349, 43, 1172)  # as ZOEDEPTH.md states
    with pytest.raises(ZoeExportError, match="352x1216"):
        kb_crop(300, 1242)


def test_kitti_scored_region_of_a_raw_frame():
    """At 375x1242 the scored pixels are the Garg box of the KB crop: rows 166:372, cols 56:1185."""
    gt = np.full((375, 1242), 20.0, dtype=np.float32)
    mask = valid_mask(KITTI.crop_input(gt), KITTI)
    rows, cols = np.nonzero(mask)
    assert (rows.min() + 23, rows.max() + 23 + 1) == (166, 372)
    assert (cols.min() + 13, cols.max() + 13 + 1) == (56, 1185)
    assert mask.sum() == (349 - 143) * (1172 - 43)


# --------------------------------------------------------------------------- metrics


def test_perfect_prediction():
    gt = halves_gt()
    errors = depth_errors(gt.copy(), gt, NYU)
    assert errors["a1"] == errors["a2"] == errors["a3"] == 1.0
    for metric in ("abs_rel", "sq_rel", "rmse", "rmse_log", "log_10", "silog"):
        assert errors[metric] == pytest.approx(0.0, abs=1e-9), metric
    assert errors["valid_pixels"] == 426 * 560


def test_prediction_scaled_by_1_1():
    gt = halves_gt()
    errors = depth_errors(gt * 1.1, gt, NYU)
    assert errors["abs_rel"] == pytest.approx(0.1, abs=1e-6)
    assert errors["a1"] == 1.0
    # valid pixels are half 1 m and half 3 m (the crop is centred on the split: cols 41:320 and 320:601)
    left, right = 320 - 41, 601 - 320
    mean_sq = (left * 1.0 + right * 9.0) / (left + right)
    assert errors["rmse"] == pytest.approx(0.1 * math.sqrt(mean_sq), rel=1e-6)
    assert errors["rmse_log"] == pytest.approx(math.log(1.1), rel=1e-6)
    assert errors["silog"] == pytest.approx(0.0, abs=1e-4)  # a pure scale error is scale-invariant


def test_pixels_outside_the_range_or_the_crop_do_not_count():
    gt = nyu_gt(2.0)
    gt[:45] = gt[471:] = 2.0  # outside the crop: measured, but not scored
    gt[100:110, 100:110] = 0.0  # no measurement
    gt[200:210, 200:210] = 15.0  # beyond max_depth (10 m)
    gt[300:310, 300:310] = 1e-4  # below min_depth
    pred = gt.copy()
    pred[:45] = 1e6
    pred[471:] = np.nan
    pred[:, :41] = -5.0
    pred[:, 601:] = np.inf
    pred[100:110, 100:110] = 1e6
    pred[200:210, 200:210] = 0.0
    pred[300:310, 300:310] = 1e6
    errors = depth_errors(pred, gt, NYU)
    assert errors["abs_rel"] == pytest.approx(0.0, abs=1e-9)
    assert errors["a1"] == 1.0
    assert errors["valid_pixels"] == 426 * 560 - 3 * 100


def test_prediction_is_clamped_to_the_range():
    gt = nyu_gt(8.0)
    errors = depth_errors(np.full_like(gt, 50.0), gt, NYU)  # clamped to 10 m
    assert errors["abs_rel"] == pytest.approx(2.0 / 8.0, rel=1e-6)
    assert errors["rmse"] == pytest.approx(2.0, rel=1e-6)


def test_metric_formulas_on_three_pixels():
    protocol = Protocol("whole", min_depth=1e-3, max_depth=10.0, depth_scale=1.0,
                        eval_box=lambda h, w: Box(0, h, 0, w))
    gt = np.array([[1.0, 2.0, 4.0]])
    pred = np.array([[1.1, 1.5, 6.0]])
    errors = depth_errors(pred, gt, protocol)
    # ratios max(g/p, p/g): 1.1, 4/3, 1.5 -> only the first is under 1.25; all under 1.5625
    assert errors["a1"] == pytest.approx(1 / 3)
    assert errors["a2"] == errors["a3"] == 1.0
    assert errors["abs_rel"] == pytest.approx((0.1 / 1 + 0.5 / 2 + 2.0 / 4) / 3)
    assert errors["sq_rel"] == pytest.approx((0.01 / 1 + 0.25 / 2 + 4.0 / 4) / 3)
    assert errors["rmse"] == pytest.approx(math.sqrt((0.01 + 0.25 + 4.0) / 3))
    logs = [math.log(1.1 / 1), math.log(1.5 / 2), math.log(6.0 / 4)]  # e = ln p - ln g
    assert errors["rmse_log"] == pytest.approx(math.sqrt(sum(e * e for e in logs) / 3))
    assert errors["log_10"] == pytest.approx(sum(abs(e) for e in logs) / math.log(10) / 3)
    mean = sum(logs) / 3
    assert errors["silog"] == pytest.approx(100 * math.sqrt(sum(e * e for e in logs) / 3 - mean**2))
    assert errors["silog"] == pytest.approx(28.3497, abs=1e-3)  # worked by hand
    assert errors["rmse"] == pytest.approx(1.191638, abs=1e-6)


def test_resize_to_ground_truth_is_bilinear_align_corners():
    """A 2x2 plane upsampled with align_corners=True is the same plane with corners on corners."""
    small = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    rows = np.linspace(0.0, 1.0, 480)[:, None]
    cols = np.linspace(0.0, 1.0, 640)[None, :]
    plane = (1.0 + 2.0 * rows + 1.0 * cols).astype(np.float32)
    assert depth_errors(small, plane, NYU)["abs_rel"] < 1e-6
    # half-pixel-centred sampling (align_corners=False) of the same 2x2 is a different map
    centred_rows = np.clip((np.arange(480) + 0.5) * 2 / 480 - 0.5, 0, 1)[:, None]
    centred_cols = np.clip((np.arange(640) + 0.5) * 2 / 640 - 0.5, 0, 1)[None, :]
    other = (1.0 + 2.0 * centred_rows + centred_cols).astype(np.float32)
    assert depth_errors(small, other, NYU)["abs_rel"] > 1e-2


def test_no_valid_pixel_gives_none():
    assert depth_errors(nyu_gt(), np.zeros((480, 640), np.float32), NYU) is None


def test_bad_prediction_shape():
    with pytest.raises(ZoeExportError, match="HxW"):
        depth_errors(np.zeros((2, 3, 4, 5)), nyu_gt(), NYU)


# --------------------------------------------------------------------------- evaluate


def kitti_samples(count: int = 2):
    rng = np.random.default_rng(0)
    for index in range(count):
        gt = rng.uniform(2.0, 70.0, (375, 1242)).astype(np.float32)
        gt[rng.random(gt.shape) < 0.5] = 0.0  # sparse LiDAR ground truth
        rgb = np.full((375, 1242, 3), index, dtype=np.uint8)
        yield f"frame{index}", rgb, gt


def test_evaluate_kitti_crops_the_image_and_scores_a_perfect_predictor():
    truth = {index: gt for index, (_, _, gt) in enumerate(kitti_samples())}
    seen = []

    def predict(rgb):
        seen.append(rgb.shape)
        return truth[int(rgb[0, 0, 0])][23:375, 13:1229]  # depth of the KB-cropped frame

    result = evaluate(predict, kitti_samples(), KITTI, progress=False)
    assert seen == [(352, 1216, 3)] * 2
    assert result["count"] == 2 and result["skipped"] == 0 and not result["interrupted"]
    assert result["mean"]["a1"] == 1.0
    assert result["mean"]["abs_rel"] == pytest.approx(0.0, abs=1e-9)
    assert [row["name"] for row in result["per_image"]] == ["frame0", "frame1"]


def test_evaluate_accepts_full_frame_and_small_predictions():
    _, _, gt = next(kitti_samples(1))
    full = depth_errors(gt, gt, "kitti")  # a full-frame prediction is cropped like the ground truth
    assert full["abs_rel"] == pytest.approx(0.0, abs=1e-9)
    small = depth_errors(np.full((192, 640), 10.0), np.where(gt > 0, 10.0, 0.0), KITTI)
    assert small["abs_rel"] == pytest.approx(0.0, abs=1e-9)


def test_evaluate_skips_images_without_valid_pixels_and_honours_limit():
    samples = [("empty", np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640), np.float32)),
               ("good", np.zeros((480, 640, 3), np.uint8), nyu_gt(2.0)),
               ("never", np.zeros((480, 640, 3), np.uint8), nyu_gt(2.0))]
    result = evaluate(lambda rgb: np.full((48, 64), 2.2), samples, "nyu", progress=False, limit=2)
    assert result["count"] == 1
    assert result["skipped"] == 1 and result["skipped_names"] == ["empty"]
    assert result["mean"]["abs_rel"] == pytest.approx(0.1, abs=1e-6)


def test_ctrl_c_returns_what_was_measured():
    calls = []

    def predict(rgb):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np.full((480, 640), 2.0)

    samples = [(f"s{i}", np.zeros((480, 640, 3), np.uint8), nyu_gt()) for i in range(5)]
    result = evaluate(predict, samples, NYU, progress=False)
    assert result["interrupted"] is True
    assert result["count"] == 2 and result["mean"]["a1"] == 1.0


def test_unknown_protocol():
    with pytest.raises(ZoeExportError, match="nyu, kitti"):
        evaluate(lambda rgb: rgb, [], "diode", progress=False)


# --------------------------------------------------------------------------- references


def test_relative_improvement_signs():
    reference = {"a1": 0.95, "abs_rel": 0.08, "rmse": 0.30}
    better = relative_improvement({"a1": 0.969, "abs_rel": 0.072, "rmse": 0.27}, reference)
    assert better["ri"]["a1"] == pytest.approx(0.02)
    assert better["ri"]["abs_rel"] == pytest.approx(0.1)
    assert better["ri"]["rmse"] == pytest.approx(0.1)
    assert better["mri_theta"] == pytest.approx((0.02 + 0.1 + 0.1) / 3)
    assert better["rel"] == pytest.approx(0.1)
    worse = relative_improvement({"a1": 0.9, "abs_rel": 0.1, "rmse": 0.4}, reference)
    assert worse["mri_theta"] < 0 and worse["rel"] < 0
    assert mean_rid([better["rel"], worse["rel"]]) == pytest.approx((0.1 - 0.25) / 2)


def test_relative_improvement_of_an_evaluate_result_against_a_partial_row():
    result = {"mean": {"a1": 0.96, "abs_rel": 0.07, "rmse": 0.25}, "count": 654}
    against = relative_improvement(result, {"abs_rel": 0.075})
    assert against["mri_theta"] is None and against["missing"] == ["a1", "rmse"]
    assert against["rel"] == pytest.approx((0.075 - 0.07) / 0.075)


def test_paper_rows_carry_their_source():
    for key, row in PAPER_ROWS.items():
        assert row.source and row.metrics, key
        assert key == f"{row.model}/{row.dataset}"
        assert relative_improvement(dict(row.metrics), row)["rel"] in (None, 0.0)


def test_load_reference_json(tmp_path):
    path = tmp_path / "ref.json"
    path.write_text(json.dumps({"model": "mine", "delta1": 0.95, "REL": 0.08, "RMSE": 0.3, "log10": 0.03}))
    assert load_reference(path) == {"a1": 0.95, "abs_rel": 0.08, "rmse": 0.3, "log_10": 0.03}
    path.write_text(json.dumps({"acc": 0.9}))
    with pytest.raises(ZoeExportError, match="unknown metric"):
        load_reference(path)
    path.write_text("{not json")
    with pytest.raises(ZoeExportError, match="JSON"):
        load_reference(path)
    with pytest.raises(ZoeExportError, match="does not exist"):
        load_reference(tmp_path / "missing.json")


def test_model_resolution_predict_flip_averages_at_the_model_size():
    from types import SimpleNamespace

    from zoe_export import preprocess
    from zoe_export.bench.eval_run import model_resolution_predict

    ramp = np.linspace(1.0, 3.0, 64, dtype=np.float32)  # left-right asymmetric, so the flip shows
    calls = []

    def infer_batch(x):
        calls.append(x.shape)
        return x[:, :1] * ramp + 1.0

    rgb = np.random.default_rng(2).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    sizes = []
    engine = SimpleNamespace(size=(32, 64), fit="stretch", infer_batch=infer_batch, is_frame_graph=False,
                             model_size=lambda h, w, pad_input=None: sizes.append((h, w, pad_input)) or (32, 64))
    depth = model_resolution_predict(engine)(rgb)
    assert sizes == [(40, 50, False)]  # the model size asked of the engine for the unpadded image
    x = preprocess.prepare(rgb, (32, 64), pad_input=False).batch
    assert calls == [(2, 3, 32, 64)] and depth.shape == (32, 64)
    np.testing.assert_array_equal(depth, (infer_batch(x)[0, 0] + infer_batch(x[..., ::-1])[0, 0][..., ::-1]) / 2)
