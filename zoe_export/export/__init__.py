"""Export stage: PyTorch reference -> verified, TensorRT-ready ONNX.

Reading exported files (``metadata``, ``graph_checks``) needs no torch; the exporter's names load
torch on first use, so apps and the TensorRT stage that only read graphs never import it.
"""
from __future__ import annotations

import importlib

from .graph_checks import check_tensorrt_support, graph_summary, tensorrt_problems
from .metadata import load_onnx, read_card

_EXPORTER = ("INPUT_FORMATS", "ExportOptions", "ExportWrapper", "default_output", "export_onnx", "preflight")

__all__ = [*_EXPORTER, "check_tensorrt_support", "graph_summary", "load_onnx", "read_card", "tensorrt_problems"]


def __getattr__(name: str):
    if name in _EXPORTER:
        return getattr(importlib.import_module(".onnx_export", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
