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

Profiles: a graph with free input dimensions gets one optimisation profile over them (see
:func:`input_profiles`): the batch (``--batch-profile``) for graphs exported with a dynamic batch,
and the input's height and width (``--size-profile``) for dynamic-size graphs (``zoe-export onnx
--dynamic-size``: model sizes within the card's range, multiples of 32) and frame graphs
(``zoe-export onnx --io frame``: raw frames of any size).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from .._log import log
from ..errors import ZoeExportError, option
from ..registry import get_precision, list_precisions
from ..sizes import MULTIPLE, SizeProfile, SizeRange, format_size, round_up
from .api import import_tensorrt, requires_tensorrt
from .graph import GraphInfo

if TYPE_CHECKING:  # the types the contract tests check our calls against
    import tensorrt as trt

DEFAULT_BATCH_PROFILE = (1, 2, 8)  # opt 2: predict() runs an image and its mirror image as one batch
#: a frame graph's default profile over the frame's height and width: from 240x240 (QVGA's short side, either
#: orientation), tuned at 720p landscape (the commonest camera), up to 1080p landscape and portrait. A frame graph
#: resizes frames to the model size inside, so the frame size costs little; the engine reserves memory for MAX.
DEFAULT_FRAME_PROFILE = SizeProfile((240, 240), (720, 1280), (1920, 1920))


@dataclass(frozen=True)
class BuildOptions:
    """What the user asked of the engine build (the CLI maps its flags here, and nowhere else)."""

    precision: str | None = None  # fp16 | int8 | None: the graph's own precision
    calib: str | Path | None = None  # calibration set (INT8 from an FP32 graph)
    legacy_precision: bool = False
    workspace_gb: float | None = None  # None: TensorRT's default (the GPU's memory)
    batch_profile: tuple[int, int, int] | None = None  # min, opt, max for a dynamic batch
    size_profile: SizeProfile | str | None = None  # MIN:OPT:MAX over the input's height and width (dynamic sizes)
    timing_cache: str | Path | None = None
    output: str | Path | None = None

    def __post_init__(self) -> None:
        if isinstance(self.size_profile, str):  # "320x320:384x672:768x1344", as on the command line
            object.__setattr__(self, "size_profile", SizeProfile.parse(self.size_profile, _size_flag()))

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
        if self.size_profile is not None:
            if not isinstance(self.size_profile, SizeProfile):
                raise ZoeExportError(f"{_size_flag()} {self.size_profile!r}: give "
                                     "'MIN_HxMIN_W:OPT_HxOPT_W:MAX_HxMAX_W' (e.g. '320x320:384x672:768x1344') or a "
                                     "SizeProfile.")
            SizeProfile.parse(self.size_profile.text, _size_flag())  # positive, each size at most the next


def _size_flag() -> str:
    return option("--size-profile", "size_profile=")


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
    batch_profile: tuple[int, int, int] | None = None  # the profiles' batch, for a dynamic batch (the card's)
    size_profile: SizeProfile | None = None  # the profiles' height and width, for a dynamic size (the card's)

    def fingerprint(self) -> dict:
        """What decides the engine's content (paths and the timing cache do not; the batch and size profiles are
        in ``profiles`` already, and left out so that engines of fixed-size graphs keep their cache keys)."""
        data = asdict(self)
        for key in ("onnx", "timing_cache", "batch_profile", "size_profile"):
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
        if self.size_profile is not None:
            lines.append(f"size profile {self.size_profile.text} (MIN:OPT:MAX height x width)")
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
    profiles = input_profiles(graph, options.batch_profile, options.size_profile)
    plan = BuildPlan(
        onnx=graph.path,
        precision=precision,
        mode="legacy-precision" if legacy else "strongly-typed",
        strongly_typed_flag=not legacy and tensorrt.major < 11,
        profiles=profiles.profiles,
        workspace_bytes=None if options.workspace_gb is None else int(options.workspace_gb * 2**30),
        timing_cache=Path(options.timing_cache) if options.timing_cache else None,
        batch_profile=profiles.batch,
        size_profile=profiles.size,
    )
    if not legacy:
        return plan
    if precision == "int8":
        _check_calibration_size(graph, plan.size_profile)
    calibration = _legacy_calibration(graph, options, output) if precision == "int8" else None
    return replace(plan, fp16_flag=True, int8_flag=precision == "int8", precision_constraints="obey",
                   layer_pins=legacy_layer_pins(graph.path, precision), calibration=calibration)


@dataclass(frozen=True)
class InputProfiles:
    """The optimisation profile(s) of a graph, and the batch and size profiles they range over (None: fixed)."""

    profiles: tuple[Profile, ...] = ()
    batch: tuple[int, int, int] | None = None
    size: SizeProfile | None = None


def size_axes(graph: GraphInfo) -> tuple[int, int]:
    """The input's height and width axes: NHWC (1, 2) for frames and uint8-nhwc inputs, else NCHW (2, 3)."""
    card = graph.card
    return (1, 2) if card.io == "frame" or card.input_format == "uint8-nhwc" else (2, 3)


def input_profiles(graph: GraphInfo, batch_profile: tuple[int, int, int] | None = None,
                   size_profile: SizeProfile | None = None) -> InputProfiles:
    """One optimisation profile over each input's free dimensions: the batch (graphs exported with a dynamic batch)
    and the height and width (dynamic-size and frame graphs), together; none for a graph of fixed shapes.

    Checked here, before TensorRT is touched: a batch or size profile for a graph that has no such freedom, a
    size profile outside the graph's range. Without ``size_profile`` a dynamic-size graph gets
    :func:`default_size_profile` (see :func:`log_default_size_profile`)."""
    dynamic = [t for t in graph.inputs if t.dynamic]
    batch_free = any(t.shape[:1] == (None,) for t in dynamic)
    axes = size_axes(graph)
    size_free = [t for t in dynamic if len(t.shape) == 4 and all(t.shape[a] is None for a in axes)]
    if batch_profile is not None and not batch_free:
        fixed = _shapes(graph)
        flag = option("--batch-profile", "batch_profile=")
        raise ZoeExportError(f"{flag}: {graph.path} has a fixed batch ({fixed}). Export with "
                             f"zoe-export onnx --dynamic-batch for a batch profile, or drop {flag}.")
    if size_profile is not None and not size_free:
        raise ZoeExportError(
            f"{_size_flag()} {size_profile.text}: {graph.path} takes one input size ({_shapes(graph)}). Export a "
            "graph that takes other sizes: zoe-export onnx --dynamic-size MIN_HxMIN_W:MAX_HxMAX_W (model sizes) or "
            f"--io frame without --frame-size (camera frames of any size); or drop {_size_flag()}.")
    size = None
    if size_free:
        size = _checked_size_profile(graph, size_profile) if size_profile is not None else default_size_profile(graph)
    batch = (batch_profile or DEFAULT_BATCH_PROFILE) if batch_free else None
    profiles = []
    for tensor in dynamic:
        free = {0} if batch_free and tensor.shape[0] is None else set()
        if tensor in size_free:
            free |= set(axes)
        beyond = [a for a, d in enumerate(tensor.shape) if d is None and a not in free]
        if beyond:
            raise ZoeExportError(
                f"{graph.path}: input {_shapes(graph, tensor)} is dynamic beyond the batch, height and "
                "width (or in only one of height and width): export it with zoe-export onnx (--dynamic-batch, "
                "--dynamic-size or --io frame for free dimensions).")
        shapes = []
        for which in range(3):  # min, opt, max
            shape = list(tensor.shape)
            if 0 in free:
                shape[0] = batch[which]
            if size is not None and axes[0] in free:
                shape[axes[0]], shape[axes[1]] = (size.min, size.opt, size.max)[which]
            shapes.append(tuple(shape))
        profiles.append(Profile(tensor.name, *shapes))
    return InputProfiles(tuple(profiles), batch, size)


def _shapes(graph: GraphInfo, *tensors) -> str:
    """``image [N, 3, 64, 96]`` for each input (N: a free dimension)."""
    return ", ".join(f"{t.name} [{', '.join(map(str, t.shape_text()))}]" for t in tensors or graph.inputs)


def default_size_profile(graph: GraphInfo) -> SizeProfile:
    """The profile of a dynamic-size graph built without ``--size-profile``.

    * model sizes (``--dynamic-size``): the card's whole range, tuned (OPT) at the card's native size (the size the
      variant was trained at and is measured and calibrated at; official keep-aspect sizes lie around it);
    * frames (``--io frame``): :data:`DEFAULT_FRAME_PROFILE`, 240x240:720x1280:1920x1920.
    """
    card = graph.card
    if card.io == "frame":
        return DEFAULT_FRAME_PROFILE
    size_range = _size_range(graph)
    return SizeProfile(size_range.min, size_range.clamp(card.size), size_range.max)


def log_default_size_profile(graph: GraphInfo, plan: BuildPlan) -> None:
    """Say which size profile a dynamic-size graph gets when none was asked for, and how to ask for another."""
    if plan.size_profile is None:
        return
    takes = "any frame size" if graph.card.io == "frame" else f"model sizes {graph.card.size_range}"
    log.info("%s takes %s: the engine's size profile is %s (MIN:OPT:MAX height x width, the default; %s sets "
             "another)", graph.path, takes, plan.size_profile.text, _size_flag())


def _size_range(graph: GraphInfo) -> SizeRange:
    card = graph.card
    if card.size_range is None:
        raise ZoeExportError(f"{graph.path} takes any height and width ({_shapes(graph)}) but its model card has no "
                             "size range (size_range): export it again with zoe-export onnx --dynamic-size "
                             "MIN_HxMIN_W:MAX_HxMAX_W.")
    return card.size_range


def _checked_size_profile(graph: GraphInfo, profile: SizeProfile) -> SizeProfile:
    """``profile`` for ``graph``: any positive sizes for frames; model sizes (multiples of 32 in its range) else."""
    if graph.card.io == "frame":
        return profile
    size_range, flag = _size_range(graph), _size_flag()
    sizes = (profile.min, profile.opt, profile.max)
    if any(side % MULTIPLE for size in sizes for side in size):
        rounded = SizeProfile(*(round_up(s) for s in sizes))
        raise ZoeExportError(f"{flag} {profile.text}: {graph.path} runs the model at the input's size, so every "
                             f"size of the profile must be a multiple of {MULTIPLE} (e.g. {flag} {rounded.text}).")
    outside = [(name, size) for name, size in (("MIN", profile.min), ("MAX", profile.max))
               if not size_range.contains(size)]
    if outside:
        what = " and ".join(f"{name} {format_size(size)}" for name, size in outside)
        raise ZoeExportError(
            f"{flag} {profile.text}: {what} {'is' if len(outside) == 1 else 'are'} outside the model sizes "
            f"{graph.path} takes ({size_range.text}, its size range). Keep MIN and MAX within it, or export the graph "
            f"again with a wider range: zoe-export onnx --dynamic-size {size_range.covering(profile.min, profile.max).text}.")
    return profile


def _check_calibration_size(graph: GraphInfo, size: SizeProfile | None) -> None:
    """Legacy INT8 calibrates at the profile's OPT shape: for a dynamic size that must be the calibration set's."""
    if size is None or graph.card.io == "frame" or size.opt == graph.card.size:
        return
    legacy, native = option("--legacy-precision", "legacy_precision=True"), graph.card.size
    fixed = SizeProfile(tuple(map(min, size.min, native)), native, tuple(map(max, size.max, native)))
    raise ZoeExportError(
        f"{legacy} INT8 calibrates at the size profile's OPT size, {format_size(size.opt)}; the calibration set is "
        f"made at {format_size(native)} (the graph's model size). Give {_size_flag()} {fixed.text}, or use the "
        "default strongly typed build.")


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
