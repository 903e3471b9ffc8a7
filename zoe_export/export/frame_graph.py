"""The official ``infer()`` as ONNX nodes around an exported model: uint8 frames in, metric depth out.

:func:`wrap_frame_graph` turns an exported ZoeDepth graph (input float32 NCHW RGB in [0, 1] at the
model size) into a "frame graph": input uint8 NHWC frames ``[B, H, W, 3]`` of any size (or one fixed
camera size), output ``metric_depth`` ``[B, H, W]`` in metres at the frame's size (and, for NK,
``domain_logits`` ``[B, 2]`` of the unflipped frames). Inside, what the official ``infer()`` computes:

1. ``/ 255`` (a division, as ``preprocess.to_float_rgb``), NHWC -> NCHW.
2. Reflection padding of ``int(sqrt(H / 2) * 3)`` rows top and bottom and ``int(sqrt(W / 2) * 3)``
   columns left and right, computed from the frame's shape in float32: the same integers as the
   official float64 for every side below 1 225 134 pixels (checked exhaustively; the first side where
   float32 rounds across a whole number).
3. With ``flip``: the horizontally flipped padded frames are appended to the batch (2B).
4. Bilinear resize (align_corners) to the model size: the net size (a stretch) for a fixed-size model;
   for a dynamic-size model the official keep-aspect "minimal" size of the padded frame (below).
5. The model (its nodes and weights, unchanged; its metadata is dropped: the caller writes the card).
6. Bicubic resize (A = -0.75, half_pixel, PyTorch's align_corners=False) of ``metric_depth`` to the
   padded size, the padding cropped, and with ``flip`` the mean of each frame's result and the flipped
   back result of its mirror image ``(a + flip(b)) / 2``, in the official order (after resize and crop).

**The model size of a dynamic-size model.** The official rule (``preprocess.minimal_size``) runs in
float64: of the scales ``h0 / H`` and ``w0 / W`` to the net size ``(h0, w0)`` it takes the one
closer to 1 (the height's on a tie), then rounds ``side * scale / 32`` half to even. TensorRT has no
float64, so the graph computes the exact rational rule in int64 (``|W - w0| * H < |H - h0| * W``
picks the width's scale; ``round_half_even(num * side / (32 * den))`` by integer division), and a
constant table holds the padded sizes where float64 decides otherwise: exact ties, where float64's
rounding error picks a side (padded 448x448 runs at 512x512 for net 384x512), and exact halves,
where it rounds up or down. :func:`official_size_exceptions` enumerates them at export time (the
only candidates are ties and halves, found by integer arithmetic; everywhere else float64 is far
from a decision boundary) for padded sides up to ``bound`` (default :data:`TABLE_BOUND`, 8192: an
8K frame pads to 8050). Beyond the bound the graph applies the exact rule, which differs from the
official float64 rule only at such tie and half sizes.

Frames need at least :data:`MIN_FRAME_SIDE` pixels a side (reflection padding must be smaller than the
side). A dynamic-size model runs at whatever size the rule gives: keeping it within the sizes the model
was exported for (and refusing a frame so elongated that a side rounds to 0) is the caller's check.
"""
from __future__ import annotations

import functools

import numpy as np
import onnx_ir as ir

from ..errors import ZoeExportError, option
from ..preprocess import official_model_size, reflect_padding

#: padded sides up to which the exception table reproduces the official float64 rule exactly
TABLE_BOUND = 8192
#: model sizes are multiples of this (the official ``ensure_multiple_of``)
MULTIPLE = 32
#: the smallest frame side reflection padding takes (``int(sqrt(side / 2) * 3)`` must be below the side)
MIN_FRAME_SIDE = 5
#: table keys are ``padded_h * KEY_STRIDE + padded_w``: unique for every width below 2**31
KEY_STRIDE = 1 << 31
OUTPUTS = ("metric_depth", "domain_logits")
_INT64_MAX, _INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min
_PREFIX = "frame/"


def frame_model_size(height: int, width: int, net_size: tuple[int, int]) -> tuple[int, int]:
    """The model size the official ``infer()`` runs a ``height`` x ``width`` frame at (float64, as official)."""
    return official_model_size(height, width, net_size)


# ----------------------------------------------------------------------------------------- size rules


def _round_half_even(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Round ``numerator / denominator`` (non-negative int64, denominator > 0) half to even, exactly."""
    quotient = numerator // denominator
    twice_rest = 2 * (numerator - quotient * denominator)
    up = (twice_rest > denominator) | ((twice_rest == denominator) & (quotient % 2 == 1))
    return quotient + up


def exact_minimal_size(height, width, net_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The "minimal" keep-aspect size of padded ``height`` x ``width`` in exact rational arithmetic.

    What the frame graph computes (in int64) before its exception table; vectorised over int arrays.
    """
    h0, w0 = _check_net_size(net_size)
    height, width = np.asarray(height, dtype=np.int64), np.asarray(width, dtype=np.int64)
    use_width = np.abs(width - w0) * height < np.abs(height - h0) * width
    num = np.where(use_width, w0, h0)
    den = MULTIPLE * np.where(use_width, width, height)
    return _round_half_even(num * height, den) * MULTIPLE, _round_half_even(num * width, den) * MULTIPLE


def _float64_minimal_size(height: np.ndarray, width: np.ndarray, net_size: tuple[int, int]):
    """``preprocess.minimal_size`` vectorised: the same float64 operations in the same order."""
    h0, w0 = net_size
    height_f, width_f = height.astype(np.float64), width.astype(np.float64)
    scale_h, scale_w = h0 / height_f, w0 / width_f
    scale = np.where(np.abs(1 - scale_w) < np.abs(1 - scale_h), scale_w, scale_h)
    return (np.rint(scale * height_f / MULTIPLE).astype(np.int64) * MULTIPLE,
            np.rint(scale * width_f / MULTIPLE).astype(np.int64) * MULTIPLE)


def _exact_halves(num: int, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (den, side), both in 1..bound, where ``num * side / (32 * den)`` is a whole number and a half."""
    den = np.arange(1, bound + 1, dtype=np.int64)
    half = MULTIPLE // 2  # num * side / (16 den) must be odd: side an odd multiple of step, num / common odd
    common = np.gcd(half * den, num)
    step = half * den // common
    keep = (num // common) % 2 == 1
    den, step = den[keep], step[keep]
    counts = (bound // step + 1) // 2
    first = np.cumsum(counts) - counts
    odd = 2 * (np.arange(counts.sum()) - np.repeat(first, counts)) + 1
    return np.repeat(den, counts), np.repeat(step, counts) * odd


def _candidates(net_size: tuple[int, int], bound: int) -> np.ndarray:
    """Padded sizes (n, 2) where float64 can decide differently from the exact rule: ties and halves."""
    h0, w0 = net_size
    heights = np.arange(1, bound + 1, dtype=np.int64)
    pairs = []
    # |W - w0| H == |H - h0| W  <=>  W = w0 H / h0  or  W = w0 H / (2H - h0)
    for den in (np.full_like(heights, h0), 2 * heights - h0):
        positive = den > 0
        safe = np.where(positive, den, 1)
        whole = positive & (w0 * heights % safe == 0)
        pairs.append(np.stack([heights[whole], w0 * heights[whole] // safe[whole]], axis=1))
    width_den, height_side = _exact_halves(w0, bound)  # the width's scale, the height rounds a half
    pairs.append(np.stack([height_side, width_den], axis=1))
    height_den, width_side = _exact_halves(h0, bound)  # the height's scale, the width rounds a half
    pairs.append(np.stack([height_den, width_side], axis=1))
    pairs = np.concatenate(pairs)
    inside = np.all((pairs >= 1) & (pairs <= bound), axis=1)
    return np.unique(pairs[inside], axis=0)


def official_size_exceptions(net_size: tuple[int, int], bound: int = TABLE_BOUND
                             ) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    """Every padded size up to ``bound`` x ``bound`` where the official float64 rule differs from the exact one.

    Returns ``((padded_h, padded_w), (model_h, model_w))`` pairs, sorted; the model size is the
    official one (``preprocess.minimal_size``). About 70 ms and 418 entries for net 384x512 at the
    default bound (591 for 384x768); cached per net size and bound.
    """
    if isinstance(bound, bool) or not isinstance(bound, (int, np.integer)) or bound < 1:
        raise ZoeExportError(f"exception-table bound {bound!r}: give a positive whole number of pixels.")
    return _exceptions(_check_net_size(net_size), int(bound))


@functools.lru_cache(maxsize=None)
def _exceptions(net_size: tuple[int, int], bound: int) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
    pairs = _candidates(net_size, bound)
    heights, widths = pairs[:, 0], pairs[:, 1]
    official = _float64_minimal_size(heights, widths, net_size)
    exact = exact_minimal_size(heights, widths, net_size)
    differ = (official[0] != exact[0]) | (official[1] != exact[1])
    return tuple(((int(h), int(w)), (int(mh), int(mw)))
                 for h, w, mh, mw in zip(heights[differ], widths[differ], official[0][differ], official[1][differ]))


def _check_net_size(net_size) -> tuple[int, int]:
    try:
        h0, w0 = (int(s) for s in net_size)
        ok = all(s > 0 and s % MULTIPLE == 0 and s == v for s, v in zip((h0, w0), net_size))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ZoeExportError(f"net size {net_size!r}: give (height, width) as two positive multiples of {MULTIPLE}, "
                             "the variant's native size, e.g. (384, 512).")
    return h0, w0


# ----------------------------------------------------------------------------------------- graph building


class _Builder:
    """Appends nodes (and constant initializers) to a graph, every value named under one prefix."""

    def __init__(self, graph: ir.Graph, prefix: str = _PREFIX):
        self.graph, self.prefix, self.count = graph, prefix, 0
        self.taken = {v.name for v in _all_values(graph)} | {n.name for n in graph}

    def _name(self, hint: str) -> str:
        self.count += 1
        name = f"{self.prefix}{hint}_{self.count}"
        if name in self.taken:
            raise ZoeExportError(f"the model graph already has a value named {name!r}; rename it, or export it again.")
        self.taken.add(name)
        return name

    def const(self, hint: str, array) -> ir.Value:
        array = np.asarray(array)
        name = self._name(hint)
        value = ir.Value(name=name, const_value=ir.tensor(array, name=name), shape=ir.Shape(array.shape),
                         type=ir.TensorType(ir.DataType.from_numpy(array.dtype)))
        self.graph.register_initializer(value)
        return value

    def i64(self, hint: str, *values: int) -> ir.Value:
        return self.const(hint, np.array(values, dtype=np.int64))

    def f32(self, hint: str, value: float) -> ir.Value:
        return self.const(hint, np.array(value, dtype=np.float32))

    def op(self, op_type: str, *inputs: ir.Value | None, hint: str | None = None, **attributes) -> ir.Value:
        node = ir.node(op_type, list(inputs), attributes or None, name=self._name(f"{hint or op_type}_node"))
        node.outputs[0].name = self._name(hint or op_type)
        self.graph.append(node)
        return node.outputs[0]

    def slice(self, data: ir.Value, starts, ends, axes, steps=None, hint: str | None = None) -> ir.Value:
        """Slice with constant axes (TensorRT needs them constant); starts/ends are ints or values."""
        def as_value(v, what):
            return v if isinstance(v, ir.Value) else self.i64(what, *v)
        inputs = [data, as_value(starts, "starts"), as_value(ends, "ends"), self.i64("axes", *axes)]
        if steps is not None:
            inputs.append(self.i64("steps", *steps))
        return self.op("Slice", *inputs, hint=hint)

    def flip_width(self, data: ir.Value, hint: str = "flipped") -> ir.Value:
        return self.slice(data, [-1], [_INT64_MIN], [3], [-1], hint=hint)


def _all_values(graph: ir.Graph):
    yield from graph.inputs
    yield from graph.initializers.values()
    for node in graph:
        yield from node.outputs


def _padding(b: _Builder, frame_hw: ir.Value) -> ir.Value:
    """``int(sqrt(side / 2) * 3)`` for each side in float32 (exact: see the module docstring)."""
    sides = b.op("Cast", frame_hw, to=ir.DataType.FLOAT, hint="frame_sides")
    root = b.op("Sqrt", b.op("Div", sides, b.f32("two", 2.0)))
    pad = b.op("Floor", b.op("Mul", root, b.f32("pad_factor", 3.0)))
    return b.op("Cast", pad, to=ir.DataType.INT64, hint="pad")


def _fit_size(b: _Builder, padded: ir.Value, net_size: tuple[int, int], bound: int) -> ir.Value:
    """The official "minimal" model size of ``padded`` ([..., 2] int64: height, width) -> [..., 2] int64."""
    h0, w0 = b.i64("net_h", net_size[0]), b.i64("net_w", net_size[1])
    height = b.slice(padded, [0], [1], [-1], hint="padded_h")
    width = b.slice(padded, [1], [2], [-1], hint="padded_w")

    def distance(side, net):  # |side - net| without Abs: Max and Sub take int64 everywhere
        return b.op("Max", b.op("Sub", side, net), b.op("Sub", net, side))

    use_width = b.op("Less", b.op("Mul", distance(width, w0), height), b.op("Mul", distance(height, h0), width),
                     hint="use_width_scale")
    num = b.op("Where", use_width, w0, h0, hint="scale_num")
    den = b.op("Mul", b.op("Where", use_width, width, height), b.i64("multiple", MULTIPLE), hint="scale_den")
    numerator = b.op("Mul", padded, num)
    quotient = b.op("Div", numerator, den, hint="quotient")
    twice_rest = b.op("Mul", b.op("Sub", numerator, b.op("Mul", quotient, den)), b.i64("two_i", 2))
    one, two = b.i64("one", 1), b.i64("two_q", 2)
    odd = b.op("Equal", b.op("Sub", quotient, b.op("Mul", b.op("Div", quotient, two), two)), one)
    up = b.op("Or", b.op("Greater", twice_rest, den), b.op("And", b.op("Equal", twice_rest, den), odd))
    rounded = b.op("Add", quotient, b.op("Cast", up, to=ir.DataType.INT64))
    exact = b.op("Mul", rounded, b.i64("multiple_out", MULTIPLE), hint="exact_model_size")
    table = official_size_exceptions(net_size, bound)
    if not table:
        return exact
    keys = np.array([h * KEY_STRIDE + w for (h, w), _ in table], dtype=np.int64)
    sizes = np.array([size for _, size in table], dtype=np.int64)
    key = b.op("Add", b.op("Mul", height, b.i64("key_stride", KEY_STRIDE)), width, hint="size_key")
    match = b.op("Equal", key, b.const("exception_keys", keys), hint="exception_match")  # [..., n]
    hits = b.op("ReduceSum", b.op("Cast", match, to=ir.DataType.INT64), b.i64("last_axis", -1), keepdims=1)
    looked_up = b.op("ReduceSum", b.op("Where", b.op("Unsqueeze", match, b.i64("unsqueeze_axis", -1)),
                                       b.const("exception_sizes", sizes), b.i64("zero", 0)),
                     b.i64("table_axis", -2), keepdims=0, hint="exception_size")  # [..., 2]
    return b.op("Where", b.op("Greater", hits, b.i64("zero_hits", 0)), looked_up, exact, hint="model_size")


def size_graph(net_size: tuple[int, int], bound: int = TABLE_BOUND, opset: int = 18, *,
               padded_input: bool = False) -> ir.Model:
    """The frame graph's size arithmetic alone, for tests and tools.

    Input ``frame_size`` int64 [K, 2] (height, width of K frames); outputs ``padding`` [K, 2] (rows,
    columns per side), ``padded_size`` [K, 2] and ``model_size`` [K, 2] (the dynamic-size model's
    input size), computed by the same nodes :func:`wrap_frame_graph` inserts. With ``padded_input``
    the input is the padded size itself (``padding`` is then zero): the "minimal" rule alone.
    """
    net_size = _check_net_size(net_size)
    frames = ir.Value(name="frame_size", type=ir.TensorType(ir.DataType.INT64), shape=ir.Shape(["frames", 2]))
    graph = ir.Graph([frames], [], nodes=[], opset_imports={"": opset}, name="frame_sizes")
    b = _Builder(graph)
    if padded_input:
        pad = b.op("Sub", frames, frames, hint="no_padding")
        padded = frames
    else:
        pad = _padding(b, frames)
        padded = b.op("Add", frames, b.op("Add", pad, pad), hint="padded")
    size = _fit_size(b, padded, net_size, bound)
    for value, name in ((pad, "padding"), (padded, "padded_size"), (size, "model_size")):
        out = b.op("Identity", value, hint=name)
        out.name = name
        out.type, out.shape = ir.TensorType(ir.DataType.INT64), ir.Shape(["frames", 2])
        graph.outputs.append(out)
    return ir.Model(graph, ir_version=9)


# ----------------------------------------------------------------------------------------- the wrapper


def _graph_value(values, name: str, what: str) -> ir.Value:
    for value in values:
        if value.name == name:
            return value
    names = ", ".join(repr(v.name) for v in values) or "none"
    raise ZoeExportError(f"the model graph has no {what} named {name!r} (it has {names}); pass a graph exported by "
                         "zoe-export onnx, or name its input with model_input=.")


def _check_image(image: ir.Value, net_size: tuple[int, int], dynamic: bool) -> ir.SymbolicDim | int | None:
    """Validate the model input ([B, 3, h, w] float32); return its batch dimension."""
    shape = image.shape
    if image.dtype != ir.DataType.FLOAT or shape is None or len(shape) != 4 or shape[1] != 3:
        raise ZoeExportError(f"model input {image.name!r} is {image.dtype} {shape}; the frame graph wraps a graph "
                             "exported with float32 NCHW input [B, 3, H, W] (zoe-export onnx --input-format "
                             "float-nchw).")
    size = tuple(shape[2:])
    fixed = all(isinstance(d, int) for d in size)
    if dynamic and fixed:
        raise ZoeExportError(f"model input {image.name!r} has the fixed size {size[0]}x{size[1]}: pass dynamic=False "
                             "(the frames are stretched to it), or export the model with a dynamic size.")
    if not dynamic and size != tuple(net_size):
        raise ZoeExportError(f"model input {image.name!r} has the size {'x'.join(map(str, size))}, not the net size "
                             f"{net_size[0]}x{net_size[1]}: pass net_size={size} for a fixed-size model, or "
                             "dynamic=True for a dynamic-size one.")
    return shape[0]


def _frame_batch(model_batch, flip: bool, batch: int | None):
    """The frame input's batch dimension given the model's (flip doubles the batch the model sees)."""
    if batch is not None:
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ZoeExportError(f"{option('--batch', 'batch=')} {batch!r}: give a positive whole number of frames, "
                                 "or None for any batch.")
        if isinstance(model_batch, int) and model_batch != batch * (2 if flip else 1):
            raise ZoeExportError(
                f"{option('--batch', 'batch=')} {batch}{' with flip' if flip else ''} runs the model on "
                f"{batch * (2 if flip else 1)} images, but the model graph takes a fixed batch of {model_batch}: "
                f"export it with a dynamic batch ({option('--dynamic-batch', 'batch=None')}).")
        return batch
    if not flip:
        return model_batch if model_batch is not None else ir.SymbolicDim("batch")
    if isinstance(model_batch, int):
        if model_batch % 2:
            raise ZoeExportError(
                f"flip averaging runs each frame and its mirror image in one batch, but the model takes a fixed batch "
                f"of {model_batch}: export it with an even batch (twice the frame batch, e.g. "
                f"{option('--batch', 'batch=')} 2) or {option('--dynamic-batch', 'batch=None')}, or pass flip=False.")
        return model_batch // 2
    return ir.SymbolicDim("frame_batch")


def _frame_dims(frame_size) -> tuple:
    if frame_size is None:
        return ir.SymbolicDim("frame_height"), ir.SymbolicDim("frame_width")
    try:
        height, width = (int(s) for s in frame_size)
        ok = height >= MIN_FRAME_SIDE and width >= MIN_FRAME_SIDE and (height, width) == tuple(frame_size)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ZoeExportError(f"frame size {frame_size!r}: give (height, width) in pixels, each at least "
                             f"{MIN_FRAME_SIDE} (reflection padding needs it), or None for frames of any size.")
    return height, width


def wrap_frame_graph(
    model: ir.Model,
    *,
    net_size: tuple[int, int],
    dynamic: bool,
    flip: bool,
    frame_size: tuple[int, int] | None = None,
    model_input: str = "image",
    frame_input: str = "frame",
    batch: int | None = None,
    table_bound: int = TABLE_BOUND,
) -> ir.Model:
    """Wrap an exported ZoeDepth graph in the official ``infer()``: uint8 frames in, depth at frame size out.

    ``model`` (changed in place and returned) takes ``model_input`` float32 [B, 3, h, w] RGB in [0, 1]
    and returns ``metric_depth`` [B, 1, h, w] (and ``domain_logits`` [B, 2] for NK). With
    ``dynamic=False`` its size must be ``net_size`` and frames are stretched to it; with ``dynamic=True``
    it takes any multiple of 32 and each frame runs at the official keep-aspect size of the padded
    frame (see the module docstring; exact for padded sides up to ``table_bound``). With ``flip`` the
    model must take twice the frame batch (a dynamic batch, or an even fixed one). ``batch`` fixes the
    number of frames (the model's batch must then be dynamic or match); None keeps the model's batch
    (halved with flip; symbolic stays symbolic).

    The result takes ``frame_input`` uint8 [B, H, W, 3] (H, W symbolic unless ``frame_size`` is given;
    each side at least :data:`MIN_FRAME_SIDE`) and returns ``metric_depth`` float32 [B, H, W] (and
    ``domain_logits`` [B, 2] of the unflipped frames). The model's ``metadata_props`` are dropped.
    """
    net_size = _check_net_size(net_size)
    graph = model.graph
    opset = model.opset_imports.get("", model.opset_imports.get("ai.onnx"))
    if opset is None or opset < 13:
        raise ZoeExportError(f"the model graph has opset {opset}; the frame graph needs 13 or later "
                             f"(export it again with {option('--opset', 'opset=')} 18).")
    image = _graph_value(list(graph.inputs), model_input, "input")
    if len(graph.inputs) != 1:
        raise ZoeExportError(f"the model graph has {len(graph.inputs)} inputs; the frame graph wraps a graph "
                             "whose only input is the image.")
    outputs = {v.name: v for v in graph.outputs}
    depth = _graph_value(list(graph.outputs), OUTPUTS[0], "output")
    extra = sorted(set(outputs) - set(OUTPUTS))
    if extra:
        raise ZoeExportError(f"the model graph has outputs {extra} besides {' and '.join(OUTPUTS)}; wrap a graph "
                             "exported by zoe-export onnx.")
    if frame_input in {v.name for v in _all_values(graph)}:
        raise ZoeExportError(f"frame_input={frame_input!r} is already a value of the model graph; choose another name.")
    batch = _frame_batch(_check_image(image, net_size, dynamic), flip, batch)
    frame_h, frame_w = _frame_dims(frame_size)
    if frame_size is not None and dynamic:
        model_size = frame_model_size(frame_h, frame_w, net_size)
        if min(model_size) < MULTIPLE:
            raise ZoeExportError(f"frame size {frame_h}x{frame_w} is too elongated: the official keep-aspect fit to "
                                 f"{net_size[0]}x{net_size[1]} gives {model_size[0]}x{model_size[1]}; crop it first.")

    b = _Builder(graph)
    model_nodes = list(graph)
    frame = ir.Value(name=frame_input, type=ir.TensorType(ir.DataType.UINT8),
                     shape=ir.Shape([batch, frame_h, frame_w, 3]))
    graph.inputs.clear()
    graph.inputs.append(frame)
    for name, value in outputs.items():
        value.name = f"model/{name}"

    # 1. uint8 NHWC -> float32 NCHW in [0, 1] (transposing first moves a quarter of the bytes; same values)
    x = b.op("Transpose", frame, perm=[0, 3, 1, 2], hint="frame_nchw")
    x = b.op("Div", b.op("Cast", x, to=ir.DataType.FLOAT), b.f32("uint8_max", 255.0), hint="rgb")
    # 2. reflection padding
    if frame_size is None:
        frame_hw = b.slice(b.op("Shape", frame, hint="frame_shape"), [1], [3], [0], hint="frame_hw")
        pad = _padding(b, frame_hw)
        padded = b.op("Add", frame_hw, b.op("Add", pad, pad), hint="padded_size")
    else:
        pad_h, pad_w = reflect_padding(frame_h, frame_w)
        frame_hw, pad = b.i64("frame_hw", frame_h, frame_w), b.i64("pad", pad_h, pad_w)
        padded = b.i64("padded_size", frame_h + 2 * pad_h, frame_w + 2 * pad_w)
    zeros = b.i64("no_pad", 0, 0)
    x = b.op("Pad", x, b.op("Concat", zeros, pad, zeros, pad, axis=0, hint="pads"), mode="reflect", hint="padded")
    # 3. the mirror images join the batch
    if flip:
        x = b.op("Concat", x, b.flip_width(x), axis=0, hint="with_mirror")
    # 4. to the model size
    if not dynamic:
        model_hw = b.i64("model_size", *net_size)
    elif frame_size is not None:
        model_hw = b.i64("model_size", *model_size)
    else:
        model_hw = _fit_size(b, padded, net_size, table_bound)
    batch_channels = b.slice(b.op("Shape", x), [0], [2], [0], hint="batch_channels")
    resized = b.op("Resize", x, None, None, b.op("Concat", batch_channels, model_hw, axis=0, hint="resize_to"),
                   mode="linear", coordinate_transformation_mode="align_corners", hint="model_input")
    # 5. the model
    known = set(model_nodes)
    prefix_nodes = [n for n in graph if n not in known]
    image.replace_all_uses_with(resized)
    # 6. back to the padded size, crop, flip average, [B, H, W]
    depth_nc = b.slice(b.op("Shape", depth), [0], [2], [0], hint="depth_batch_channels")
    up = b.op("Resize", depth, None, None, b.op("Concat", depth_nc, padded, axis=0, hint="upsample_to"),
              mode="cubic", cubic_coeff_a=-0.75, coordinate_transformation_mode="half_pixel", exclude_outside=0,
              hint="depth_padded")
    out = b.slice(up, pad, b.op("Add", pad, frame_hw, hint="crop_end"), [2, 3], hint="depth_cropped")
    logits = outputs.get(OUTPUTS[1])
    if flip:
        frame_batch = b.slice(b.op("Shape", frame, hint="frame_shape"), [0], [1], [0], hint="frame_batch")
        direct = b.slice(out, [0], frame_batch, [0], hint="depth_direct")
        mirrored = b.flip_width(b.slice(out, frame_batch, [_INT64_MAX], [0], hint="depth_mirror"), "depth_unflipped")
        out = b.op("Div", b.op("Add", direct, mirrored), b.f32("two_images", 2.0), hint="depth_mean")
        if logits is not None:
            logits = b.slice(logits, [0], frame_batch, [0], hint="logits_direct")
    out = b.op("Squeeze", out, b.i64("channel_axis", 1), hint="depth")
    new_outputs = [(out, OUTPUTS[0], ir.Shape([batch, frame_h, frame_w]))]
    if logits is not None:
        new_outputs.append((logits, OUTPUTS[1], ir.Shape([batch, 2])))
    graph.outputs.clear()
    for value, name, shape in new_outputs:
        value.name, value.type, value.shape = name, ir.TensorType(ir.DataType.FLOAT), shape
        graph.outputs.append(value)
    # the preprocessing nodes run first: move them ahead of the model's
    for node in prefix_nodes:
        graph.remove(node)
    if model_nodes:
        graph.insert_before(model_nodes[0], prefix_nodes)
    else:
        graph.extend(prefix_nodes)
    model.metadata_props.clear()
    return model
