"""TensorRT stage: engines from the precision stage's graphs, with manifests and an engine cache.

Nothing here imports TensorRT at import time; :func:`probe_environment` says what is missing
before anything would touch it.
"""
from .build import build_engine, default_engine_output, prepare_build
from .cache import EngineCache
from .environment import Gpu, TrtEnvironment, probe_environment
from .manifest import check_compatible, manifest_path, read_manifest
from .plan import BuildOptions, BuildPlan, loader_chain, plan_build

__all__ = [
    "BuildOptions", "BuildPlan", "EngineCache", "Gpu", "TrtEnvironment", "build_engine", "check_compatible",
    "default_engine_output", "loader_chain", "manifest_path", "plan_build", "prepare_build", "probe_environment",
    "read_manifest",
]
