"""Latency of a model forward: warm-up, timed iterations, percentiles, throughput, peak memory."""
from __future__ import annotations

import platform
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class LatencyResult:
    name: str
    batch: int
    warmup: int
    latencies_s: list[float] = field(default_factory=list)
    interrupted: bool = False

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_s, q))

    def summary(self) -> dict:
        if not self.latencies_s:
            return {"name": self.name, "batch": self.batch, "iterations": 0, "interrupted": self.interrupted}
        mean = statistics.fmean(self.latencies_s)
        return {
            "name": self.name,
            "batch": self.batch,
            "warmup": self.warmup,
            "iterations": len(self.latencies_s),
            "p50_ms": 1e3 * self.percentile(50),
            "p90_ms": 1e3 * self.percentile(90),
            "p99_ms": 1e3 * self.percentile(99),
            "mean_ms": 1e3 * mean,
            "min_ms": 1e3 * min(self.latencies_s),
            "images_per_s": self.batch / mean,
            "interrupted": self.interrupted,
        }


def peak_rss_mb() -> float:
    """Peak resident memory of this process: Linux's VmHWM, else getrusage (KiB on Linux, bytes on macOS).

    VmHWM, not ru_maxrss: a spawned worker inherits its parent's ru_maxrss across exec, so a small
    worker would report the parent's peak.
    """
    from .._log import peak_rss_gb

    peak_gb = peak_rss_gb()
    if peak_gb is not None:
        return peak_gb * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if platform.system() == "Darwin" else peak / 1024


def time_calls(
    fn: Callable[[], object], *, name: str, batch: int, warmup: int, iters: int, progress: bool = True
) -> LatencyResult:
    """Run ``fn`` ``warmup`` times untimed, then ``iters`` times under ``time.perf_counter``.

    Ctrl-C during the timed loop stops early and keeps what was measured (``interrupted``).
    """
    from tqdm import tqdm

    result = LatencyResult(name=name, batch=batch, warmup=warmup)
    with tqdm(total=warmup + iters, desc=name, unit="it", disable=not progress, leave=False) as bar:
        for _ in range(warmup):
            fn()
            bar.update()
        try:
            for _ in range(iters):
                start = time.perf_counter()
                fn()
                result.latencies_s.append(time.perf_counter() - start)
                bar.update()
        except KeyboardInterrupt:
            result.interrupted = True
    return result


def machine_info() -> dict:
    import os

    import torch

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "onnxruntime": _version("onnxruntime"),
        "tensorrt": _version("tensorrt"),
        # FP32 on a GPU means PyTorch's defaults unless these say otherwise: cuDNN may use TF32
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
    }


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


__all__ = ["LatencyResult", "machine_info", "peak_rss_mb", "time_calls"]
