"""``zoe-bench --profile``: where the time goes, per operator (ONNX Runtime, PyTorch, OpenVINO).

Profiling slows a backend down, so it runs after the timed rounds, on its own iterations.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from .._lazy import resolve

TOP = 15


def profile_backend(spec, engine, timer, batch: int, iterations: int, folder: str) -> dict:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = "profile_" + "".join(c if c.isalnum() else "_" for c in spec.name).strip("_")
    x = timer.prepare_batch(batch)[1]
    backend = spec.backend
    if backend.profiler is None:
        return {"file": None, "top_ops": [], "note": backend.profile_hint or f"no per-operator profile for {backend.label}"}
    return resolve(backend.profiler)(spec, engine, x, iterations, folder / stem)


def profile_onnxruntime(spec, engine, x: np.ndarray, iterations: int, prefix: Path) -> dict:
    """ONNX Runtime's own profile of a second session (profiling slows the timed one down)."""
    from ..runtime import DepthEngine

    runner = spec.backend.open(spec.source, **{**spec.options, "profile_prefix": str(prefix)})
    with DepthEngine(runner, model=engine.model) as profiled:
        for _ in range(iterations):
            profiled.infer_batch(x)
    return {"file": Path(runner.profile_file).name, "top_ops": onnxruntime_top_ops(runner.profile_file, iterations)}


def onnxruntime_top_ops(path: str | Path, iterations: int) -> list[dict]:
    """Time per operator type per iteration, from ONNX Runtime's Chrome-trace profile."""
    per_op: dict[str, float] = defaultdict(float)
    for event in json.loads(Path(path).read_text()):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_op[event.get("args", {}).get("op_name", "?")] += event.get("dur", 0) / 1e3
    return _top(per_op, iterations)


def profile_openvino(spec, engine, x: np.ndarray, iterations: int, stem: Path) -> dict:
    """OpenVINO's per-node counters (``PERF_COUNT``) of a second compiled model; every node with its kernel goes to
    ``<stem>.csv`` (which kernel ran tells INT8 from bf16 from f32: jit_avx512_amx_int8, brgemm_avx512_amx, ...)."""
    import csv

    from ..runtime import DepthEngine

    runner = spec.backend.open(spec.source, **{**spec.options, "profile": True})
    with DepthEngine(runner, model=engine.model) as profiled:
        for _ in range(iterations):
            profiled.infer_batch(x)
        rows = runner.profile_rows()
    path = stem.with_name(stem.name + ".csv")
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["node", "type", "kernel", "ms", "calls"])
        writer.writeheader()
        writer.writerows({**row, "ms": round(row["ms"] / iterations, 4)} for row in rows)
    per_op: dict[str, float] = defaultdict(float)
    for row in rows:
        per_op[f"{row['type']} ({row['kernel']})"] += row["ms"]
    return {"file": path.name, "top_ops": _top(per_op, iterations)}


def profile_torch(spec, engine, x: np.ndarray, iterations: int, stem: Path) -> dict:
    """torch.profiler over the timed engine's own module; the table goes to ``<stem>.txt``."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if spec.on_gpu else [])
    with profile(activities=activities) as prof:
        for _ in range(iterations):
            engine.infer_batch(x)
        if spec.on_gpu:
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if spec.on_gpu else "self_cpu_time_total"
    averages = prof.key_averages()
    path = stem.with_name(stem.name + ".txt")
    path.write_text(averages.table(sort_by=key, row_limit=40))
    return {"file": path.name, "top_ops": _top({a.key: getattr(a, key) / 1e3 for a in averages}, iterations)}


def _top(per_op_ms: dict[str, float], iterations: int) -> list[dict]:
    total = sum(per_op_ms.values()) or 1.0
    ranked = sorted(per_op_ms.items(), key=lambda kv: -kv[1])[:TOP]
    return [{"op": op, "ms": ms / iterations, "share": ms / total} for op, ms in ranked]
