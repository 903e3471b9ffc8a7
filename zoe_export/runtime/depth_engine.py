"""``DepthEngine``: what apps use. Any runner, or a file, plus the shared preprocessing.

    with DepthEngine("engines/zoed_m12_n_fp16.engine") as engine:   # TensorRT (manifest checked first)
        depth = engine.predict(frame)                               # HxWx3 uint8/float -> HxW metres

    DepthEngine("zoed_m12_n.onnx")                                  # ONNX Runtime
    DepthEngine(TorchRunner(...))                                   # any runner

The backend is chosen by one argument (the file's suffix, or the runner given). What ``predict``
does around the model is what the model card says the graph leaves to the host:

* **A model-io graph of one size** (``card.io == "model"``, no size range): the official recipe on the
  host (reflect padding, resize to the graph's size, flip averaging, bicubic back), as before.
* **A dynamic-size model-io graph** (``card.size_range``): the same recipe, but each frame runs at the
  official keep-aspect size (``fit="minimal"``, :meth:`~zoe_export.card.ModelCard.model_size_for_frame`)
  instead of being stretched to one size; ``fit="stretch"`` / ``"letterbox"`` keep the card's default size.
* **A frame graph** (``card.io == "frame"``): the official ``infer()`` is inside the graph, so the frame
  goes in as it is (uint8 ``[1, H, W, 3]``; float or uint16 frames are converted to uint8 first) and its
  ``[H, W]`` depth comes back: no host preprocessing at all. ``flip``, ``fit`` and ``pad_input`` may
  only repeat what the graph does (``card.flip``, ``card.fit``, always padded); a contradicting value
  is refused when the engine is made, with the export option that gives the other graph.

Every size is checked before anything runs: a frame whose model size is outside a dynamic graph's
range, a frame of the wrong size for a fixed frame graph, or a batch of the wrong layout, dtype or
size raises one :class:`~zoe_export.errors.ZoeExportError` that says what the graph takes and the
export option that widens it. ``run`` is the zero-copy path for device arrays (TensorRT).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import preprocess
from .._files import existing_file
from ..card import ModelCard
from ..errors import ZoeExportError, option
from ..registry import backend_for
from ..sizes import Size, format_size
from .base import Runner, check_frame_size, describe_input, input_size

#: how a frame meets a model-io graph: stretched or letterboxed to the card's size, or (dynamic-size graphs)
#: run at the official keep-aspect "minimal" size of the (padded) frame
FITS = ("stretch", "letterbox", "minimal")
#: the stages of one ``predict`` call (``timings=``), as zoe-bench reports them
PREDICT_STAGES = ("preprocess", "compute", "postprocess")


def card_from_runner(runner: Runner) -> ModelCard:
    """A card for a runner that brings no card: its one image input says the size, format and batch."""
    specs = runner.input_specs()
    if len(specs) != 1 or len(specs[0].shape) != 4:
        raise ZoeExportError(f"{runner.name}: expected one image input of rank 4, got "
                             f"{[(s.name, s.shape) for s in specs]}; pass model=ModelCard.for_input(...).")
    spec = specs[0]
    batch, *rest = spec.shape
    if spec.dtype == np.uint8 and rest[2] == 3 and None not in rest[:2]:
        return ModelCard.for_input(spec.name, rest[0], rest[1], "uint8-nhwc", batch)
    if spec.dtype == np.float32 and rest[0] == 3 and None not in rest[1:]:
        return ModelCard.for_input(spec.name, rest[1], rest[2], "float-nchw", batch)
    raise ZoeExportError(f"{runner.name}: input {spec.name} {spec.dtype} {spec.shape} is neither float32 NCHW nor "
                         "uint8 NHWC of one size; pass model=ModelCard(...) (or ModelCard.for_input(...)).")


def open_runner(path: str | Path, **options) -> tuple[Runner, ModelCard]:
    """A runner for a file and its model card, from the backend that opens the file's suffix.

    ``options`` go to the backend's runner (ONNX Runtime: ``providers``, ``threads``; TensorRT:
    ``cuda_graph``, ``check_environment``)."""
    backend = backend_for(path)
    existing_file(path, f"{backend.label} file", f"make it with {backend.made_by or 'zoe-export'}.")
    runner = backend.open(Path(path), **options)  # first: TensorRT checks the engine against this machine
    return runner, backend.read_card(path)


@dataclass(frozen=True)
class FramePlan:
    """How ``predict`` runs one frame size: on which path, at which model size, with which recipe."""

    path: str  # "frame graph" (the official infer() inside the graph) or "host" (numpy pre/post around the model)
    frame: Size
    model_size: Size  # the size the model runs at (inside a frame graph: the size the graph resizes to)
    fit: str  # stretch | letterbox | minimal
    pad_input: bool
    flip: bool

    @property
    def computes(self) -> tuple:
        """What the depth depends on besides the weights: equal for two plans that compute the same thing.

        A stretch to a size and the "minimal" rule that lands on that size are the same resize."""
        return ("letterbox" if self.fit == "letterbox" else "resize", self.model_size, self.pad_input, self.flip)

    @property
    def text(self) -> str:
        """'frame graph 64x160 flip' / 'host 64x96 stretch flip'."""
        fit = "" if self.path == "frame graph" else f" {self.fit}"
        extras = ("" if self.pad_input else " no-pad") + (" flip" if self.flip else "")
        return f"{self.path} {format_size(self.model_size)}{fit}{extras}"

    @classmethod
    def from_dict(cls, data: dict) -> "FramePlan":
        return cls(str(data["path"]), tuple(data["frame"]), tuple(data["model_size"]), str(data["fit"]),
                   bool(data["pad_input"]), bool(data["flip"]))

    def as_dict(self) -> dict:
        return {"path": self.path, "frame": list(self.frame), "model_size": list(self.model_size), "fit": self.fit,
                "pad_input": self.pad_input, "flip": self.flip, "text": self.text}


def resolve_options(card: ModelCard, fit: str | None = None, pad_input: bool | None = None,
                    flip: bool | None = None) -> tuple[str, bool, bool]:
    """The (fit, pad_input, flip) ``predict`` uses for ``card``; None: what the graph does (or the official recipe).

    For a frame graph the graph decides: a value that contradicts it is refused."""
    if card.io != "frame":
        fit = fit or ("minimal" if card.dynamic_size else card.fit)
        if fit not in FITS:
            raise ZoeExportError(f"{option('--fit', 'fit=')} {fit!r}: choose one of {', '.join(FITS)}.")
        if fit == "minimal" and not card.dynamic_size:
            raise ZoeExportError(f"{option('--fit', 'fit=')} minimal runs each frame at its own keep-aspect size, and "
                                 f"this graph takes {format_size(card.size)} only: use stretch or letterbox, or "
                                 f"export with {option('--dynamic-size', 'dynamic_size=')}.")
        return fit, True if pad_input is None else bool(pad_input), True if flip is None else bool(flip)
    export = "zoe-export onnx --io frame"
    if flip is not None and bool(flip) != card.flip:
        inside = "averages each frame with its mirror image inside" if card.flip else "has no flip averaging inside"
        other = f"without {option('--flip', 'flip=True')}" if card.flip else option("--flip", "flip=True")
        raise ZoeExportError(f"flip={bool(flip)}: this frame graph {inside}, so predict() cannot change it. Leave flip "
                             f"unset (the graph's choice), or export the other graph: {export} {other}.")
    if pad_input is not None and not pad_input:
        raise ZoeExportError("pad_input=False: a frame graph reflect-pads every frame inside, as the official "
                             "infer() does. Leave pad_input unset, or use a model-io graph (zoe-export onnx --io "
                             "model) and predict() pads on the host as you choose.")
    if fit is not None and fit != card.fit:
        how = ("runs each frame at the official keep-aspect size" if card.fit == "minimal"
               else f"stretches each frame to {format_size(card.size)}")
        other = (f"a fixed-size model (without {option('--dynamic-size', 'dynamic_size=')})" if card.fit == "minimal"
                 else f"a dynamic-size model ({option('--dynamic-size', 'dynamic_size=')})")
        raise ZoeExportError(f"fit={fit!r}: this frame graph {how} (fit {card.fit!r}) inside. Leave fit unset, or "
                             f"export a frame graph of {other}.")
    return card.fit, True, card.flip


def plan_frame(card: ModelCard, height: int, width: int, fit: str, pad_input: bool, flip: bool) -> FramePlan:
    """How a ``height`` x ``width`` frame runs (options from :func:`resolve_options`); raises, naming the export
    option that widens the graph, where the graph cannot take the frame's model size."""
    frame = (int(height), int(width))
    if card.io == "frame":
        return FramePlan("frame graph", frame, check_frame_size(card, frame), card.fit, True, card.flip)
    if fit == "minimal":
        size = (preprocess.official_model_size(*frame, card.size) if pad_input
                else preprocess.minimal_size(*frame, card.size))
    else:
        size = card.size
    card.check_model_size(size, f"a {format_size(frame)} frame's model size")
    return FramePlan("host", frame, size, fit, pad_input, flip)


@dataclass(frozen=True)
class PreparedFrame:
    """One frame made ready by :meth:`DepthEngine.prepare`: the model inputs it needs and how its depth maps back."""

    plan: FramePlan
    #: host path: float32 (1 or 2, 3, h, w), the frame and (flip) its mirror image; frame graph: uint8 (1, H, W, 3)
    rows: np.ndarray
    prepared: preprocess.Prepared | None  # host path: what restore() needs; None for a frame graph

    @property
    def key(self) -> tuple:
        """Frames with equal keys can share one backend call (same input size and type)."""
        return self.rows.dtype.str, self.rows.shape[1:]


def _rgb_array(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        preprocess.to_float_rgb(image)  # raises, saying what the shape looks like (RGBA, CHW, grayscale)
    return image


class _StageClock:
    """Times the model calls inside one predict: compute is the time inside them, the rest is before and after."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.compute = 0.0

    def wrap(self, fn):
        def timed(x):
            t0 = time.perf_counter()
            out = fn(x)
            t1 = time.perf_counter()
            self.first = t0 if self.first is None else self.first
            self.last, self.compute = t1, self.compute + (t1 - t0)
            return out

        return timed

    def stages(self) -> dict[str, float]:
        end = time.perf_counter()
        first = self.first if self.first is not None else end
        last = self.last if self.last is not None else end
        return {"preprocess": first - self.start, "compute": self.compute, "postprocess": end - last}


class DepthEngine:
    """Metric depth from images through any backend: ``predict`` (host arrays), ``run`` (device arrays)."""

    def __init__(self, source: str | Path | Runner, *, model: ModelCard | None = None, fit: str | None = None,
                 pad_input: bool | None = None, flip: bool | None = None, **backend_options):
        """``source``: a file (its backend chosen by the suffix) or a runner; ``model``: the card, when the
        runner brings none; ``backend_options`` go to the backend (``providers=[...]``, ``cuda_graph=True``).

        ``fit``, ``pad_input`` and ``flip`` (None: the graph's own, else the official recipe: padded, flip
        averaged, ``"minimal"`` for a dynamic-size graph, the card's fit otherwise) say how ``predict`` runs
        a frame through a model-io graph; a frame graph does all of it inside and refuses values that
        contradict it."""
        if isinstance(source, Runner):
            self.runner = source
            self.model = model or source.card or card_from_runner(source)
        else:
            self.runner, found = open_runner(source, **backend_options)
            self.model = model or found
        self.fit, self.pad_input, self.flip = resolve_options(self.model, fit, pad_input, flip)

    # -- lifecycle (predict activates on first use; close or a with block releases) ----------------
    def __enter__(self) -> "DepthEngine":
        self.runner.activate()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.runner.deactivate()

    @property
    def size(self) -> tuple[int, int]:
        """The card's model size (a dynamic-size graph's default size)."""
        return self.model.height, self.model.width

    @property
    def is_frame_graph(self) -> bool:
        return self.model.io == "frame"

    def plan(self, height: int, width: int) -> FramePlan:
        """How ``predict`` runs a ``height`` x ``width`` frame (raises where the graph cannot take it)."""
        return plan_frame(self.model, height, width, self.fit, self.pad_input, self.flip)

    def model_size(self, height: int, width: int, pad_input: bool | None = None) -> Size:
        """The model size a ``height`` x ``width`` frame runs at (checked against the graph's sizes)."""
        pad = self.pad_input if pad_input is None else pad_input
        return plan_frame(self.model, height, width, self.fit, pad, self.flip).model_size

    # -- host path ---------------------------------------------------------------------------------
    def predict(self, image: np.ndarray, timings: dict | None = None) -> np.ndarray:
        """HxWx3 RGB (uint8, uint16 or float in [0, 1]) -> HxW float32 depth in metres at the image's size.

        ``timings``: a dict that receives the seconds of each stage of this call (preprocess, compute =
        the model calls, postprocess). The same as :meth:`prepare`, :meth:`infer_prepared` and :meth:`finish`
        in a row; a pipeline runs those three in different threads."""
        image = _rgb_array(image)
        plan = self.plan(*image.shape[:2])  # every size checked before anything runs
        self.runner.activate()
        clock = _StageClock()
        frame = self._prepare(image, plan)
        output = clock.wrap(lambda f: self.infer_prepared([f])[0])(frame)
        depth = self.finish(frame, output)
        if timings is not None:
            timings.update(clock.stages())
        return depth

    def prepare(self, image: np.ndarray) -> "PreparedFrame":
        """The preprocessing of :meth:`predict` alone (numpy only, safe in worker threads): the model input rows
        of one frame, checked against the graph's sizes."""
        image = _rgb_array(image)
        return self._prepare(image, self.plan(*image.shape[:2]))

    def _prepare(self, image: np.ndarray, plan: FramePlan) -> "PreparedFrame":
        if plan.path == "frame graph":
            frame = image if image.dtype == np.uint8 else preprocess.to_uint8(preprocess.to_float_rgb(image), "hwc")
            return PreparedFrame(plan, np.ascontiguousarray(frame)[None], None)
        fit = "letterbox" if plan.fit == "letterbox" else "stretch"  # to the planned size: "minimal" chose it
        prepared = preprocess.prepare(image, plan.model_size, fit=fit, pad_input=plan.pad_input)
        rows = prepared.batch
        if plan.flip:  # the frame and its mirror image in one call, averaged in finish()
            rows = np.ascontiguousarray(np.concatenate([rows, rows[..., ::-1]]))
        return PreparedFrame(plan, rows, prepared)

    def infer_prepared(self, frames: "list[PreparedFrame]") -> list[np.ndarray]:
        """One backend call for prepared frames of one :attr:`PreparedFrame.key` (a fixed batch: several calls, the
        last filled up with copies); each frame's raw model output, in order."""
        if not frames:
            return []
        if len({frame.key for frame in frames}) > 1:
            raise ZoeExportError("infer_prepared() runs frames of one model input size together; group the frames "
                                 "by PreparedFrame.key.")
        rows = frames[0].rows if len(frames) == 1 else np.concatenate([frame.rows for frame in frames])
        self.runner.activate()
        if not self.is_frame_graph:
            rows = self.to_model_input(rows)
        outputs = self._infer_rows(rows, fill=True)
        ends = np.cumsum([len(frame.rows) for frame in frames])
        return [outputs[end - len(frame.rows):end] for frame, end in zip(frames, ends)]

    def finish(self, frame: "PreparedFrame", output: np.ndarray) -> np.ndarray:
        """The postprocessing of :meth:`predict` alone: a frame's model output -> HxW float32 metres at its size."""
        output = np.asarray(output, dtype=np.float32)
        if frame.prepared is None:  # a frame graph: depth at the frame's size already
            expected = (1, *frame.plan.frame)
            if output.shape != expected:
                raise ZoeExportError(f"the frame graph returned depth of shape {list(output.shape)} for a "
                                     f"{format_size(frame.plan.frame)} frame; expected {list(expected)}.")
            return np.ascontiguousarray(output[0])
        expected = (len(frame.rows), 1, *frame.rows.shape[2:])
        if output.shape != expected:
            raise ZoeExportError(f"the backend returned depth of shape {list(output.shape)}, expected "
                                 f"{list(expected)}: the graph must map (B, 3, H, W) inputs to (B, 1, H, W) depth.")
        depth = preprocess.mirror_average(output) if frame.plan.flip else output
        return preprocess.restore(depth[0], frame.prepared)

    def infer_batch(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> (B, 1, H, W) metric depth, in the model's input format and batch."""
        self.check_batch(batch)
        self.runner.activate()
        return self._infer_rows(self.to_model_input(batch), fill=False)

    def _infer_rows(self, feeds: np.ndarray, fill: bool) -> np.ndarray:
        """Model inputs -> depth, in calls of the graph's fixed batch (``fill``: the last one filled up with copies
        of its last input, else a batch that does not split is refused) or of an engine profile's largest batch."""
        step = self.model.batch or (self.model.batch_profile or (0, 0, len(feeds)))[2]
        if len(feeds) % step and not fill:
            raise ZoeExportError(f"batch of {len(feeds)} does not split into the model's fixed batch of {step}; "
                                 f"export with {option('--dynamic-batch', 'batch=None')}, or pass flip=False.")
        depths = []
        for start in range(0, len(feeds), step):
            chunk = feeds[start:start + step]
            count = len(chunk)
            if count < step and self.model.batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], step - count, axis=0)])
            depths.append(self.runner.infer({self.model.input_name: chunk})["metric_depth"][:count])
        return depths[0] if len(depths) == 1 else np.concatenate(depths)

    def rows_per_frame(self) -> int:
        """Model inputs per frame: 2 where the host averages a frame with its mirror image, else 1."""
        return 2 if self.flip and not self.is_frame_graph else 1

    def check_frames_per_call(self, frames: int, flag: str = "--batch") -> None:
        """Raise unless ``frames`` frames per backend call suit the graph's batch (one line, the fix)."""
        rows = frames * self.rows_per_frame()
        with_flip = f" ({rows} inputs: each frame and its mirror image)" if rows != frames else ""
        what = f"{option(flag, 'batch=')} {frames} puts {frames} frame{'s' * (frames > 1)} in each call{with_flip}"
        fixed = self.model.batch
        if fixed is not None and frames > 1 and rows != fixed:
            fits = fixed // self.rows_per_frame()
            fix = f"pass {option(flag, 'batch=')} {fits}" if fits > 1 and fixed % self.rows_per_frame() == 0 else \
                f"pass {option(flag, 'batch=')} 1"
            raise ZoeExportError(f"{what}, and this graph has a fixed batch of {fixed}: {fix}, or export with "
                                 f"{option('--dynamic-batch', 'batch=None')}.")
        profile = self.model.batch_profile
        if profile is not None and rows > profile[2]:
            raise ZoeExportError(f"{what}, and this engine's batch profile ends at {profile[2]}: pass a smaller "
                                 f"{option(flag, 'batch=')}, or rebuild it with a larger batch profile.")

    def check_batch(self, batch: np.ndarray) -> None:
        """Raise unless ``batch`` is (B, 3, H, W) float RGB at a model size the graph takes (one message, the fix)."""
        card = self.model
        if card.io == "frame":
            raise ZoeExportError(f"infer_batch() feeds prepared model inputs, and this is a frame graph: it takes "
                                 f"{describe_input(card)}. Call predict(frame), or runner.infer({{'{card.input_name}'"
                                 f": frames}}).")
        batch = np.asarray(batch)
        if batch.ndim != 4 or batch.shape[1] != 3 or not np.issubdtype(batch.dtype, np.floating):
            raise ZoeExportError(f"infer_batch() takes (B, 3, H, W) float32 RGB in [0, 1] (it converts to the graph's "
                                 f"input, {describe_input(card)}); got {batch.dtype} {list(batch.shape)}.")
        card.check_model_size(tuple(int(d) for d in batch.shape[2:]), "input size")

    def to_model_input(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> the model's input format (float NCHW, or uint8 NHWC clipped, rounded)."""
        if self.model.input_format == "uint8-nhwc":
            return preprocess.to_uint8(batch, "nchw")
        return np.ascontiguousarray(batch, dtype=np.float32)

    # -- device path -------------------------------------------------------------------------------
    def run(self, inputs: dict, outputs: dict | None = None, stream=None) -> dict:
        """Zero-copy inference on device arrays (``__cuda_array_interface__`` or DLPack): TensorRT only.

        Inputs are model inputs as they are (already preprocessed, on the GPU; a frame graph's raw uint8
        frames); outputs are views of the engine's buffers unless ``outputs`` gives arrays to write into.
        A dynamic-size graph's input is checked against the card's sizes first.
        """
        run = getattr(self.runner, "run", None)
        if run is None:
            raise ZoeExportError(f"run() takes device arrays, which the {self.runner.name} backend cannot: use a "
                                 "TensorRT engine, or predict() / runner.infer() with numpy arrays.")
        feed = inputs.get(self.model.input_name)
        shape = getattr(feed, "shape", None)
        if shape is not None and len(shape) == 4:
            size = input_size(self.model, tuple(shape))
            if self.model.io == "frame":
                check_frame_size(self.model, size)
            elif self.model.size_range is not None:
                self.model.check_model_size(size, f"input {self.model.input_name!r} size")
        self.runner.activate()
        return run(inputs, outputs=outputs, stream=stream)
