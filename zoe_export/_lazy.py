"""Optional heavy dependencies, imported on first use through one helper that owns the install hint.

    ort = require("onnxruntime")         # the module, or ZoeExportError naming the pip line

Cheap modules hold constants and names; the dependency loads only where it is used, so
``zoe-export --help``, ``zoe-export trt`` on an FP16 graph and ``zoe_export.runtime`` never pay for
torch. Polygraphy's ``mod.lazy_import`` does the same.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import ZoeExportError

#: module -> how to install it (the extras are in pyproject.toml)
INSTALL = {
    "torch": "pip install torch (the CPU build: pip install torch --index-url https://download.pytorch.org/whl/cpu)",
    "onnx": "pip install 'zoe-export[cpu]'",
    "onnxruntime": "pip install 'zoe-export[cpu]' (or 'zoe-export[gpu]' for onnxruntime-gpu)",
    "matplotlib": "pip install matplotlib",
    "cv2": "pip install opencv-python-headless (or 'zoe-export[video]')",
    "h5py": "pip install h5py",
    "plyfile": "pip install plyfile",
    "polygraphy": "pip install 'zoe-export[trt]' --extra-index-url https://pypi.nvidia.com",
    "tensorrt": "pip install 'zoe-export[trt]' --extra-index-url https://pypi.nvidia.com (TensorRT and cuda-python "
                "come from NVIDIA's index)",
}


def require(module: str, purpose: str | None = None, install: str | None = None,
            instead: str | None = None) -> ModuleType:
    """Import ``module``; when it is missing, a ZoeExportError that says what needs it and how to install it
    (``instead``: the caller's way around it, e.g. "pass --no-verify to skip the check")."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the module is there but one of its own imports failed: that is a broken install, not ours to hide
        hint = install or INSTALL.get(top, f"pip install {top}")
        around = f", or {instead}" if instead else ""
        needed = f" ({purpose} needs it)" if purpose else ""
        raise ZoeExportError(f"{top} is not installed{needed}: {hint}{around}.") from exc


def resolve(reference: str):
    """The object ``"package.module:name"`` names (registries store references, imported on use)."""
    module, _, name = reference.partition(":")
    value = importlib.import_module(module)
    for part in name.split(".") if name else ():
        value = getattr(value, part)
    return value
