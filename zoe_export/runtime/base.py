"""One runner interface for every backend (as Polygraphy's): activate, infer, deactivate.

    with OnnxrtRunner("zoed_m12_n.onnx") as runner:
        outputs = runner.infer({"image": batch})        # {"metric_depth": ..., ...} numpy arrays

Backends implement ``_activate``, ``_infer``, ``_deactivate`` and ``input_specs``; the base class
checks inputs (names, dtypes, shapes, with symbolic dimensions free) before every call. A runner that
knows its model card (``card``: ONNX Runtime reads it from the graph) also checks what the symbolic
shapes cannot say: a dynamic-size graph's input against the card's size range, a frame graph's frame
against its fixed frame size, its padding and the model size the frame runs at
(:func:`check_sizes`), each with the export option that would take it.
"""
from __future__ import annotations

import abc

import numpy as np

from ..errors import ZoeExportError, option
from ..sizes import Size, format_size
from ..tensors import TensorSpec


def input_size(card, shape: tuple[int, ...]) -> Size:
    """The height and width of an image input of ``shape`` in the card's input format (NCHW or NHWC)."""
    return (int(shape[1]), int(shape[2])) if card.input_format == "uint8-nhwc" else (int(shape[2]), int(shape[3]))


def describe_input(card) -> str:
    """What the card's graph takes, in words: dtype, layout, and the sizes (fixed, a range, or frames of any size)."""
    batch = "N" if card.batch is None else str(card.batch)
    if card.io == "frame":
        size = f"{format_size(card.frame_size)} frames only" if card.frame_size else "frames of any size"
        return f"uint8 [{batch}, H, W, 3] RGB {size}"
    layout = f"uint8 [{batch}, h, w, 3] RGB 0-255" if card.input_format == "uint8-nhwc" else \
        f"float32 [{batch}, 3, h, w] RGB in [0, 1]"
    if card.size_range is None:
        return f"{layout} at h x w = {format_size(card.size)}"
    return f"{layout} at model sizes h x w from {format_size(card.size_range.min)} to " \
           f"{format_size(card.size_range.max)} (multiples of 32)"


def check_frame_size(card, size: Size) -> Size:
    """Raise unless a frame graph takes an ``size`` frame; return the model size the frame runs at inside it."""
    height, width = (int(v) for v in size)
    if card.frame_size is not None and (height, width) != tuple(card.frame_size):
        raise ZoeExportError(
            f"frame {format_size((height, width))}: this frame graph takes {format_size(card.frame_size)} frames "
            f"only. Resize the frame to it, or export a frame graph for any frame size (zoe-export onnx --io frame "
            f"without {option('--frame-size', 'frame_size=')}).")
    from ..preprocess import reflect_padding

    pad_h, pad_w = reflect_padding(height, width)
    if pad_h >= height or pad_w >= width:
        raise ZoeExportError(
            f"frame {format_size((height, width))} is too small for the reflection padding the frame graph applies "
            f"({pad_h} rows and {pad_w} columns a side, as the official infer()): pass a frame of at least 5x5 pixels.")
    model_size = card.model_size_for_frame(height, width)
    card.check_model_size(model_size, f"a {format_size((height, width))} frame's model size")
    return model_size


def check_sizes(card, feed_dict: dict[str, np.ndarray]) -> None:
    """Raise, before anything runs, unless the card's graph takes the image input's height and width.

    Fixed sizes are the input specs' to check; this covers what they leave free: a dynamic-size graph's
    range, a frame graph's frame (:func:`check_frame_size`)."""
    array = None if card is None else feed_dict.get(card.input_name)
    if array is None or np.ndim(array) != 4:
        return
    size = input_size(card, np.shape(array))
    if card.io == "frame":
        check_frame_size(card, size)
    elif card.size_range is not None:
        card.check_model_size(size, f"input {card.input_name!r} size")


class Runner(abc.ABC):
    name = "runner"
    #: the model card, where the runner knows it (see :func:`check_sizes`); None: the input specs alone are checked
    card = None

    def __init__(self) -> None:
        self.is_active = False

    # -- lifecycle -------------------------------------------------------------------------------
    def activate(self) -> "Runner":
        if not self.is_active:
            self._activate()
            self.is_active = True
        return self

    def deactivate(self) -> None:
        if self.is_active:
            self._deactivate()
            self.is_active = False

    def __enter__(self) -> "Runner":
        return self.activate()

    def __exit__(self, *exc) -> None:
        self.deactivate()

    # -- inference ---------------------------------------------------------------------------------
    def infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.is_active:
            raise ZoeExportError(f"{self.name} is not active: use it as a context manager or call activate() first.")
        self.check_inputs(feed_dict)
        return self._infer(feed_dict)

    def check_inputs(self, feed_dict: dict[str, np.ndarray]) -> None:
        specs = {s.name: s for s in self.input_specs()}
        missing = sorted(set(specs) - set(feed_dict))
        extra = sorted(set(feed_dict) - set(specs))
        if missing or extra:
            raise ZoeExportError(f"{self.name} takes inputs {sorted(specs)}; got {sorted(feed_dict)}.")
        for name, spec in specs.items():
            array = feed_dict[name]
            if np.dtype(array.dtype) != spec.dtype:
                raise ZoeExportError(f"{self.name}: input {name!r} must be {spec.dtype}, got {array.dtype}.")
            if not spec.accepts(array.shape):
                raise ZoeExportError(f"{self.name}: input {name!r} must have shape {spec.shape_text()}, "
                                     f"got {list(array.shape)}.")
        check_sizes(self.card, feed_dict)

    @abc.abstractmethod
    def input_specs(self) -> list[TensorSpec]: ...

    @abc.abstractmethod
    def _activate(self) -> None: ...

    @abc.abstractmethod
    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def _deactivate(self) -> None:
        pass
