"""zoe-export: ZoeDepth (N, K, NK) from PyTorch to verified ONNX and TensorRT.

    import zoe_export
    model = zoe_export.load_model("M12-N", "ZoeD_M12_N.pt")      # or weights="random"
    depth = model(image)["metric_depth"]                           # (B, 1, 384, 512) metres

Heavy modules (torch) load on first use, so ``import zoe_export`` and the CLI's ``--help`` are instant.
"""
from __future__ import annotations

from .errors import ZoeExportError

__version__ = "0.1.0"

_LAZY = {
    "load_model": "zoe_export.models",
    "build_model": "zoe_export.models",
    "get_variant": "zoe_export.models",
    "list_variants": "zoe_export.models",
}

__all__ = ["ZoeExportError", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoe_export' has no attribute {name!r}")
