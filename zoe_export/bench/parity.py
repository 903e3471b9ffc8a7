"""``zoe-bench --parity``: each backend against the FP32 reference on the same prepared inputs.

Inputs go through the shared preprocessing once, at the model size; every backend gets the same
arrays, so the comparison is of the models alone. Bounds per precision from the precision registry;
INT8's is the budget recorded in the graph's or engine's card.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..compare.metrics import depth_metrics
from ..compare.tolerance import Tolerance
from ..registry import get_precision

PICTURES = 2  # side-by-side pictures per backend (the first images)


def prepared_inputs(images: dict[str, np.ndarray], size: tuple[int, int]) -> dict[str, np.ndarray]:
    from .. import preprocess

    return {name: preprocess.prepare(rgb, size, pad_input=True).batch for name, rgb in images.items()}


def bound(spec) -> dict | None:
    """The pass/fail bound of a backend's precision (the precision registry's tolerance; a budget recorded in the
    card where the precision's bound is the user's); None when there is none to judge by."""
    precision = get_precision("fp16" if spec.precision == "amp-fp16" else spec.precision)
    if not precision.budget_from_card:
        return {"max_rel": precision.tolerance.max_rel, "min_delta1": precision.tolerance.min_delta1}
    budget = spec.card.int8_budget_rel if spec.card is not None else None
    return None if budget is None else {"max_rel": budget, "min_delta1": 0.0}


def compare_backend(spec, reference_name: str, inputs: dict[str, np.ndarray], references: list[np.ndarray],
                    outputs: list[np.ndarray], folder: Path | None) -> dict:
    per_image = {name: depth_metrics(out[0, 0], ref[0, 0]) for name, out, ref in zip(inputs, outputs, references)}
    limits = bound(spec)
    overall = {"rel": float(np.mean([m["rel"] for m in per_image.values()])),
               "rmse": float(np.mean([m["rmse"] for m in per_image.values()])),
               "delta1": float(min(m["delta1"] for m in per_image.values())),
               "max_abs": float(max(m["max_abs"] for m in per_image.values()))}
    finite = all(np.isfinite(out).all() for out in outputs)
    judge = None if limits is None else Tolerance.from_bound(limits)
    failures = [] if judge is None else [f for name, m in per_image.items() for f in judge.depth_failures(m, name)]
    if judge is not None and not finite and not failures:  # outside the compared map (another batch entry)
        failures.append("non-finite values in the output")
    passed = None if judge is None else not failures
    pictures = _pictures(spec, reference_name, inputs, references, outputs, folder) if folder else []
    return {"reference": reference_name, "precision": spec.precision, "bound": limits, "passed": passed,
            "failures": failures, "finite": finite, "overall": overall, "per_image": per_image, "pictures": pictures}


def _pictures(spec, reference_name, inputs, references, outputs, folder: Path) -> list[str]:
    from ..io import images
    from ..preprocess import to_uint8

    folder.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "_" for c in spec.name).strip("_")
    names = []
    for (name, x), ref, out in list(zip(inputs.items(), references, outputs))[:PICTURES]:
        panel = images.parity_panel(to_uint8(x[0], "chw"), ref[0, 0], out[0, 0], ("input", reference_name, spec.name))
        names.append(f"parity_{slug}_{name}.png")
        images.write_image(folder / names[-1], panel)
    return names
