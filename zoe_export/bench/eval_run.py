"""``zoe-bench eval``: a backend against ground truth with the paper's protocol (NYU, KITTI)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._files import atomic_output, check_folder_writable
from ..errors import ZoeExportError
from .backends import BackendSpec, open_backend
from .datasets import open_dataset
from .evaluation import (
    METRICS,
    PAPER_ROWS,
    evaluate,
    load_reference,
    relative_improvement,
)


def model_resolution_predict(engine):
    """rgb -> flip-averaged depth at the model's resolution (the paper's protocol resizes it to the GT)."""
    from .. import preprocess

    def predict(rgb: np.ndarray) -> np.ndarray:
        x = preprocess.prepare(rgb, engine.size, fit=engine.fit, pad_input=False).batch
        out = engine.infer_batch(np.concatenate([x, x[..., ::-1]]))
        return (out[0, 0] + out[1, 0][..., ::-1]) / 2

    return predict


def run_eval(spec: BackendSpec, args) -> int:
    if args.output:
        check_folder_writable(args.output, "--output")  # before the evaluation, not after it
    dataset = open_dataset(args.dataset, args.data, args.split)
    reference = _reference(args, spec)
    with open_backend(spec) as engine:
        result = evaluate(model_resolution_predict(engine), dataset, args.dataset, limit=args.limit)
    result.update({"backend": spec.name, "dataset_skipped": dataset.skipped, "command": "zoe-bench eval"})
    if reference is not None:
        result["reference"] = {"name": reference[0], "improvement": relative_improvement(result, reference[1])}
    _print(result)
    if args.output:
        path = Path(args.output) / f"eval_{args.dataset}.json"
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(result, indent=2, default=str))
        print(f"wrote    {path}")
    return 130 if result.get("interrupted") else 0


def _reference(args, spec: BackendSpec):
    if args.reference_result:
        return Path(args.reference_result).name, load_reference(args.reference_result)
    variant = _variant_of(spec)
    row = PAPER_ROWS.get(f"ZoeD-{variant}/{args.dataset}") if variant else None
    return (f"{row.model} ({row.source})", row) if row else None


def _variant_of(spec: BackendSpec) -> str | None:
    if spec.kind == "torch":
        return spec.source
    if spec.kind == "onnxruntime":
        from ..export.metadata import read_metadata

        return read_metadata(spec.source).get("variant")
    from ..trt.manifest import read_manifest

    return read_manifest(spec.source).get("model", {}).get("variant")


def _print(result: dict) -> None:
    mean = result["mean"]
    print(f"eval     {result['backend']} on {result['count']} image(s) ({result['protocol']}), "
          f"{result['skipped']} without valid pixels, {result['dataset_skipped']} split lines without ground truth")
    print("metrics  " + "  ".join(f"{m} {mean[m]:.4f}" for m in METRICS if m in mean))
    if "reference" in result:
        imp = result["reference"]["improvement"]
        mri = "n/a" if imp["mri_theta"] is None else f"{imp['mri_theta']:+.2%}"
        rel = "n/a" if imp["rel"] is None else f"{imp['rel']:+.2%}"
        print(f"vs       {result['reference']['name']}: REL improvement {rel}, mRI-theta {mri}"
              + (f" (missing {', '.join(imp['missing'])})" if imp["missing"] else ""))
    if result.get("interrupted"):
        print("interrupted: the figures cover the images evaluated so far")
    if not result["count"]:
        raise ZoeExportError("no image had valid ground truth: check --data and --split.")
