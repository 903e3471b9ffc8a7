"""The build plan: what ``zoe-export trt`` asks of TensorRT, decided and checked before TensorRT runs.

:func:`plan_build` turns the graph and the options into a :class:`BuildPlan` (pure data: the mode,
builder flags, layer pins, profiles, workspace, caches). :func:`loader_chain` turns a plan into
Polygraphy's lazy loaders, ``EngineBytesFromNetwork(network, config)``, which build nothing until
called; tests inspect both without TensorRT.

Two modes:

* **strongly typed** (default; the only mode on TensorRT 11): precision is already in the graph
  (FP16 islands, Q/DQ INT8 from the precision stage), so no precision flag is set and TensorRT
  keeps every tensor's type. On TensorRT 10 the network gets the STRONGLY_TYPED flag; on 11 every
  network is strongly typed.
* **legacy precision** (``--legacy-precision``, TensorRT 10 only): the FP32 graph with the builder's
  FP16/INT8 flags, the FP32 islands pinned by precision constraints ("obey"), INT8 ranges from an
  entropy calibrator fed by the calibration set, with a calibration cache file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from ..errors import ZoeExportError, option
from ..registry import get_precision, list_precisions
from .api import import_tensorrt, requires_tensorrt
from .graph import GraphInfo

if TYPE_CHECKING:  # the types the contract tests check our calls against
    import tensorrt as trt

DEFAULT_BATCH_PROFILE = (1, 2, 8)  # opt 2: predict() runs an image and its mirror image as one batch


@dataclass(frozen=True)
class BuildOptions:
    """What the user asked of the engine build (the CLI maps its flags here, and nowhere else)."""

    precision: str | None = None  # fp16 | int8 | None: the graph's own precision
    calib: str | Path | None = None  # calibration set (INT8 from an FP32 graph)
    legacy_precision: bool = False
    workspace_gb: float | None = None  # None: TensorRT's default (the GPU's memory)
    batch_profile: tuple[int, int, int] | None = None  # min, opt, max for a dynamic batch
    timing_cache: str | Path | None = None
    output: str | Path | None = None

    def validate(self) -> None:
        converted = list_precisions(converted=True)
        if self.precision is not None and self.precision not in converted:
            raise ZoeExportError(f"precision {self.precision!r}: ask for {' or '.join(converted)} (or neither).")
        if self.legacy_precision and self.precision is None:
            legacy = option("--legacy-precision", "legacy_precision=True")
            raise ZoeExportError(f"{legacy} sets the builder's FP16/INT8 flags: add "
                                 f"{option('--fp16 or --int8', 'precision=fp16 or int8')}.")
        if self.workspace_gb is not None and not (0 < self.workspace_gb < float("inf")):
            raise ZoeExportError(f"{option('--workspace-gb', 'workspace_gb=')} {self.workspace_gb:g}: give a positive "
                                 "size in GB, e.g. 8.")
        if self.batch_profile is not None:
            low, opt, high = self.batch_profile
            if not 1 <= low <= opt <= high:
                raise ZoeExportError(f"{option('--batch-profile', 'batch_profile=')} {low}:{opt}:{high}: need "
                                     "1 <= MIN <= OPT <= MAX, e.g. 1:2:8.")


@dataclass(frozen=True)
class Profile:
    input: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]


@dataclass(frozen=True)
class Calibration:
    """Legacy INT8: TensorRT's entropy calibrator over a calibration set, with its cache file."""

    set: Path
    set_id: str
    cache: Path


@dataclass(frozen=True)
class BuildPlan:
    onnx: Path
    precision: str  # what the engine computes: fp32 | fp16 | int8
    mode: str  # strongly-typed | legacy-precision
    strongly_typed_flag: bool  # the network creation flag (TensorRT 10; implied on 11)
    fp16_flag: bool = False
    int8_flag: bool = False
    precision_constraints: str | None = None  # "obey" pins layer precisions (legacy)
    layer_pins: dict[str, str] = field(default_factory=dict)  # ONNX node name -> fp32 | fp16 (legacy)
    profiles: tuple[Profile, ...] = ()
    workspace_bytes: int | None = None
    timing_cache: Path | None = None
    calibration: Calibration | None = None

    def fingerprint(self) -> dict:
        """What decides the engine's content (paths and the timing cache do not)."""
        data = asdict(self)
        for key in ("onnx", "timing_cache"):
            data.pop(key)
        data["layer_pins"] = _pin_summary(self.layer_pins)
        if self.calibration is not None:
            data["calibration"] = {"set_id": self.calibration.set_id}
        return data

    def with_onnx(self, path: Path) -> "BuildPlan":
        return replace(self, onnx=Path(path))

    def describe(self) -> list[str]:
        lines = [f"{self.mode}, {self.precision}" + (" (STRONGLY_TYPED network flag)" if self.strongly_typed_flag else "")]
        flags = [name for name, on in (("FP16", self.fp16_flag), ("INT8", self.int8_flag)) if on]
        if flags:
            lines.append(f"builder flags {' + '.join(flags)}, precision constraints {self.precision_constraints}")
        if self.layer_pins:
            lines.append("pinned " + ", ".join(f"{n} nodes to {p}" for p, n in _pin_summary(self.layer_pins).items()))
        for p in self.profiles:
            lines.append(f"profile {p.input}: min {list(p.min)} opt {list(p.opt)} max {list(p.max)}")
        if self.workspace_bytes:
            lines.append(f"workspace {self.workspace_bytes / 2**30:g} GB")
        if self.calibration:
            lines.append(f"calibrator entropy on {self.calibration.set} (id {self.calibration.set_id}), "
                         f"cache {self.calibration.cache}")
        return lines


def _pin_summary(pins: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for precision in pins.values():
        counts[precision] = counts.get(precision, 0) + 1
    return dict(sorted(counts.items()))


# ------------------------------------------------------------------------------------------- target

def target_precision(graph: GraphInfo, options: BuildOptions) -> tuple[str, bool]:
    """(the engine's precision, whether the graph must first go through the precision stage)."""
    have, want = graph.precision, options.precision
    ask = option(f"--{want}", f"precision={want!r}")
    legacy, calib = option("--legacy-precision", "legacy_precision=True"), option("--calib", "calib=")
    if have != "fp32":
        if want not in (None, have):
            raise ZoeExportError(
                f"{graph.path} is already an {have.upper()} graph, and {ask} asks for {want.upper()}: a graph is "
                f"never converted twice. Pass the FP32 export (zoe-export onnx without --precision) with {ask}, "
                f"or build this graph as it is (without {ask}).")
        if options.legacy_precision:
            raise ZoeExportError(
                f"{legacy} builds from the FP32 export with builder flags; {graph.path} is already {have.upper()}. "
                f"Build it without {legacy} (strongly typed), or pass the FP32 export.")
        if options.calib is not None:
            raise ZoeExportError(f"{calib}: {graph.path} is already {have.upper()}; a calibration set is only used to "
                                 f"make INT8 from an FP32 graph. Drop {calib}.")
        return have, False
    if want is not None and get_precision(want).needs_calibration and options.calib is None:
        raise ZoeExportError(f"{ask} from an FP32 graph needs a calibration set: {calib} DIR (make one with: "
                             "zoe-export calib --images DIR --variant ... --output DIR), or pass a graph already "
                             "converted by zoe-export onnx --precision int8.")
    if want != "int8" and options.calib is not None:
        int8 = option("--int8", "precision='int8'")
        raise ZoeExportError(f"{calib} is only for {int8}: drop it, or add {int8}.")
    return want or "fp32", want is not None and not options.legacy_precision


def check_legacy_supported(options: BuildOptions, tensorrt: Version) -> None:
    if options.legacy_precision and tensorrt.major >= 11:
        legacy = option("--legacy-precision", "legacy_precision=True")
        raise ZoeExportError(
            f"{legacy}: TensorRT {tensorrt} removed the builder's precision flags and INT8 calibrators "
            f"(every network is strongly typed). Drop {legacy}: the default build puts the same FP32 islands "
            "and INT8 ranges into the graph.")


# --------------------------------------------------------------------------------------------- plan

def plan_build(graph: GraphInfo, options: BuildOptions, precision: str, tensorrt: Version,
               output: Path) -> BuildPlan:
    """The plan for ``graph``: checked here, built later by :func:`loader_chain`."""
    options.validate()
    check_legacy_supported(options, tensorrt)
    legacy = options.legacy_precision and precision != "fp32"
    plan = BuildPlan(
        onnx=graph.path,
        precision=precision,
        mode="legacy-precision" if legacy else "strongly-typed",
        strongly_typed_flag=not legacy and tensorrt.major < 11,
        profiles=batch_profiles(graph, options.batch_profile),
        workspace_bytes=None if options.workspace_gb is None else int(options.workspace_gb * 2**30),
        timing_cache=Path(options.timing_cache) if options.timing_cache else None,
    )
    if not legacy:
        return plan
    calibration = _legacy_calibration(graph, options, output) if precision == "int8" else None
    return replace(plan, fp16_flag=True, int8_flag=precision == "int8", precision_constraints="obey",
                   layer_pins=legacy_layer_pins(graph.path, precision), calibration=calibration)


def batch_profiles(graph: GraphInfo, batch_profile: tuple[int, int, int] | None) -> tuple[Profile, ...]:
    """One optimisation profile over the batch for graphs exported with a dynamic batch."""
    dynamic = [t for t in graph.inputs if t.dynamic]
    if not dynamic:
        if batch_profile is not None:
            fixed = ", ".join(f"{t.name} {list(t.shape)}" for t in graph.inputs)
            flag = option("--batch-profile", "batch_profile=")
            raise ZoeExportError(f"{flag}: {graph.path} has a fixed batch ({fixed}). Export with "
                                 f"zoe-export onnx --dynamic-batch for a batch profile, or drop {flag}.")
        return ()
    low, opt, high = batch_profile or DEFAULT_BATCH_PROFILE
    profiles = []
    for tensor in dynamic:
        if any(d is None for d in tensor.shape[1:]):
            raise ZoeExportError(f"{graph.path}: input {tensor.name} {list(tensor.shape)} is dynamic beyond the batch; "
                                 "export with a fixed height and width.")
        rest = tuple(tensor.shape[1:])
        profiles.append(Profile(tensor.name, (low, *rest), (opt, *rest), (high, *rest)))
    return tuple(profiles)


def legacy_layer_pins(onnx_path: Path, precision: str) -> dict[str, str]:
    """The nodes legacy mode pins: FP32 islands, and for INT8 the nodes kept out of INT8 (FP16)."""
    from ..export.metadata import load_onnx
    from ..precision import plan_fp16, select_int8

    model = load_onnx(onnx_path)
    pins = {name: "fp16" for name in select_int8(model).kept} if precision == "int8" else {}
    pins.update({name: "fp32" for name in plan_fp16(model).fp32_nodes})
    return pins


def _legacy_calibration(graph: GraphInfo, options: BuildOptions, output: Path) -> Calibration:
    from ..calib import CalibrationSet

    calib = CalibrationSet(options.calib)
    calib.check_matches(graph.card.height, graph.card.width, graph.card.input_format, str(graph.path))
    return Calibration(Path(options.calib), calib.id, output.with_name(output.name + ".calib.cache"))


# ------------------------------------------------------------------------------- the loader chain

def loader_chain(plan: BuildPlan, progress=None):
    """Polygraphy loaders for ``plan``: ``EngineBytesFromNetwork(network, config, save_timing_cache)``.

    ``progress``: a :class:`~.progress.BuildProgress` that TensorRT reports its phases to.

    Constructing them touches no TensorRT object (except legacy INT8's calibrator, which Polygraphy
    needs up front to set the calibration profile); calling the result builds the engine.
    """
    from polygraphy.backend.trt import (
        CreateConfig,
        EngineBytesFromNetwork,
        PostprocessConfig,
        PostprocessNetwork,
    )
    from polygraphy.backend.trt import Profile as TrtProfile

    from .parser import NetworkFromOnnxChecked

    network = NetworkFromOnnxChecked(plan.onnx, strongly_typed=plan.strongly_typed_flag)
    if plan.layer_pins:
        network = PostprocessNetwork(network, PinLayers(plan.layer_pins), name="PinLayers")
    profiles = [TrtProfile().add(p.input, min=p.min, opt=p.opt, max=p.max) for p in plan.profiles]
    timing = str(plan.timing_cache) if plan.timing_cache else None
    config = CreateConfig(
        fp16=plan.fp16_flag, int8=plan.int8_flag, tf32=False, profiles=profiles or None,
        precision_constraints=plan.precision_constraints,
        load_timing_cache=timing if plan.timing_cache and plan.timing_cache.exists() else None,
        calibrator=None if plan.calibration is None else entropy_calibrator(plan.calibration),
    )
    config = PostprocessConfig(config, ConfigureBuild(plan.workspace_bytes, progress))
    return EngineBytesFromNetwork(network, config=config, save_timing_cache=timing)


@requires_tensorrt(10)
def entropy_calibrator(calibration: Calibration):
    """Legacy INT8: TensorRT's entropy calibrator over the calibration set, through Polygraphy's ``Calibrator``.

    Given to ``CreateConfig`` (not set on the config afterwards), so that Polygraphy also sets the
    calibration profile that a dynamic-batch network needs.
    """
    from polygraphy.backend.trt import Calibrator

    from ..calib import CalibrationSet

    trt = import_tensorrt()
    return Calibrator(CalibrationSet(calibration.set), cache=str(calibration.cache), BaseClass=trt.IInt8EntropyCalibrator2)


class PinLayers:
    """Network postprocessing for legacy mode: layers made from the pinned ONNX nodes get their precision.

    A layer belongs to an ONNX node by its metadata (the ONNX parser records the node name there)
    or by its name (the parser names layers after nodes, with suffixes for extra layers).
    """

    def __init__(self, pins: dict[str, str]):
        self.pins = dict(pins)

    @requires_tensorrt(10)
    def __call__(self, network: trt.INetworkDefinition) -> trt.INetworkDefinition:
        trt = import_tensorrt()
        types = {"fp32": trt.float32, "fp16": trt.float16}
        pinned = 0
        for index in range(network.num_layers):
            layer = network.get_layer(index)
            node = onnx_node_of(layer.name, layer.metadata, self.pins)
            if node is None:
                continue
            dtype = types[self.pins[node]]
            layer.precision = dtype
            for out in range(layer.num_outputs):
                if layer.get_output(out).dtype in (trt.float32, trt.float16):
                    layer.set_output_type(out, dtype)
            pinned += 1
        if self.pins and not pinned:
            raise ZoeExportError(f"{option('--legacy-precision', 'legacy_precision=True')}: no TensorRT layer could be "
                                 "matched to the pinned ONNX nodes, so the FP32 islands would be lost; use the default "
                                 "strongly typed build.")
        return network


def onnx_node_of(layer_name: str, metadata: str, nodes: dict[str, str]) -> str | None:
    """The ONNX node (a key of ``nodes``) a TensorRT layer was made from, or None."""
    for candidate in _metadata_nodes(metadata or ""):
        if candidate in nodes:
            return candidate
    if layer_name in nodes:
        return layer_name
    base = layer_name
    while "_" in base:  # "node_1", "node_output_0": extra layers made for one node
        base = base.rsplit("_", 1)[0]
        if base in nodes:
            return base
    return None


def _metadata_nodes(metadata: str) -> list[str]:
    """Node names in layer metadata such as "[ONNX Layer: /encoder/blocks.0/attn/Softmax]"."""
    names = []
    for part in metadata.split("[ONNX Layer: ")[1:]:
        names.append(part.split("]", 1)[0].strip())
    return names


class ConfigureBuild:
    """Config postprocessing applied when the build runs: the workspace limit and the progress monitor."""

    def __init__(self, workspace_bytes: int | None, progress=None):
        self.workspace_bytes, self.progress = workspace_bytes, progress

    def __call__(self, builder: trt.Builder, network: trt.INetworkDefinition, config: trt.IBuilderConfig) -> None:
        trt = import_tensorrt()
        if self.progress is not None:
            from .progress import tensorrt_monitor

            config.progress_monitor = tensorrt_monitor(self.progress)
        if self.workspace_bytes:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace_bytes)
