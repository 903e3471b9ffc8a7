"""What this machine offers TensorRT, probed without creating a single TensorRT object.

Creating TensorRT objects on a machine without a GPU can crash the process, so the build and the
engine runtime call :func:`probe_environment` first and stop with one line that names what is
missing and how to install it.
"""
from __future__ import annotations

import importlib
import shutil
import subprocess
from dataclasses import dataclass

from packaging.version import Version

from ..errors import ZoeExportError
from .api import INSTALL

__all__ = ["INSTALL", "Gpu", "TrtEnvironment", "probe_environment"]


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: str  # "9.0"

    @property
    def sm(self) -> str:
        return "sm_" + self.compute_capability.replace(".", "")


@dataclass(frozen=True)
class TrtEnvironment:
    tensorrt_version: str | None  # None: the tensorrt package cannot be imported
    cuda_python: bool
    gpu: Gpu | None

    @property
    def tensorrt(self) -> Version | None:
        return None if self.tensorrt_version is None else Version(self.tensorrt_version)

    def missing(self) -> list[str]:
        what = []
        if self.tensorrt_version is None:
            what.append("the tensorrt package")
        if not self.cuda_python:
            what.append("cuda-python")
        if self.gpu is None:
            what.append("a CUDA GPU")
        return what

    def require(self, purpose: str = "building TensorRT engines") -> None:
        """Stop, before anything touches TensorRT, unless TensorRT, cuda-python and a GPU are all here."""
        what = self.missing()
        if not what:
            return
        fix = INSTALL if what != ["a CUDA GPU"] else "run this on a machine with an NVIDIA GPU and its driver"
        if "a CUDA GPU" in what and len(what) > 1:
            fix += ", on a machine with an NVIDIA GPU and its driver"
        raise ZoeExportError(f"{purpose} needs {' and '.join(what)}, which this machine lacks: {fix}.")

    def describe(self) -> str:
        gpu = f"{self.gpu.name} ({self.gpu.sm})" if self.gpu else "no GPU"
        return f"TensorRT {self.tensorrt_version or 'not installed'}, {gpu}"


def probe_environment() -> TrtEnvironment:
    """The TensorRT version, cuda-python and the first GPU (CUDA runtime, else nvidia-smi)."""
    cuda_python = _cuda_python_available()
    return TrtEnvironment(_tensorrt_version(), cuda_python, _gpu_from_cuda() if cuda_python else _gpu_from_smi())


def _tensorrt_version() -> str | None:
    try:
        trt = importlib.import_module("tensorrt")  # importing loads libraries; it creates no object
    except Exception:  # ImportError, or OSError from a broken library install
        return None
    return str(getattr(trt, "__version__", "")) or None


def _cuda_python_available() -> bool:
    from .cuda import import_cudart

    try:
        import_cudart()
    except ZoeExportError:
        return False
    return True


def _gpu_from_cuda() -> Gpu | None:
    from .cuda import device_properties

    try:
        props = device_properties(0)
    except ZoeExportError:  # no device, or no driver
        return None
    return Gpu(props.name, props.compute_capability)


def _gpu_from_smi() -> Gpu | None:
    """nvidia-smi's first GPU, so the message is complete even without cuda-python."""
    rows = nvidia_smi(("name", "compute_cap"))
    return Gpu(*rows[0]) if rows and all(rows[0]) else None


def nvidia_smi(fields: tuple[str, ...]) -> list[list[str]] | None:
    """One row per GPU of ``nvidia-smi --query-gpu=FIELDS`` (no units), or None without nvidia-smi or rows."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [[part.strip() for part in line.rsplit(",", len(fields) - 1)] for line in out.strip().splitlines()
            if line.strip()]
    return rows if rows and all(len(r) == len(fields) for r in rows) else None
