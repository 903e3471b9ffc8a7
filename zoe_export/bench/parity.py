"""``zoe-bench --parity``: each backend against the FP32 reference on the same prepared inputs.

Inputs go through the shared preprocessing once, at the model size; every backend gets the same
arrays, so the comparison is of the models alone. Bounds per precision: FP32 and FP16 from
:data:`~zoe_export.compare.metrics.PRECISIONS`, INT8 the budget recorded with the graph or engine.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..compare.metrics import PRECISIONS, depth_metrics

PICTURES = 2  # side-by-side pictures per backend (the first images)


def prepared_inputs(images: dict[str, np.ndarray], size: tuple[int, int]) -> dict[str, np.ndarray]:
    from .. import preprocess

    return {name: preprocess.prepare(rgb, size, pad_input=True).batch for name, rgb in images.items()}


def bound(spec) -> dict | None:
    """The pass/fail bound of a backend's precision; None when there is none to judge by."""
    if spec.precision in ("fp32", "fp16", "amp-fp16"):
        tol = PRECISIONS["fp16" if "fp16" in spec.precision else "fp32"]
        return {"max_rel": tol.max_rel, "min_delta1": tol.min_delta1}
    budget = int8_budget(spec)
    return None if budget is None else {"max_rel": budget, "min_delta1": 0.0}


def int8_budget(spec) -> float | None:
    """The INT8 accuracy budget (--max-rel-drift) recorded in the graph's metadata or the engine's manifest."""
    if spec.kind == "tensorrt":
        from ..trt.manifest import read_manifest

        value = read_manifest(spec.source).get("islands", {}).get("int8_budget_rel")
    else:
        from ..export.metadata import read_metadata

        value = read_metadata(spec.source).get("int8_budget_rel")
    return float(value) if value else None


def compare_backend(spec, reference_name: str, inputs: dict[str, np.ndarray], references: list[np.ndarray],
                    outputs: list[np.ndarray], folder: Path | None) -> dict:
    per_image = {name: depth_metrics(out[0, 0], ref[0, 0]) for name, out, ref in zip(inputs, outputs, references)}
    limits = bound(spec)
    overall = {"rel": float(np.mean([m["rel"] for m in per_image.values()])),
               "rmse": float(np.mean([m["rmse"] for m in per_image.values()])),
               "delta1": float(min(m["delta1"] for m in per_image.values())),
               "max_abs": float(max(m["max_abs"] for m in per_image.values()))}
    finite = all(np.isfinite(out).all() for out in outputs)
    passed = None if limits is None else finite and all(
        m["rel"] <= limits["max_rel"] and m["delta1"] >= limits["min_delta1"] for m in per_image.values())
    pictures = _pictures(spec, reference_name, inputs, references, outputs, folder) if folder else []
    return {"reference": reference_name, "precision": spec.precision, "bound": limits, "passed": passed,
            "finite": finite, "overall": overall, "per_image": per_image, "pictures": pictures}


def _pictures(spec, reference_name, inputs, references, outputs, folder: Path) -> list[str]:
    from ..io import images

    folder.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "_" for c in spec.name).strip("_")
    names = []
    for (name, x), ref, out in list(zip(inputs.items(), references, outputs))[:PICTURES]:
        rgb = np.clip(x[0].transpose(1, 2, 0) * 255, 0, 255).astype(np.uint8)
        reference, depth = ref[0, 0], out[0, 0]
        relative = np.abs(depth - reference) / np.maximum(np.abs(reference), 1e-12)
        lo, hi = float(reference.min()), float(reference.max())
        panel = images.side_by_side(
            [rgb, images.colorize_depth(reference, lo, hi), images.colorize_depth(depth, lo, hi),
             images.colorize_error(relative, 1e-6, 1e-1)],
            ["input", reference_name, spec.name, "relative error, log 1e-6..1e-1"])
        names.append(f"parity_{slug}_{name}.png")
        images.write_image(folder / names[-1], panel)
    return names
