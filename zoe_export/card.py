"""The model card: what a deployable model is, typed and versioned, the same in every file that carries it.

    card = read_card("zoed_m12_n_fp16.onnx")      # or the .onnx.json manifest, or an .engine
    card.variant, card.size, card.batch, card.precision, card.input_spec()

A :class:`ModelCard` flows from the export through the precision stage to the engine and every
runtime: the ONNX graph carries it in ``metadata_props`` (flat strings, readable by any ONNX tool
and C++ app), the ``.onnx.json`` and ``.engine.json`` manifests as JSON (``"card"``). Only this
module turns it into strings and back; everything else takes the card.

Cards written before card version 2 (zoe-export 0.1 graphs and engine manifests) still load: the
graph's metadata had the same keys; an engine manifest's ``model`` and ``islands`` sections are
read together, and what they lack is named with the command that rewrites the file. Card version 3
added the sizes of dynamic-size graphs, engines' size profiles and frame graphs (``io``, ``flip``,
``frame_size``); cards of version 2 read as fixed-size model graphs, which is what they were. Optional
facts added since (``measured_on``: where a converted graph's ``measured_rel`` was measured) read as
unknown (None) from cards that lack them, with no new version.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from .errors import ZoeExportError, option
from .sizes import Size, SizeProfile, SizeRange, format_size, parse_size
from .tensors import TensorSpec

CARD_VERSION = 3
INPUT_FORMATS = ("float-nchw", "uint8-nhwc")
#: "model": the model's input at the model size (preprocessing on the host); "frame": raw uint8 frames
#: in, metric depth at the frame's size out (the official ``infer()`` inside the graph)
IOS = ("model", "frame")
#: every ZoeDepth variant normalises (x - 0.5) / 0.5 inside the graph; engine manifests of version 1 omit it
_ZOEDEPTH_NORMALISATION = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Weights:
    """Where the weights came from: an official checkpoint (its sha256) or seeded random weights."""

    kind: str = "checkpoint"  # checkpoint | random | state_dict
    sha256: str | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Calibration:
    set_id: str
    method: str | None = None


@dataclass(frozen=True)
class ModelCard:
    variant: str
    head: str  # N | K | NK
    height: int  # the model size; with ``size_range``, the size it is calibrated and measured at by default
    width: int
    input_name: str = "image"
    input_format: str = "float-nchw"
    io: str = "model"
    size_range: SizeRange | None = None  # model sizes a dynamic-size graph takes; None: fixed at height x width
    size_profile: SizeProfile | None = None  # an engine's MIN:OPT:MAX over the input's height and width
    frame_size: Size | None = None  # a frame graph built for one camera size; None: any frame size
    flip: bool = False  # a frame graph averages each frame's depth with its mirror image's (official infer)
    batch: int | None = 1  # None: dynamic
    batch_profile: tuple[int, int, int] | None = None  # an engine's MIN:OPT:MAX for a dynamic batch
    mean: tuple[float, ...] = _ZOEDEPTH_NORMALISATION
    std: tuple[float, ...] = _ZOEDEPTH_NORMALISATION
    fit: str = "stretch"
    depth_range: tuple[float, float] = (1e-3, 10.0)
    max_depth: float | None = None
    domain: str | None = None  # NK routed to one head; None: the router decides
    outputs: tuple[str, ...] = ("metric_depth",)
    precision: str = "fp32"
    source_precision: str | None = None  # what a converted graph was converted from
    fp16_islands: tuple[str, ...] = ()
    high_precision: str | None = None  # INT8: what the layers kept out of INT8 run in
    int8_groups: tuple[str, ...] = ()
    int8_budget_rel: float | None = None
    calibration: Calibration | None = None
    converter: str | None = None
    measured_rel: float | None = None  # REL of this precision against ``reference``
    reference: str | None = None  # what the precision was measured against
    #: where ``measured_rel`` was measured: onnxruntime (FP16's and INT8's emulation), openvino:f32, openvino:bf16
    measured_on: str | None = None
    weights: Weights = field(default_factory=Weights)
    opset: int | None = None
    versions: dict[str, str] = field(default_factory=dict)  # zoe_export, torch, onnx (and tensorrt in engines)
    version: int = CARD_VERSION

    @classmethod
    def for_input(cls, input_name: str, height: int, width: int, input_format: str = "float-nchw",
                  batch: int | None = 1, fit: str = "stretch") -> "ModelCard":
        """A card for a model that brings none (a runner of your own): only how it takes images is known."""
        return cls(variant="unknown", head="unknown", height=height, width=width, input_name=input_name,
                   input_format=input_format, batch=batch, fit=fit, weights=Weights("unknown"))

    # -- derived facts ------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def dynamic_size(self) -> bool:
        return self.size_range is not None

    @property
    def input_size(self) -> tuple[int | None, int | None]:
        """The input's height and width as the graph declares them (None: free)."""
        if self.io == "frame":
            return self.frame_size or (None, None)
        return (None, None) if self.dynamic_size else (self.height, self.width)

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        h, w = self.input_size
        if self.input_format == "uint8-nhwc":
            return (self.batch, h, w, 3)
        return (self.batch, 3, h, w)

    @property
    def depth_shape(self) -> tuple[int | None, ...]:
        """``metric_depth``'s shape: [N, H, W] at the frame's size for a frame graph, else [N, 1, h, w]."""
        h, w = self.input_size
        return (self.batch, h, w) if self.io == "frame" else (self.batch, 1, h, w)

    def check_model_size(self, size: Size, what: str = "model size") -> None:
        """Raise unless the graph runs the model at ``size``, naming the export option that would."""
        if self.size_range is not None:
            self.size_range.check(size, what)
        elif tuple(size) != self.size:
            raise ZoeExportError(
                f"{what} {format_size(size)}: this graph is fixed at {format_size(self.size)}. Resize to it, or "
                f"export a graph that takes other sizes: zoe-export onnx {option('--dynamic-size', 'dynamic_size=')}"
                f" (or --height/--width for another fixed size).")

    def model_size_for_frame(self, height: int, width: int) -> Size:
        """The model size a frame of ``height`` x ``width`` runs at (official keep-aspect size when dynamic)."""
        if self.size_range is None:
            return self.size
        from .preprocess import official_model_size

        return official_model_size(height, width, self.size)

    def input_spec(self) -> TensorSpec:
        dtype = np.uint8 if self.input_format == "uint8-nhwc" else np.float32
        return TensorSpec(self.input_name, np.dtype(dtype), self.input_shape)

    @property
    def depth_max(self) -> float:
        """The largest depth the model can output (``max_depth`` when it was clipped)."""
        return self.max_depth if self.max_depth is not None else self.depth_range[1]

    def with_changes(self, **changes) -> "ModelCard":
        return replace(self, **changes)

    # -- ONNX metadata_props: flat strings --------------------------------------------------------
    def to_metadata(self) -> dict[str, str]:
        fmt = lambda xs: ",".join(f"{x:g}" for x in xs)  # noqa: E731
        text = lambda x: "" if x is None else f"{x:g}" if isinstance(x, float) else str(x)  # noqa: E731
        meta = {
            "card_version": str(self.version),
            "zoe_export.version": self.versions.get("zoe_export", ""),
            "variant": self.variant,
            "head_type": self.head,
            "precision": self.precision,
            "input_name": self.input_name,
            "input_format": self.input_format,
            "input_shape": ",".join("N" if d is None else str(d) for d in self.input_shape),
            "io": self.io,
            "height": str(self.height),
            "width": str(self.width),
            "size_range": "" if self.size_range is None else self.size_range.text,
            "size_profile": "" if self.size_profile is None else self.size_profile.text,
            "frame_size": "" if self.frame_size is None else format_size(self.frame_size),
            "flip": "1" if self.flip else "",
            "batch": "dynamic" if self.batch is None else str(self.batch),
            "batch_profile": "" if self.batch_profile is None else ":".join(map(str, self.batch_profile)),
            "depth_range": fmt(self.depth_range),
            "depth_min": f"{self.depth_range[0]:g}",  # the bounds apps clip to (depth_max: after max_depth)
            "depth_max": f"{self.depth_max:g}",
            "max_depth": text(self.max_depth),
            "domain": self.domain or "",
            "mean": fmt(self.mean),
            "std": fmt(self.std),
            "fit": self.fit,
            "outputs": ",".join(self.outputs),
            "weights": self.weights.kind,
            "checkpoint_sha256": self.weights.sha256 or "",
            "random_seed": text(self.weights.seed),
            "opset": text(self.opset),
            "torch_version": self.versions.get("torch", ""),
            "onnx_version": self.versions.get("onnx", ""),
            "source_precision": self.source_precision or "",
            "converter": self.converter or "",
            "fp16_islands": ",".join(self.fp16_islands),
            "high_precision": self.high_precision or "",
            "int8_groups": ",".join(self.int8_groups),
            "int8_budget_rel": text(self.int8_budget_rel),
            "calibration_set": self.calibration.set_id if self.calibration else "",
            "calibration_method": (self.calibration.method or "") if self.calibration else "",
            "measured_rel": "" if self.measured_rel is None else f"{self.measured_rel:.3e}",
            "reference": self.reference or "",
            "measured_on": self.measured_on or "",
        }
        if self.versions.get("tensorrt"):
            meta["tensorrt_version"] = self.versions["tensorrt"]
        return {k: v for k, v in meta.items() if v != ""}

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str], where: str = "the model", fix: str | None = None) -> "ModelCard":
        """The card of ``meta`` (an ONNX graph's ``metadata_props``); ``where`` and ``fix`` go into errors."""
        fix = fix or "export it again with zoe-export onnx"
        version = _int(meta.get("card_version") or "1", "card_version", where, fix)
        if version > CARD_VERSION:
            raise ZoeExportError(f"{where} has a model card of version {version}, newer than this zoe-export reads "
                                 f"({CARD_VERSION}): upgrade zoe-export.")
        missing = [k for k in ("variant", "height", "width") if not meta.get(k)]
        if missing:
            raise ZoeExportError(f"{where} has no zoe-export model card (lacks {', '.join(missing)}): {fix}.")
        get = lambda key, default=None: meta.get(key) or default  # noqa: E731
        number = lambda key: None if not meta.get(key) else _float(meta[key], key, where, fix)  # noqa: E731
        batch = get("batch", "1")
        input_format = get("input_format", "float-nchw")
        if input_format not in INPUT_FORMATS:
            raise ZoeExportError(f"{where}: input format {input_format!r} is none of {', '.join(INPUT_FORMATS)}; {fix}.")
        io = get("io", "model")
        if io not in IOS:
            raise ZoeExportError(f"{where}: io {io!r} is none of {', '.join(IOS)}; {fix}.")
        versions = {name: meta[key] for name, key in (("zoe_export", "zoe_export.version"), ("torch", "torch_version"),
                                                      ("onnx", "onnx_version"), ("tensorrt", "tensorrt_version"))
                    if meta.get(key)}
        calibration = Calibration(meta["calibration_set"], get("calibration_method")) if get("calibration_set") else None
        return cls(
            variant=meta["variant"], head=get("head_type", "N"),
            height=_int(meta["height"], "height", where, fix), width=_int(meta["width"], "width", where, fix),
            input_name=get("input_name", "image"), input_format=input_format, io=io,
            size_range=_sizes(SizeRange, get("size_range"), "size_range", where, fix),
            size_profile=_sizes(SizeProfile, get("size_profile"), "size_profile", where, fix),
            frame_size=_sizes(parse_size, get("frame_size"), "frame_size", where, fix),
            flip=get("flip") == "1",
            batch=None if batch == "dynamic" else _int(batch, "batch", where, fix),
            batch_profile=_profile(get("batch_profile"), where, fix),
            mean=_floats(get("mean"), _ZOEDEPTH_NORMALISATION, where, fix),
            std=_floats(get("std"), _ZOEDEPTH_NORMALISATION, where, fix),
            fit=get("fit", "stretch"),
            depth_range=_depth_range(meta, where, fix),
            max_depth=number("max_depth"), domain=get("domain"),
            outputs=tuple(get("outputs", "metric_depth").split(",")),
            precision=get("precision", "fp32"), source_precision=get("source_precision"),
            fp16_islands=_names(get("fp16_islands")), high_precision=get("high_precision"),
            int8_groups=_names(get("int8_groups")), int8_budget_rel=number("int8_budget_rel"),
            calibration=calibration, converter=get("converter"), measured_rel=number("measured_rel"),
            reference=get("reference"), measured_on=get("measured_on"),
            weights=Weights(get("weights", "checkpoint"), get("checkpoint_sha256"),
                            None if not get("random_seed") else _int(meta["random_seed"], "random_seed", where, fix)),
            opset=None if not get("opset") else _int(meta["opset"], "opset", where, fix),
            versions=versions, version=CARD_VERSION,
        )

    # -- JSON (the .onnx.json and .engine.json manifests) -------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("size_range", "size_profile"):  # as the command line and metadata spell them
            data[key] = None if getattr(self, key) is None else getattr(self, key).text
        return json.loads(json.dumps(data))  # tuples as lists: as it reads back from the file

    @classmethod
    def from_dict(cls, data: Mapping, where: str = "the manifest", fix: str | None = None) -> "ModelCard":
        fix = fix or "export it again with zoe-export onnx"
        if not isinstance(data, Mapping):
            raise ZoeExportError(f"{where}: the model card is not a JSON object; {fix}.")
        version = data.get("version", CARD_VERSION)
        if not isinstance(version, int) or version > CARD_VERSION:
            raise ZoeExportError(f"{where} has a model card of version {version!r}, newer than this zoe-export reads "
                                 f"({CARD_VERSION}): upgrade zoe-export.")
        known = {f.name for f in fields(cls)}
        try:
            values = {k: v for k, v in data.items() if k in known}
            values["weights"] = Weights(**data.get("weights", {}))
            if data.get("calibration"):
                values["calibration"] = Calibration(**data["calibration"])
            for key in ("mean", "std", "depth_range", "outputs", "fp16_islands", "int8_groups"):
                if key in values:
                    values[key] = tuple(values[key])
            if values.get("batch_profile") is not None:
                values["batch_profile"] = tuple(values["batch_profile"])
            for key, kind in (("size_range", SizeRange), ("size_profile", SizeProfile)):
                values[key] = _sizes(kind, values.get(key), key, where, fix)
            if values.get("frame_size") is not None:
                values["frame_size"] = tuple(values["frame_size"])
            values["version"] = CARD_VERSION
            return cls(**values)
        except TypeError as exc:
            raise ZoeExportError(f"{where}: unreadable model card ({exc}); {fix}.") from exc

    def identity(self) -> dict[str, str]:
        """Which model this is (variant, weights, options), as compared between a backend and its reference."""
        values = {"variant": self.variant, "weights": self.weights.kind, "checkpoint_sha256": self.weights.sha256 or "",
                  "random_seed": "" if self.weights.seed is None else str(self.weights.seed),
                  "max_depth": "default" if self.max_depth is None else f"{self.max_depth:g}",
                  "domain": self.domain or "auto"}
        return {k: v for k, v in values.items() if v}


def card_from_legacy_engine(manifest: Mapping, where: str, fix: str) -> ModelCard:
    """The card of an engine manifest of version 1 (``model`` and ``islands`` sections, precision on top)."""
    flat = {**{k: str(v) for k, v in manifest.get("islands", {}).items() if isinstance(v, (str, int, float))},
            **{k: str(v) for k, v in manifest.get("model", {}).items()}}
    flat["precision"] = str(manifest.get("precision", "fp32"))
    if manifest.get("calibration_set") and not flat.get("calibration_set"):
        flat["calibration_set"] = str(manifest["calibration_set"])
    profile = next((t.get("profile") for t in manifest.get("inputs", []) if t.get("profile")), None)
    if profile:
        flat["batch_profile"] = f"{profile['min'][0]}:{profile['opt'][0]}:{profile['max'][0]}"
    flat["card_version"] = "1"
    return ModelCard.from_metadata(flat, where, fix)


def read_card(path: str | Path) -> ModelCard:
    """The card of a graph (``.onnx``), a manifest (``.json``) or an engine (by its manifest)."""
    path = Path(path)
    if path.suffix == ".json":
        return card_from_manifest_file(path)
    from .registry.backends import backend_for

    return backend_for(path).read_card(path)


def card_from_manifest_file(path: Path) -> ModelCard:
    from ._files import existing_file

    existing_file(path, "manifest", "pass the .onnx.json or .engine.json written beside a zoe-export file.")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ZoeExportError(f"{path} is not a readable manifest ({exc}).") from exc
    return card_from_manifest(manifest, str(path))


def card_from_manifest(manifest: Mapping, where: str) -> ModelCard:
    """The card in an ``.onnx.json`` or engine manifest, of this version or the previous one."""
    if not isinstance(manifest, Mapping):
        raise ZoeExportError(f"{where} is not a zoe-export manifest.")
    if "card" in manifest:
        return ModelCard.from_dict(manifest["card"], where)
    if manifest.get("format") == "zoe-export engine":
        return card_from_legacy_engine(manifest, where, "rebuild it with zoe-export trt --rebuild")
    if isinstance(manifest.get("metadata"), Mapping):  # .onnx.json of version 1
        return ModelCard.from_metadata(manifest["metadata"], where)
    raise ZoeExportError(f"{where} is not a zoe-export manifest (no model card).")


# -- parsing helpers (the only place card strings become values) ------------------------------------

def _int(text: str, key: str, where: str, fix: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ZoeExportError(f"{where}: {key} {text!r} is not a whole number; {fix}.") from None


def _float(text: str, key: str, where: str, fix: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ZoeExportError(f"{where}: {key} {text!r} is not a number; {fix}.") from None


def _floats(text: str | None, default: tuple[float, ...], where: str, fix: str) -> tuple[float, ...]:
    return default if not text else tuple(_float(x, "mean/std", where, fix) for x in text.split(","))


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(x for x in (text or "").split(",") if x)


def _profile(text: str | None, where: str, fix: str) -> tuple[int, int, int] | None:
    if not text:
        return None
    parts = tuple(_int(x, "batch_profile", where, fix) for x in text.split(":"))
    if len(parts) != 3:
        raise ZoeExportError(f"{where}: batch_profile {text!r} is not MIN:OPT:MAX; {fix}.")
    return parts


def _sizes(kind, text: str | None, key: str, where: str, fix: str):
    if not text:
        return None
    try:
        return kind(text, key) if kind is parse_size else kind.parse(text, key)
    except ZoeExportError as exc:
        raise ZoeExportError(f"{where}: {exc}; {fix}.") from None


def _depth_range(meta: Mapping[str, str], where: str, fix: str) -> tuple[float, float]:
    """The variant's depth range; cards of version 1 recorded only the bounds after ``max_depth``."""
    if meta.get("depth_range"):
        low, high = _floats(meta["depth_range"], (), where, fix)
        return low, high
    return (_float(meta.get("depth_min") or "0.001", "depth_min", where, fix),
            _float(meta.get("depth_max") or "10", "depth_max", where, fix))
