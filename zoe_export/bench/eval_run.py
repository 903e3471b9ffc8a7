"""``zoe-bench eval``: a backend against ground truth with the paper's protocol (NYU, KITTI)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._files import atomic_output, check_folder_writable
from ..errors import ZoeExportError, option
from .backends import BackendSpec, open_backend
from .datasets import open_dataset
from .evaluation import (
    PAPER_ROWS,
    evaluate,
    load_reference,
    relative_improvement,
)


def model_resolution_predict(engine):
    """rgb -> flip-averaged depth at the model's resolution (the paper's protocol resizes it to the GT).

    A dynamic-size graph runs each image at its keep-aspect "minimal" size (unpadded, as this protocol
    is); a frame graph returns depth at the image's size through its own recipe (padding, and flip
    averaging when it was exported with it), which the protocol then resizes as any prediction."""
    from .. import preprocess

    if engine.is_frame_graph:
        return engine.predict

    def predict(rgb: np.ndarray) -> np.ndarray:
        size = engine.model_size(*np.shape(rgb)[:2], pad_input=False)
        fit = "letterbox" if engine.fit == "letterbox" else "stretch"
        x = preprocess.prepare(rgb, size, fit=fit, pad_input=False).batch
        return preprocess.flip_average(engine.infer_batch, x)[0, 0]

    return predict


def run_eval(spec: BackendSpec, dataset: str, data: str | Path, split: str | Path | None = None,
             limit: int | None = None, reference_result: str | Path | None = None,
             output: str | Path | None = None) -> dict:
    """Evaluate ``spec`` on ``dataset`` (nyu, kitti) read from ``data`` (and ``split``), the first ``limit`` samples.

    The improvement is computed against ``reference_result`` (a stored result) or the paper's row for
    the variant. Returns the result (as written to ``<output>/eval_<dataset>.json`` when ``output``
    is set) plus ``path``, the file written or None. Progress goes to the log; the caller reports.
    """
    if output:
        check_folder_writable(output, option("--output", "output="))  # before the evaluation, not after it
    kind = dataset
    dataset = open_dataset(kind, data, split)
    reference = _reference(reference_result, spec, kind)
    with open_backend(spec) as engine:
        result = evaluate(model_resolution_predict(engine), dataset, kind, limit=limit)
    result.update({"backend": spec.name, "dataset_skipped": dataset.skipped, "command": "zoe-bench eval"})
    if not result["count"]:
        raise ZoeExportError(f"no image had valid ground truth ({result['skipped']} without valid pixels, "
                             f"{dataset.skipped} split lines without ground truth): check "
                             f"{option('--data', 'data=')} and {option('--split', 'split=')}.")
    if reference is not None:
        result["reference"] = {"name": reference[0], "improvement": relative_improvement(result, reference[1])}
    path = None
    if output:
        path = Path(output) / f"eval_{kind}.json"
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(result, indent=2, default=str))
    return {**result, "path": None if path is None else str(path)}


def _reference(reference_result, spec: BackendSpec, dataset: str):
    if reference_result:
        return Path(reference_result).name, load_reference(reference_result)
    variant = spec.card.variant if spec.card is not None else spec.source
    row = PAPER_ROWS.get(f"ZoeD-{variant}/{dataset}") if variant else None
    return (f"{row.model} ({row.source})", row) if row else None
