"""A zoe-bench result to report on: torch base, ORT FP32 (passes parity), ORT INT8 (fails parity), failed TensorRT."""
from __future__ import annotations

import pytest


def stats(p50: float, batch: int, ratio: float | None, *, copies: bool = False) -> dict:
    """One batch's numbers: end-to-end p50 ``p50`` ms, compute about 80 % of it."""
    compute = 0.8 * p50
    stages = {"preprocess": {"p50": 0.1 * p50, "mean": 0.1 * p50},
              "compute": {"p50": compute, "mean": 1.02 * compute},
              "postprocess": {"p50": 0.05 * p50, "mean": 0.05 * p50}}
    if copies:
        stages["h2d"] = stages["d2h"] = {"p50": 0.02 * p50, "mean": 0.02 * p50}
    return {"iterations": 12, "rounds": 4,
            "latency_ms": {"p50": p50, "p90": 1.1 * p50, "p99": 1.2 * p50, "mean": 1.03 * p50, "min": 0.97 * p50},
            "images_per_s": 1000 * batch / (1.03 * p50), "stages_ms": stages, "ratio_to_base": ratio}


def backend(name: str, kind: str, precision: str, batches: dict, **extra) -> dict:
    return {"name": name, "kind": kind, "precision": precision, "device": "cpu", "source": "M12-N random weights",
            "clock": "perf_counter", "load_s": 1.5, "peak_rss_mb": 2150.0, "peak_gpu_mb": None, "error": None,
            "batches": batches, "parity": None, "profile": None, **extra}


def parity(passed: bool, rel: float, delta1: float) -> dict:
    return {"reference": "torch fp32", "precision": "int8", "bound": {"max_rel": 0.05, "min_delta1": 0.95},
            "passed": passed, "overall": {"rel": rel, "rmse": 0.2, "delta1": delta1, "max_abs": 1.4},
            "per_image": {"kitchen.png": {"rel": rel * 0.8, "rmse": 0.18, "delta1": 0.97, "max_abs": 1.1},
                          "street.png": {"rel": rel * 1.2, "rmse": 0.22, "delta1": delta1 - 0.01, "max_abs": 1.4}},
            "pictures": ["parity_ort_int8_kitchen.png"]}


@pytest.fixture
def result() -> dict:
    """torch base, ORT FP32 (passes parity), ORT INT8 (fails parity), TensorRT that failed to load; two goals."""
    return {
        "command": "zoe-bench --torch --onnx m.onnx --int8 m.int8.onnx --batch 1 2",
        "started": "2025-01-02T03:04:05", "seconds": 321.5, "interrupted": False,
        "machine": {"platform": "Linux-6.1-x86_64", "processor": "x86_64", "cpu_count": 2, "python": "3.11.9",
                    "torch": "2.5.1", "onnxruntime": "1.20.1", "tensorrt": None, "gpu": None},
        "options": {"batch_sizes": [1, 2], "warmup": 2, "iters": 12, "seconds": None, "images": None},
        "base": "torch fp32 cpu",
        "backends": [
            backend("torch fp32 cpu", "torch", "fp32", {"1": stats(1000.0, 1, 1.0), "2": stats(1900.0, 2, 1.0)}),
            backend("ort fp32 cpu", "onnxruntime", "fp32",
                    {"1": stats(930.0, 1, 0.93), "2": stats(1800.0, 2, 0.947)},
                    parity={**parity(True, 1e-5, 1.0), "precision": "fp32"},
                    profile={"file": "ort_fp32.json", "top_ops": [{"op": "MatMul", "ms": 412.0, "share": 0.41}]}),
            backend("ort int8 cpu", "onnxruntime", "int8", {"1": stats(480.0, 1, 0.48), "2": stats(900.0, 2, 0.47)},
                    parity=parity(False, 0.08, 0.91)),
            backend("trt fp16 cuda", "tensorrt", "fp16", {}, device="cuda", clock="cuda-events",
                    error="RuntimeError: no CUDA device\nTraceback line two"),
        ],
        "goals": [
            {"what": "ONNX Runtime FP32 vs PyTorch eager", "metric": "ratio", "comparison": "<=", "value": 1.0,
             "unit": "x", "measured": 0.93, "met": True},
            {"what": "INT8 speedup", "metric": "speedup", "comparison": ">=", "value": 2.5, "unit": "x",
             "measured": 2.1, "met": False},
        ],
    }


@pytest.fixture
def gpu_and_cpu(result) -> dict:
    """The result with the TensorRT backend measured on a GPU: 4-8 ms beside 500-2000 ms, decades apart."""
    trt = result["backends"][3]
    trt["error"] = None
    trt["batches"] = {"1": stats(4.2, 1, 0.0042, copies=True), "2": stats(7.9, 2, 0.0042, copies=True)}
    return result
