"""TensorRT stage: engines from the precision stage's graphs, with manifests and an engine cache.

Nothing here imports TensorRT at import time; :func:`probe_environment` says what is missing
before anything would touch it. Names load on first use, so the runtime (which reads manifests and
opens engines) does not pay for the build's modules (onnx, the precision stage).
"""
from __future__ import annotations

import importlib

_NAMES = {
    "build": ("build_engine", "default_engine_output", "prepare_build"),
    "cache": ("EngineCache",),
    "environment": ("Gpu", "TrtEnvironment", "probe_environment"),
    "manifest": ("check_compatible", "manifest_path", "read_card", "read_manifest"),
    "plan": ("BuildOptions", "BuildPlan", "loader_chain", "plan_build"),
}
_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
