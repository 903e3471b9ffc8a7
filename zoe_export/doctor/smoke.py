"""``zoe-export doctor --smoke``: a tiny model through the whole GPU path, in a temporary folder.

test-N (seeded random weights, 64x96) is exported to verified ONNX, built into FP32 and FP16
engines, and run through :class:`DepthEngine` against ONNX Runtime: parity (REL, delta1 against
each precision's bound) and latency per engine. Nothing is left behind: the folder, the engine
cache and the timing cache are all temporary.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from .._log import stage

PRECISIONS = (None, "fp16")  # None: the graph's own FP32
CALLS = 20


def run_smoke() -> list[dict]:
    """One result per engine: precision, REL, delta1, bound, passed, p50 latency (ms), or the error."""
    from ..compare.metrics import compare_outputs
    from ..errors import ZoeExportError
    from ..export import export_onnx
    from ..io import synthetic
    from ..models import load_model
    from ..registry import get_precision
    from ..runtime import DepthEngine
    from ..trt import BuildOptions, EngineCache, build_engine, probe_environment

    image = synthetic.demo_scene()
    results = []
    with tempfile.TemporaryDirectory(prefix="zoe-doctor-") as tmp:
        folder = Path(tmp)
        onnx = folder / "test_n.onnx"
        with stage("exporting test-N (seeded random weights) to verified ONNX"):
            export_onnx(load_model("test-N", weights="random"), onnx)
        with DepthEngine(onnx) as reference:
            expected = reference.predict(image)
        env = probe_environment()
        for precision in PRECISIONS:
            name = precision or "fp32"
            options = BuildOptions(precision=precision, output=folder / f"test_n_{name}.engine",
                                   timing_cache=folder / "timing.cache")
            try:
                with stage(f"building and running a {name} engine"):
                    build_engine(onnx, options, env=env, cache=EngineCache(folder / "cache"))
                    got, p50 = _run(folder / f"test_n_{name}.engine", image)
            except ZoeExportError as exc:
                results.append({"precision": name, "passed": False, "error": str(exc)})
                continue
            bound = get_precision(name).tolerance
            (comparison,) = compare_outputs({"metric_depth": got}, {"metric_depth": expected}, bound)
            results.append({"precision": name, "rel": comparison.metrics["rel"], "delta1": comparison.metrics["delta1"],
                            "max_rel": bound.max_rel, "min_delta1": bound.min_delta1,
                            "passed": comparison.passed, "failures": comparison.failures, "latency_p50_ms": p50})
    return results


def _run(engine_path: Path, image: np.ndarray) -> tuple[np.ndarray, float]:
    from ..runtime import DepthEngine

    with DepthEngine(engine_path) as engine:
        depth = engine.predict(image)
        batch = np.random.default_rng(0).random((1, 3, *engine.size)).astype(np.float32)
        engine.infer_batch(batch)  # warm-up
        times = []
        for _ in range(CALLS):
            start = time.perf_counter()
            engine.infer_batch(batch)
            times.append(time.perf_counter() - start)
    return depth, statistics.median(times) * 1e3
