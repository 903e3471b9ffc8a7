"""The manifest beside every engine, the cache key made from it, and the compatibility check.

``NAME.engine.json`` records what the engine is (its model card: the model, precision, islands,
calibration set, batch profile and, for dynamic-size and frame graphs, the size profile over the
input's height and width; inputs and outputs with their profiles, ``"N"`` for a free dimension; the
ONNX file's sha256) and what built it (TensorRT version, GPU and compute capability, build options,
time). Manifests of version 1 (before the card) still load: their card is read from the sections
they had. :func:`check_compatible` compares it with the running TensorRT and GPU before
an engine is deserialised: TensorRT only loads engines of its own version, built for the same
compute capability, and says so far less clearly than we can.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from packaging.version import InvalidVersion, Version

from .._files import atomic_output
from .._log import log
from ..card import ModelCard, card_from_manifest
from ..errors import ZoeExportError
from .environment import TrtEnvironment

FORMAT = "zoe-export engine"
MANIFEST_VERSION = 2
#: what decides the engine's content; a change in any of these builds a new engine
KEY_FIELDS = ("onnx_sha256", "plan", "tensorrt_version", "compute_capability", "gpu_name")


def manifest_path(engine: str | Path) -> Path:
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def cache_key(onnx_sha256: str, plan_fingerprint: dict, env: TrtEnvironment) -> str:
    """A hash of everything that decides the engine (not of paths, timings or the output name)."""
    if env.gpu is None or env.tensorrt_version is None:
        raise ZoeExportError("an engine cache key needs the TensorRT version and the GPU; probe the environment first.")
    payload = {"onnx_sha256": onnx_sha256, "plan": plan_fingerprint, "tensorrt_version": _release(env.tensorrt_version),
               "compute_capability": env.gpu.compute_capability, "gpu_name": env.gpu.name}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def read_manifest(engine: str | Path) -> dict:
    path = manifest_path(engine)
    if not path.is_file():
        raise ZoeExportError(
            f"{engine} has no manifest ({path.name}): engines built by `zoe-export trt` have one, which records the "
            "TensorRT version and GPU they run on. Rebuild it with zoe-export trt, or pass a runner for an engine "
            "built elsewhere: DepthEngine(TrtRunner(path)).")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ZoeExportError(f"{path} is not a readable engine manifest ({exc}); rebuild the engine with zoe-export trt.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ZoeExportError(f"{path} is not a zoe-export engine manifest; rebuild the engine with zoe-export trt.")
    if manifest.get("version", 0) > MANIFEST_VERSION:
        raise ZoeExportError(f"{path} was written by a newer zoe-export (manifest version {manifest['version']}); "
                             "upgrade zoe-export.")
    return manifest


def read_card(engine: str | Path) -> ModelCard:
    """The model card of an engine built by zoe-export trt (from its manifest)."""
    return card_from_manifest(read_manifest(engine), str(manifest_path(engine)))


def write_manifest(engine: str | Path, manifest: dict) -> Path:
    path = manifest_path(engine)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str))
    return path


def check_compatible(manifest: dict, env: TrtEnvironment, engine: str | Path = "the engine") -> None:
    """Raise unless this TensorRT and GPU can run the engine the manifest describes.

    TensorRT versions must agree on major.minor.patch (the build number may differ), compute
    capabilities exactly. Another GPU model with the same compute capability runs the engine, but
    its tactics were timed elsewhere: that is a warning.
    """
    env.require("running a TensorRT engine")
    built = manifest["tensorrt_version"]
    if _release(built) != _release(env.tensorrt_version):
        raise ZoeExportError(
            f"{engine} was built with TensorRT {built}; this is TensorRT {env.tensorrt_version}, which cannot load it. "
            f"Rebuild it here (zoe-export trt --onnx {manifest['onnx']['file']}), or install tensorrt=={_release(built)}.")
    gpu = manifest["gpu"]
    if gpu["compute_capability"] != env.gpu.compute_capability:
        raise ZoeExportError(
            f"{engine} was built for {gpu['name']} (compute capability {gpu['compute_capability']}); this GPU is "
            f"{env.gpu.name} ({env.gpu.compute_capability}). Engines only run on the compute capability they were built "
            f"for: rebuild it on this GPU (zoe-export trt --onnx {manifest['onnx']['file']}).")
    if gpu["name"] != env.gpu.name:
        log.warning("%s was built on %s and runs on %s (same compute capability %s): it works, but its kernels were "
                    "timed on the other GPU; rebuild here for the best speed.", engine, gpu["name"], env.gpu.name,
                    env.gpu.compute_capability)


def _release(version: str) -> str:
    """major.minor.patch of a TensorRT version ("10.13.2.6" -> "10.13.2")."""
    try:
        parts = Version(version).release
    except InvalidVersion as exc:
        raise ZoeExportError(f"unreadable TensorRT version {version!r} in an engine manifest") from exc
    return ".".join(str(p) for p in (parts + (0, 0, 0))[:3])
