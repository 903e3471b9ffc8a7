"""Host facts for zoe-bench results: peak memory of this process, the machine and library versions."""
from __future__ import annotations

import platform
import resource


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


def machine_info(torch_used: bool = True, gpu_used: bool = False) -> dict:
    """What ran the benchmark. torch is imported only when a backend or the reference uses it (its threads and
    TF32 switches matter then); the GPU is named by torch, else by the TensorRT stage's probe when a backend
    runs on one."""
    import os

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        **_cpu(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "onnxruntime": _version("onnxruntime"),
        "tensorrt": _version("tensorrt"),
        "openvino": _version("openvino"),
        "gpu": None,
    }
    if torch_used:
        import torch

        info.update({
            "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            # FP32 on a GPU means PyTorch's defaults unless these say otherwise: cuDNN may use TF32
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        })
    if gpu_used and info["gpu"] is None:
        from ..trt.environment import probe_environment

        gpu = probe_environment().gpu
        info["gpu"] = None if gpu is None else gpu.name
    return info


#: the CPU features a CPU backend's speed and numerics depend on (AVX-512, INT8 dot products, bf16, AMX tiles)
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def _cpu() -> dict:
    """The CPU's model name and which of :data:`CPU_FLAGS` it has (Linux's /proc/cpuinfo; empty elsewhere)."""
    try:
        first = open("/proc/cpuinfo").read().split("\n\n")[0]  # the first processor's block
    except OSError:
        return {}
    fields = {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in first.splitlines())}
    flags = set(fields.get("flags", "").split())
    return {"cpu": fields.get("model name"),
            "cpu_flags": " ".join(f for f in CPU_FLAGS if f in flags) or "none of " + ", ".join(CPU_FLAGS)}


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


__all__ = ["machine_info", "peak_rss_mb"]
