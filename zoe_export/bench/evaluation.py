"""Ground-truth evaluation as the ZoeDepth paper scores NYU Depth v2 and KITTI (Eigen split).

Per image: the prediction is resized bilinearly (align_corners=True) to the ground truth, clamped to
[min_depth, max_depth], and scored over the valid pixels, ``min_depth < gt < max_depth`` inside the
protocol's crop (NYU: Eigen crop; KITTI: Garg crop of the KB-cropped frame). The nine metrics are
averaged per image, then over the set:

* a1, a2, a3: share of pixels with max(g/p, p/g) < 1.25, 1.25^2, 1.25^3 (higher is better)
* abs_rel = mean |g-p|/g, sq_rel = mean (g-p)^2/g, rmse = sqrt(mean (g-p)^2),
  rmse_log = sqrt(mean (ln g - ln p)^2), log_10 = mean |log10 g - log10 p|,
  silog = 100 sqrt(mean e^2 - (mean e)^2) with e = ln p - ln g (lower is better)

The paper also averages the prediction with the run on the horizontally flipped image; that is the
``predict`` callable's job (:func:`zoe_export.preprocess.predict` does it with ``flip=True``). For the
closest match to the paper, return the flip-averaged depth at the model's own resolution and let
:func:`evaluate` resize it: the bilinear resize here is the paper's, a bicubic restore first is not.

:func:`relative_improvement` compares a result with a reference row: RI = (r - t)/r for
lower-is-better metrics and (t - r)/r for higher-is-better ones, so positive means better than the
reference. mRI-theta is the mean RI over delta1 (a1), REL (abs_rel) and RMSE on one dataset; mRID
(:func:`mean_rid`) is the mean REL improvement over datasets.
"""
from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .._log import log
from ..errors import ZoeExportError
from ..preprocess import resize_bilinear

METRICS = ("a1", "a2", "a3", "abs_rel", "sq_rel", "rmse", "rmse_log", "log_10", "silog")
HIGHER_IS_BETTER = frozenset({"a1", "a2", "a3"})
#: the metrics mRI-theta averages: delta1, REL, RMSE
MRI_THETA_METRICS = ("a1", "abs_rel", "rmse")

#: names accepted in reference JSON files for the metric keys used here
_ALIASES = {
    "delta1": "a1", "d1": "a1", "δ1": "a1",
    "delta2": "a2", "d2": "a2", "δ2": "a2",
    "delta3": "a3", "d3": "a3", "δ3": "a3",
    "rel": "abs_rel", "absrel": "abs_rel", "sqrel": "sq_rel",
    "log10": "log_10", "rmselog": "rmse_log",
}

#: descriptive keys a reference or a per-image row may carry besides metrics
_NOT_METRICS = frozenset({"model", "dataset", "source", "name", "valid_pixels"})

PathLike = str | os.PathLike


# --------------------------------------------------------------------------- crops


class Box(NamedTuple):
    """A rectangle of rows ``top:bottom`` and columns ``left:right``."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.bottom - self.top, self.right - self.left

    def apply(self, array: np.ndarray) -> np.ndarray:
        """The box's part of an HxW or HxWxC array."""
        return array[self.top : self.bottom, self.left : self.right]


NYU_SIZE = (480, 640)
KITTI_KB_SIZE = (352, 1216)


def eigen_crop(height: int, width: int) -> Box:
    """The Eigen crop of NYU Depth v2: rows 45:471, columns 41:601 of a 480x640 frame."""
    if (height, width) != NYU_SIZE:
        raise ZoeExportError(
            f"NYU ground truth is {height}x{width}, but the Eigen crop is defined on 480x640 frames; "
            "use the original 480x640 NYU Depth v2 depth maps."
        )
    return Box(45, 471, 41, 601)


def kb_crop(height: int, width: int) -> Box:
    """The KITTI benchmark crop to 352x1216: bottom rows, centred columns."""
    crop_h, crop_w = KITTI_KB_SIZE
    if height < crop_h or width < crop_w:
        raise ZoeExportError(
            f"KITTI frame is {height}x{width}, smaller than the 352x1216 benchmark crop; "
            "use the raw KITTI images (about 375x1242) and their projected depth maps."
        )
    top = height - crop_h
    left = (width - crop_w) // 2
    return Box(top, top + crop_h, left, left + crop_w)


def garg_crop(height: int, width: int) -> Box:
    """The Garg crop, as fractions of the (KB-cropped) KITTI frame: 143:349, 43:1172 at 352x1216."""
    return Box(
        int(0.40810811 * height), int(0.99189189 * height),
        int(0.03594771 * width), int(0.96405229 * width),
    )


# --------------------------------------------------------------------------- protocols


@dataclass(frozen=True)
class Protocol:
    """How one dataset is scored.

    ``input_box`` (KITTI's KB crop) is cut from the image before predicting and from the ground
    truth before scoring; ``eval_box`` (Eigen or Garg crop) is the scored region of that ground
    truth. ``depth_scale`` is the ground-truth PNG's units per metre.
    """

    name: str
    min_depth: float
    max_depth: float
    depth_scale: float
    eval_box: Callable[[int, int], Box]
    input_box: Callable[[int, int], Box] | None = None

    def crop_input(self, array: np.ndarray) -> np.ndarray:
        """Apply the input crop (if any) to an image or a depth map of the original frame."""
        if self.input_box is None:
            return array
        return self.input_box(*array.shape[:2]).apply(array)


PROTOCOLS: dict[str, Protocol] = {
    "nyu": Protocol("nyu", min_depth=1e-3, max_depth=10.0, depth_scale=1000.0, eval_box=eigen_crop),
    "kitti": Protocol("kitti", min_depth=1e-3, max_depth=80.0, depth_scale=256.0, eval_box=garg_crop,
                      input_box=kb_crop),
}


def get_protocol(protocol: Protocol | str) -> Protocol:
    """A :class:`Protocol`, or the one named ``"nyu"`` / ``"kitti"``."""
    if isinstance(protocol, Protocol):
        return protocol
    try:
        return PROTOCOLS[protocol]
    except (KeyError, TypeError):
        raise ZoeExportError(
            f"unknown evaluation protocol {protocol!r}; choose one of: {', '.join(PROTOCOLS)}."
        ) from None


# --------------------------------------------------------------------------- per-image metrics


def _as_depth_map(depth: np.ndarray, what: str) -> np.ndarray:
    """Squeeze (1,H,W) / (1,1,H,W) to HxW float64, or raise."""
    array = np.asarray(depth, dtype=np.float64)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or min(array.shape) < 1:
        raise ZoeExportError(f"{what} has shape {np.shape(depth)}; expected an HxW depth map in metres.")
    return array


def _aligned_prediction(pred: np.ndarray, gt_full: np.ndarray, gt: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Bring the prediction onto the scored ground truth's grid.

    A prediction of the original frame's size is cropped like the ground truth; any other size is
    taken as depth of the (input-cropped) image and resized bilinearly, align_corners=True.
    """
    if protocol.input_box is not None and pred.shape == gt_full.shape and gt.shape != gt_full.shape:
        pred = protocol.crop_input(pred)
    if pred.shape != gt.shape:
        pred = resize_bilinear(pred, gt.shape).astype(np.float64)
    return pred


def _clamped(pred: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Clamp to the protocol's range; NaN and -inf go to the minimum, +inf to the maximum."""
    pred = np.nan_to_num(pred, nan=protocol.min_depth, posinf=protocol.max_depth, neginf=protocol.min_depth)
    return np.clip(pred, protocol.min_depth, protocol.max_depth)


def valid_mask(gt: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Pixels that count: min_depth < gt < max_depth inside the protocol's eval crop."""
    gt = np.asarray(gt)
    inside = np.zeros(gt.shape, dtype=bool)
    box = protocol.eval_box(*gt.shape)
    inside[box.top : box.bottom, box.left : box.right] = True
    with np.errstate(invalid="ignore"):
        in_range = (gt > protocol.min_depth) & (gt < protocol.max_depth)
    return inside & in_range


def metrics_from_pixels(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """The nine metrics over matching 1-D arrays of valid ground truth and (clamped) prediction."""
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    ratio = np.maximum(gt / pred, pred / gt)
    diff = gt - pred
    log_err = np.log(pred) - np.log(gt)
    variance = max(float(np.mean(log_err**2) - np.mean(log_err) ** 2), 0.0)  # rounding can dip below 0
    return {
        "a1": float(np.mean(ratio < 1.25)),
        "a2": float(np.mean(ratio < 1.25**2)),
        "a3": float(np.mean(ratio < 1.25**3)),
        "abs_rel": float(np.mean(np.abs(diff) / gt)),
        "sq_rel": float(np.mean(diff**2 / gt)),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "rmse_log": float(np.sqrt(np.mean(log_err**2))),
        "log_10": float(np.mean(np.abs(np.log10(gt) - np.log10(pred)))),
        "silog": float(100.0 * math.sqrt(variance)),
    }


def depth_errors(pred: np.ndarray, gt: np.ndarray, protocol: Protocol | str) -> dict[str, float] | None:
    """The nine metrics of one image, or None when it has no valid pixel.

    ``gt`` is the dataset's ground truth in metres (original frame; 0 or NaN = no measurement).
    ``pred`` is depth in metres of the protocol's input (the KB-cropped image for KITTI) at any size,
    or of the original frame at the ground truth's size. The result also holds ``valid_pixels``.
    """
    protocol = get_protocol(protocol)
    gt_full = _as_depth_map(gt, "ground truth")
    pred = _as_depth_map(pred, "prediction")
    gt_scored = protocol.crop_input(gt_full)
    pred = _clamped(_aligned_prediction(pred, gt_full, gt_scored, protocol), protocol)
    mask = valid_mask(gt_scored, protocol)
    count = int(mask.sum())
    if count == 0:
        return None
    return {**metrics_from_pixels(gt_scored[mask], pred[mask]), "valid_pixels": count}


# --------------------------------------------------------------------------- the evaluation loop


@dataclass
class _Tally:
    per_image: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    interrupted: bool = False

    def summary(self, protocol: Protocol) -> dict:
        means = {m: float(np.mean([row[m] for row in self.per_image])) for m in METRICS} if self.per_image else {}
        return {
            "protocol": protocol.name,
            "min_depth": protocol.min_depth,
            "max_depth": protocol.max_depth,
            "count": len(self.per_image),
            "mean": means,
            "per_image": self.per_image,
            "skipped": len(self.skipped),
            "skipped_names": self.skipped,
            "interrupted": self.interrupted,
        }


def _total(samples: Iterable, limit: int | None) -> int | None:
    """How many samples the progress bar should expect, when that is known."""
    try:
        size = len(samples)  # type: ignore[arg-type]
    except TypeError:
        return limit
    return size if limit is None else min(size, limit)


def _score_sample(predict: Callable[[np.ndarray], np.ndarray], sample, protocol: Protocol) -> dict | None:
    """Predict one sample and score it."""
    _, rgb, gt = sample
    depth = predict(protocol.crop_input(np.asarray(rgb)))
    return depth_errors(depth, gt, protocol)


def evaluate(
    predict: Callable[[np.ndarray], np.ndarray],
    samples: Iterable,
    protocol: Protocol | str,
    progress: bool = True,
    limit: int | None = None,
) -> dict:
    """Score ``predict(rgb) -> depth (metres, any size)`` over ``(name, rgb, depth_gt)`` samples.

    The image handed to ``predict`` is input-cropped (KITTI: KB crop to 352x1216). Returns
    ``count``, ``mean`` (metric -> mean over images), ``per_image`` (name and metrics per image),
    ``skipped`` / ``skipped_names`` (images without a valid pixel) and ``interrupted``: Ctrl-C stops
    the loop and returns what was measured so far.
    """
    from tqdm import tqdm

    protocol = get_protocol(protocol)
    if limit is not None and limit < 1:
        raise ZoeExportError(f"limit must be a positive number of images, got {limit}.")
    tally = _Tally()
    with tqdm(total=_total(samples, limit), desc=f"eval {protocol.name}", unit="img", disable=not progress) as bar:
        try:
            for sample in itertools.islice(samples, limit):
                errors = _score_sample(predict, sample, protocol)
                if errors is None:
                    log.warning("%s: no valid ground-truth pixel in the crop; skipped", sample[0])
                    tally.skipped.append(str(sample[0]))
                else:
                    tally.per_image.append({"name": str(sample[0]), **errors})
                bar.update()
        except KeyboardInterrupt:
            tally.interrupted = True
            log.warning("interrupted: %d images scored", len(tally.per_image))
    return tally.summary(protocol)


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class PaperRow:
    """Published numbers of one model on one dataset, with where they were read."""

    model: str
    dataset: str
    metrics: Mapping[str, float]
    source: str


_RELEASE_NOTES = ("isl-org/ZoeDepth GitHub release v1.0 notes, 'Performance (REL)' table, NYU column "
                  "(https://github.com/isl-org/ZoeDepth/releases); the authors' own summary of the paper")

#: Only numbers confirmed from a readable source are listed. The paper's full Table 1 (NYU) and
#: Table 4 (KITTI) rows could not be read here, so delta1/RMSE and the KITTI rows are absent: pass
#: the full row as a JSON file (:func:`load_reference`) for mRI-theta.
PAPER_ROWS: dict[str, PaperRow] = {
    "ZoeD-M12-N/nyu": PaperRow("ZoeD-M12-N", "nyu", {"abs_rel": 0.075}, _RELEASE_NOTES),
    "ZoeD-M12-NK/nyu": PaperRow("ZoeD-M12-NK", "nyu", {"abs_rel": 0.077}, _RELEASE_NOTES),
}


def _metric_key(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = key if key in METRICS else _ALIASES.get(key.replace("_", ""), key)
    if key not in METRICS:
        raise ZoeExportError(
            f"unknown metric {name!r} in the reference; use: {', '.join(METRICS)} "
            "(delta1/rel/log10 are accepted as aliases)."
        )
    return key


def reference_metrics(reference: Mapping | PaperRow) -> dict[str, float]:
    """Normalise a reference (PaperRow, evaluate() result, or metric -> value mapping)."""
    if isinstance(reference, PaperRow):
        reference = reference.metrics
    elif isinstance(reference, Mapping) and isinstance(reference.get("mean"), Mapping):
        reference = reference["mean"]
    elif isinstance(reference, Mapping) and isinstance(reference.get("metrics"), Mapping):
        reference = reference["metrics"]
    if not isinstance(reference, Mapping):
        raise ZoeExportError("a reference must map metric names to numbers, e.g. {\"a1\": 0.955, \"abs_rel\": 0.075}.")
    metrics = {}
    for name, value in reference.items():
        if name in _NOT_METRICS:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ZoeExportError(f"reference value of {name!r} is {value!r}; it must be a finite number.")
        metrics[_metric_key(name)] = float(value)
    return metrics


def load_reference(path: PathLike) -> dict[str, float]:
    """Read a reference row from JSON: ``{"a1": 0.955, "abs_rel": 0.075, "rmse": 0.27}``.

    The metrics may also sit under ``"metrics"`` or ``"mean"`` (an earlier evaluate() result).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ZoeExportError(f"reference file {path} does not exist; check the path.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZoeExportError(f"cannot read reference {path}: {exc}. It must be a JSON object of metrics.") from exc
    metrics = reference_metrics(data)
    if not metrics:
        raise ZoeExportError(f"reference {path} holds no metric; add e.g. \"abs_rel\": 0.075.")
    return metrics


def _improvement(metric: str, value: float, reference: float) -> float:
    if reference == 0:
        raise ZoeExportError(f"reference {metric} is 0; a relative improvement needs a non-zero reference.")
    delta = value - reference if metric in HIGHER_IS_BETTER else reference - value
    return delta / reference


def relative_improvement(result: Mapping, reference: Mapping | PaperRow) -> dict:
    """Relative improvement of ``result`` over ``reference`` (positive = better than the reference).

    ``result`` is an :func:`evaluate` result or a metric -> value mapping. Returns ``ri`` (metric ->
    RI for every metric both hold), ``mri_theta`` (mean RI over a1, abs_rel, rmse; None when one is
    missing), ``rel`` (RI of abs_rel, the term mRID averages; None when missing) and ``missing``.
    """
    measured = reference_metrics(result)
    ref = reference_metrics(reference)
    ri = {m: _improvement(m, measured[m], ref[m]) for m in METRICS if m in measured and m in ref}
    missing = [m for m in MRI_THETA_METRICS if m not in ri]
    theta = None if missing else float(np.mean([ri[m] for m in MRI_THETA_METRICS]))
    return {"ri": ri, "mri_theta": theta, "rel": ri.get("abs_rel"), "missing": missing}


def mean_rid(rel_improvements: Iterable[float]) -> float:
    """mRID: the mean over datasets of the REL improvements (``relative_improvement(...)['rel']``)."""
    values = [float(v) for v in rel_improvements]
    if not values:
        raise ZoeExportError("mRID needs the REL improvement of at least one dataset.")
    return float(np.mean(values))


__all__ = [
    "METRICS", "MRI_THETA_METRICS", "PAPER_ROWS", "PROTOCOLS", "Box", "PaperRow", "Protocol",
    "depth_errors", "eigen_crop", "evaluate", "garg_crop", "get_protocol", "kb_crop", "load_reference",
    "mean_rid", "metrics_from_pixels", "reference_metrics", "relative_improvement", "valid_mask",
]
