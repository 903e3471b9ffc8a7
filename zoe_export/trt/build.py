"""``build_engine``: ONNX (FP32, or already converted) -> precision graph -> TensorRT engine + manifest.

    manifest = build_engine("zoed_m12_nk.onnx", BuildOptions(precision="fp16"))

Everything that can be decided without TensorRT is decided first (flags against the graph's
precision, the calibration set, the output path); then the environment is probed and the command
stops, before touching TensorRT, when TensorRT, cuda-python or a GPU is missing. A matching engine
(same cache key) at the output or in the engine cache is reused instead of rebuilt. The engine is
written to a temp file and renamed, so a failed build never leaves an engine behind.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from .. import __version__
from ..card import Calibration
from .._files import atomic_output, check_writable, folders_removed_on_failure
from .._log import log, stage
from ..errors import ZoeExportError, option
from ..sizes import SizeProfile
from .cache import EngineCache, copy_engine, matching_engine
from .environment import TrtEnvironment, probe_environment
from .graph import GraphInfo
from .manifest import FORMAT, MANIFEST_VERSION, cache_key, write_manifest
from .plan import (
    BuildOptions,
    BuildPlan,
    check_legacy_supported,
    input_profiles,
    loader_chain,
    log_default_size_profile,
    plan_build,
    target_precision,
)
from .progress import BuildProgress


@dataclass(frozen=True)
class EngineRequest:
    """Everything decided before TensorRT runs: the graph, the target, the plan, the cache key."""

    source: GraphInfo
    precision: str
    convert: bool
    plan: BuildPlan
    output: Path
    key: str


def default_engine_output(onnx: str | Path, precision: str, size_profile: SizeProfile | None = None) -> Path:
    """``engines/<onnx stem>[_<precision>][_<size profile>].engine`` (no suffix repeated, none for fp32).

    A size profile the user gave is in the name as typed, colons as dashes
    (``zoed_m12_n_dyn_fp16_320x320-384x672-768x1344.engine``), so that engines of one graph with other
    profiles do not replace each other; the default profile adds nothing."""
    stem = Path(onnx).stem
    if precision != "fp32" and not stem.endswith(f"_{precision}"):
        stem += f"_{precision}"
    if size_profile is not None:
        stem += "_" + size_profile.text.replace(":", "-")
    return Path("engines") / f"{stem}.engine"


def default_timing_cache(output: Path, env: TrtEnvironment) -> Path:
    """One timing cache per GPU and TensorRT version, beside the engines."""
    return output.with_name(f"timing_{env.gpu.sm}_trt{env.tensorrt_version}.cache")


def prepare_build(onnx: str | Path | GraphInfo, options: BuildOptions, env: TrtEnvironment,
                  precision_fingerprint: dict | None = None) -> EngineRequest:
    """Check the request against the graph and this machine, and plan it; nothing is built or written.

    ``onnx``: a path, or the :class:`GraphInfo` a caller has read already (the graph is read once)."""
    options.validate()
    source = onnx if isinstance(onnx, GraphInfo) else GraphInfo.read(onnx)
    precision, convert = target_precision(source, options)
    input_profiles(source, options.batch_profile, options.size_profile)  # the graph's shapes: before the machine
    env.require()
    check_legacy_supported(options, env.tensorrt)
    output = Path(options.output) if options.output else default_engine_output(source.path, precision,
                                                                                  options.size_profile)
    flag = option("--output", "output=")
    if output.suffix not in (".engine", ".plan"):
        raise ZoeExportError(f"{flag} {output}: name the engine file NAME.engine (or .plan).")
    check_writable(output, flag)
    if options.timing_cache is None:
        options = replace(options, timing_cache=default_timing_cache(output, env))
    plan = plan_build(source, options, precision, env.tensorrt, output)
    if options.size_profile is None:
        log_default_size_profile(source, plan)
    fingerprint = {"plan": plan.fingerprint(), "conversion": precision_fingerprint if convert else None}
    return EngineRequest(source, precision, convert, plan, output, cache_key(source.sha256, fingerprint, env))


def build_engine(onnx: str | Path | GraphInfo, options: BuildOptions | None = None, precision_options=None,
                 env: TrtEnvironment | None = None, cache: EngineCache | None = None, rebuild: bool = False,
                 checkpoint: str | Path | None = None) -> dict:
    """Build (or reuse) the engine for ``onnx``; returns its manifest (written beside it) plus its ``path`` and,
    when an FP32 graph was converted first, the ``conversion`` manifest.

    ``precision_options``: a :class:`~zoe_export.precision.PrecisionOptions` for the conversion
    of an FP32 graph (default: the precision stage's defaults for the target, FP16 elsewhere in
    INT8 graphs since TensorRT runs them). ``cache=None`` uses the default engine cache. ``checkpoint``:
    the weights of the FP32 graph, so that its conversion is measured against PyTorch (see
    :mod:`zoe_export.precision.pipeline` for the rule when it is not given).
    """
    with folders_removed_on_failure():
        return _build_engine(onnx, options or BuildOptions(), precision_options, env or probe_environment(), cache,
                             rebuild, checkpoint)


def _build_engine(onnx: str | Path | GraphInfo, options: BuildOptions, precision_options, env: TrtEnvironment,
                  cache: EngineCache | None, rebuild: bool, checkpoint: str | Path | None) -> dict:
    precision_options = _precision_options(options, precision_options)
    if checkpoint is not None:
        from ..precision.pipeline import check_checkpoint

        check_checkpoint(checkpoint)
    request = prepare_build(onnx, options, env, _conversion_fingerprint(precision_options))
    cache = cache or EngineCache()
    if not rebuild:
        reused = _reuse(request, cache)
        if reused is not None:
            return reused
    plan = request.plan
    built, conversion = request.source, None
    if request.convert:
        conversion = _convert(request, precision_options, checkpoint)
        built = GraphInfo.read(conversion["path"])
        plan = plan.with_onnx(built.path)
    start = time.perf_counter()
    with stage(f"building the TensorRT engine ({request.precision}, {plan.mode}) from {plan.onnx}"):
        for line in plan.describe():
            log.info("plan: %s", line)
        engine_sha256 = _build(plan, request.output)
    manifest = _manifest(request, plan, env, built, engine_sha256, time.perf_counter() - start)
    write_manifest(request.output, manifest)
    cache.store(request.output, manifest)
    return {**manifest, "path": str(request.output), "conversion": conversion}


def _precision_options(options: BuildOptions, given):
    if given is not None or options.precision is None or options.legacy_precision:
        return given
    from ..precision import PrecisionOptions

    return PrecisionOptions(precision=options.precision, calib=options.calib,
                            high_precision="fp16" if options.precision == "int8" else "fp32")


def _conversion_fingerprint(precision_options) -> dict | None:
    if precision_options is None:
        return None
    from ..calib import CalibrationSet

    fields = {k: v for k, v in vars(precision_options).items() if k not in ("calib", "verify", "backend")}
    fields["islands"] = [i.name for i in precision_options.islands]
    if precision_options.calib is not None:
        fields["calibration_set"] = CalibrationSet(precision_options.calib).id
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()}


def _reuse(request: EngineRequest, cache: EngineCache) -> dict | None:
    manifest = matching_engine(request.output, request.key)
    if manifest is not None:
        log.info("%s is up to date (same graph, options, TensorRT and GPU): not rebuilt (%s forces it)",
                 request.output, option("--rebuild", "rebuild=True"))
        return {**manifest, "reused": str(request.output), "path": str(request.output)}
    hit = cache.lookup(request.key)
    if hit is None:
        return None
    path, manifest = hit
    log.info("reusing the cached engine %s (same graph, options, TensorRT and GPU; %s forces a build)", path,
             option("--rebuild", "rebuild=True"))
    copy_engine(path, request.output)
    manifest = {**manifest, "file": request.output.name, "reused": str(path)}
    write_manifest(request.output, manifest)
    return {**manifest, "path": str(request.output)}


def _convert(request: EngineRequest, precision_options, checkpoint: str | Path | None) -> dict:
    """The precision stage on the FP32 graph, written beside the engine (kept: it is the engine's source);
    returns the conversion's manifest."""
    from ..precision.pipeline import convert_graph

    converted = converted_graph_path(request.output, request.source.path, request.precision)
    with stage(f"converting {request.source.path} to {request.precision} (precision stage, measured against FP32)"):
        return convert_graph(request.source.path, converted, precision_options, checkpoint, request.source.card)


def converted_graph_path(engine: Path, source: Path, precision: str) -> Path:
    """Where the converted graph goes: beside the engine, with its name; never over the source graph."""
    converted = engine.with_suffix(".onnx")
    if converted.resolve() == Path(source).resolve():
        converted = engine.with_name(f"{engine.stem}_{precision}.onnx")
    return converted


def _build(plan: BuildPlan, output: Path) -> str:
    """Build and write the engine; returns its sha256 (hashed from the bytes written, not read back)."""
    from polygraphy.exception import PolygraphyException

    progress = BuildProgress()
    build = loader_chain(plan, progress)
    with atomic_output(output) as tmp, progress.cancel_on_interrupt():
        try:
            engine = build()  # trt.IHostMemory: the buffer protocol and nbytes, no len()
        except PolygraphyException as exc:
            if progress.cancelled:  # the monitor stopped TensorRT, which returned nothing, and Polygraphy raised
                raise KeyboardInterrupt from None  # the CLI prints "interrupted"; the temp file is removed
            raise ZoeExportError(f"TensorRT could not build the engine: {exc}. Nothing was written; run with -v for "
                                 "TensorRT's log.") from exc
        if progress.cancelled:
            raise KeyboardInterrupt
        data = None if engine is None else memoryview(engine)
        if data is None or data.nbytes == 0:
            raise ZoeExportError("TensorRT returned no engine (see its log above); nothing was written.")
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _manifest(request: EngineRequest, plan: BuildPlan, env: TrtEnvironment, built: GraphInfo, engine_sha256: str,
              seconds: float) -> dict:
    """The engine's manifest; ``built`` is the graph TensorRT parsed (the source, or its conversion)."""
    profiles = {p.input: {"min": list(p.min), "opt": list(p.opt), "max": list(p.max)} for p in plan.profiles}
    card = built.card.with_changes(
        batch_profile=plan.batch_profile, size_profile=plan.size_profile,
        calibration=built.card.calibration or (
            Calibration(plan.calibration.set_id, "entropy (TensorRT calibrator)") if plan.calibration else None),
        versions={**built.card.versions, "tensorrt": env.tensorrt_version})
    converted = None if built is request.source else {"file": str(built.path), "sha256": built.sha256}
    manifest = {
        "format": FORMAT,
        "version": MANIFEST_VERSION,
        "file": request.output.name,
        "engine_sha256": engine_sha256,
        "engine_bytes": request.output.stat().st_size,
        "cache_key": request.key,
        "tensorrt_version": env.tensorrt_version,
        "gpu": {"name": env.gpu.name, "compute_capability": env.gpu.compute_capability},
        "precision": request.precision,
        "mode": plan.mode,
        "card": card.to_dict(),
        "inputs": [dict(t.to_dict(), profile=profiles.get(t.name)) for t in built.inputs],
        "outputs": [t.to_dict() for t in built.outputs],
        "onnx": {"file": str(request.source.path), "sha256": request.source.sha256,
                 "precision": request.source.precision, "converted": converted},
        "build": {
            "plan": plan.fingerprint(),
            "describe": plan.describe(),
            "layer_pins": plan.fingerprint()["layer_pins"] if plan.layer_pins else None,
            "timing_cache": str(plan.timing_cache) if plan.timing_cache else None,
            "seconds": round(seconds, 1),
            "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "zoe_export_version": __version__,
        },
    }
    return json.loads(json.dumps(manifest, default=str))  # as it reads back from the file


def engine_from_onnx(onnx: str | Path, folder: str | Path, batch_profile: tuple[int, int, int] | None = None,
                     size_profile: SizeProfile | str | None = None) -> Path:
    """The TensorRT backend's file for an ONNX export (the backend registry's ``from_onnx``): an engine in ``folder``."""
    folder = Path(folder)
    options = BuildOptions(output=folder / (Path(onnx).stem + ".engine"), batch_profile=batch_profile,
                           size_profile=size_profile)
    return Path(build_engine(onnx, options, cache=EngineCache(folder / "cache"))["path"])
