"""The frame graph: the official infer() as ONNX nodes around a model graph, against preprocess.predict,
the float64 size rule and PyTorch's resizes."""
from __future__ import annotations

import numpy as np
import onnx_ir as ir
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper

from zoe_export.errors import ZoeExportError
from zoe_export.export.frame_graph import (
    KEY_STRIDE,
    MIN_FRAME_SIDE,
    TABLE_BOUND,
    exact_minimal_size,
    frame_model_size,
    official_size_exceptions,
    size_graph,
    wrap_frame_graph,
)
from zoe_export.export.graph_checks import check_tensorrt_support, graph_summary
from zoe_export.preprocess import minimal_size, official_model_size, predict, prepare, reflect_padding

NET_N, NET_K = (384, 512), (384, 768)  # the variants' native sizes (ZOEDEPTH.md)
TINY = (64, 96)  # the test variants' native size
#: sizes named in ZOEDEPTH.md and by the lead: a tie (padded 448x448), 720p, VGA and off-by-one, KITTI
NAMED_FRAMES = {NET_N: [(368, 368), (720, 1280), (479, 641), (480, 640)], NET_K: [(352, 1216)]}
#: mean |a - b| / b of the frame graph against preprocess.predict. Both compute the same float32 recipe;
#: they differ by summation order and by how each resize rounds its source coordinates (about 3e-7 on
#: the tiny models with white-noise frames)
MAX_REL = 1e-5
#: what the frame part of a fixed-size graph does: convert, pad, flip, stretch, resize back, crop, average
FRAME_OPS = {"Transpose", "Cast", "Div", "Shape", "Slice", "Sqrt", "Mul", "Floor", "Add", "Concat", "Pad", "Resize",
             "Squeeze"}


def _session(model: ir.Model) -> ort.InferenceSession:
    return ort.InferenceSession(ir.to_proto(model).SerializeToString(), providers=["CPUExecutionProvider"])


def _rel(result: np.ndarray, reference: np.ndarray) -> float:
    return float(np.mean(np.abs(result - reference) / np.abs(reference)))


def _smooth(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A sum of low-frequency waves over the last two axes, offset to stay positive."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, shape[-2]), np.linspace(0, 1, shape[-1]), indexing="ij")
    field = sum(np.sin(2 * np.pi * (rng.uniform(0.5, 3) * y + rng.uniform(0.5, 3) * x) + rng.uniform(0, 6))
                for _ in range(4))
    return np.broadcast_to(field + 5, shape).astype(np.float32)


def _smooth_frames(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 NHWC frames of smooth content (the toy model's depth follows the pixels)."""
    planes = [_smooth((height, width), seed + i) for i in range(3 * count)]
    stacked = np.stack(planes).reshape(count, 3, height, width).transpose(0, 2, 3, 1)
    return np.round((stacked - stacked.min()) / np.ptp(stacked) * 255).astype(np.uint8)


def _noise_frames(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, 3), dtype=np.uint8)


# ----------------------------------------------------------------------------------------- a toy model

_WEIGHTS = np.array([0.6, 0.3, 0.1], np.float32)


def _toy_model(batch="batch", size=("height", "width"), opset: int = 18, logits: bool = True) -> ir.Model:
    """A model graph as the exporter writes one: ``image`` [B, 3, h, w] -> ``metric_depth`` [B, 1, h, w]
    = (0.6 R + 0.3 G + 0.1 B + 0.5) * (1 + column / w), left-right asymmetric so the flip order shows;
    ``domain_logits`` [B, 2] = (h, w): the size the model ran at."""
    const = helper.make_tensor
    nodes = [
        helper.make_node("Mul", ["image", "weights"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "channel_axis"], ["gray"], keepdims=1),
        helper.make_node("Add", ["gray", "half"], ["base"]),
        helper.make_node("Shape", ["image"], ["shape"]),
        helper.make_node("Gather", ["shape", "width_index"], ["width"]),
        helper.make_node("Range", ["zero", "width", "one"], ["columns"]),
        helper.make_node("Cast", ["columns"], ["columns_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["width"], ["width_f"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["columns_f", "width_f"], ["fraction"]),
        helper.make_node("Add", ["fraction", "one_f"], ["ramp"]),
        helper.make_node("Mul", ["base", "ramp"], ["metric_depth"]),
    ]
    inits = [
        const("weights", TensorProto.FLOAT, [1, 3, 1, 1], _WEIGHTS.tolist()),
        const("channel_axis", TensorProto.INT64, [1], [1]),
        const("half", TensorProto.FLOAT, [], [0.5]),
        const("width_index", TensorProto.INT64, [], [3]),
        const("zero", TensorProto.INT64, [], [0]),
        const("one", TensorProto.INT64, [], [1]),
        const("one_f", TensorProto.FLOAT, [], [1.0]),
    ]
    outputs = [helper.make_tensor_value_info("metric_depth", TensorProto.FLOAT, [batch, 1, *size])]
    if logits:
        nodes += [
            helper.make_node("Slice", ["shape", "hw_start", "hw_end"], ["hw"]),
            helper.make_node("Cast", ["hw"], ["hw_f"], to=TensorProto.FLOAT),
            helper.make_node("Slice", ["shape", "zero_1", "one_1"], ["batch_size"]),
            helper.make_node("Concat", ["batch_size", "two_1"], ["logits_shape"], axis=0),
            helper.make_node("Expand", ["hw_f", "logits_shape"], ["domain_logits"]),
        ]
        inits += [const("hw_start", TensorProto.INT64, [1], [2]), const("hw_end", TensorProto.INT64, [1], [4]),
                  const("zero_1", TensorProto.INT64, [1], [0]), const("one_1", TensorProto.INT64, [1], [1]),
                  const("two_1", TensorProto.INT64, [1], [2])]
        outputs.append(helper.make_tensor_value_info("domain_logits", TensorProto.FLOAT, [batch, 2]))
    graph = helper.make_graph(nodes, "toy", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                           [batch, 3, *size])], outputs, inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    proto.ir_version = 9
    proto.metadata_props.add(key="zoe_export.card", value="the model's own card")
    return ir.from_proto(proto)


def _toy_depth(batch: np.ndarray) -> np.ndarray:
    """The toy model in numpy: (B, 3, h, w) -> (B, 1, h, w)."""
    base = np.sum(batch * _WEIGHTS[None, :, None, None], axis=1, keepdims=True) + np.float32(0.5)
    width = batch.shape[-1]
    return base * (np.arange(width, dtype=np.float32) / np.float32(width) + np.float32(1))


# ----------------------------------------------------------------------------------------- size arithmetic


def _run_sizes(model: ir.Model, sizes) -> dict[str, np.ndarray]:
    session = _session(model)
    sizes = np.asarray(sizes, dtype=np.int64).reshape(-1, 2)
    parts = [session.run(None, {"frame_size": chunk}) for chunk in np.array_split(sizes, max(1, len(sizes) // 4000))]
    return {name: np.concatenate(p) for name, p in zip(("padding", "padded_size", "model_size"), zip(*parts))}


def _frames_reaching(padded_sizes, limit: int) -> list[tuple[int, int]]:
    """Frame sizes whose reflection-padded size is one of ``padded_sizes`` (sides up to ``limit``)."""
    sides = np.arange(1, limit + 1)
    padded = {s + 2 * reflect_padding(s, s)[0]: s for s in sides.tolist()}
    return [(padded[h], padded[w]) for h, w in padded_sizes if h in padded and w in padded]


@pytest.mark.timeout(60)
def test_padding_in_float32_is_the_official_float64_padding():
    sides = np.arange(1, 100_001)
    got = _run_sizes(size_graph(NET_N, bound=1), np.stack([sides, sides[::-1]], axis=1))
    expected = np.array([reflect_padding(h, w) for h, w in zip(sides, sides[::-1])])
    np.testing.assert_array_equal(got["padding"], expected)
    np.testing.assert_array_equal(got["padded_size"], np.stack([sides, sides[::-1]], axis=1) + 2 * expected)


@pytest.mark.parametrize("net", [NET_N, NET_K, TINY])
def test_exception_table_is_where_float64_differs_from_the_exact_rule(net):
    bound = 1024
    heights, widths = (g.ravel() for g in np.meshgrid(np.arange(1, bound + 1), np.arange(1, bound + 1), indexing="ij"))
    # the official rule, vectorised with the same float64 operations as preprocess.minimal_size
    scale_h, scale_w = net[0] / heights.astype(np.float64), net[1] / widths.astype(np.float64)
    scale = np.where(np.abs(1 - scale_w) < np.abs(1 - scale_h), scale_w, scale_h)
    official = (np.rint(scale * heights / 32).astype(np.int64) * 32, np.rint(scale * widths / 32).astype(np.int64) * 32)
    exact = exact_minimal_size(heights, widths, net)
    differ = (official[0] != exact[0]) | (official[1] != exact[1])
    expected = [((int(h), int(w)), (int(a), int(b))) for h, w, a, b in
                zip(heights[differ], widths[differ], official[0][differ], official[1][differ])]
    assert expected and list(official_size_exceptions(net, bound)) == expected
    table = official_size_exceptions(net)
    assert [e for e in table if max(e[0]) <= bound] == expected  # the default table extends the small one
    rng = np.random.default_rng(0)
    spot = rng.integers(1, TABLE_BOUND + 1, (300, 2)).tolist() + [list(padded) for padded, _ in table[::7]]
    for h, w in spot:  # the vectorised float64 is preprocess.minimal_size
        i = dict(table).get((h, w))
        assert (i or tuple(int(v[0]) for v in exact_minimal_size([h], [w], net))) == minimal_size(h, w, net)


def test_the_tie_at_448_is_in_the_table_and_beyond_the_bound_the_exact_rule_applies():
    tie = (448, 448)
    official = minimal_size(*tie, NET_N)
    exact = tuple(int(v) for v in exact_minimal_size(*tie, NET_N))
    assert official != exact and dict(official_size_exceptions(NET_N))[tie] == official
    with_table = _run_sizes(size_graph(NET_N, padded_input=True), [tie])["model_size"]
    without = _run_sizes(size_graph(NET_N, bound=max(tie) - 1, padded_input=True), [tie])["model_size"]
    assert tuple(with_table[0]) == official and tuple(without[0]) == exact


@pytest.mark.timeout(60)
@pytest.mark.parametrize("net", [NET_N, NET_K])
def test_size_graph_is_the_official_model_size(net):
    table = official_size_exceptions(net)
    # every table entry and its neighbours, as padded sizes
    entries = np.array([padded for padded, _ in table])
    near = np.concatenate([entries + d for d in ([0, 0], [1, 0], [0, 1], [-1, 0], [0, -1])])
    got = _run_sizes(size_graph(net, padded_input=True), near)["model_size"]
    np.testing.assert_array_equal(got, [minimal_size(h, w, net) for h, w in near])
    # frames: every size up to 160 x 160, a sample up to 7800 (an 8K frame pads to 8050), frames whose
    # padded size is a table entry, and the named sizes
    dense = np.stack([g.ravel() for g in np.meshgrid(np.arange(MIN_FRAME_SIDE, 161), np.arange(MIN_FRAME_SIDE, 161),
                                                     indexing="ij")], axis=1)
    sample = np.random.default_rng(1).integers(MIN_FRAME_SIDE, 7801, (3000, 2))
    reaching = _frames_reaching([padded for padded, _ in table], TABLE_BOUND)
    assert len(reaching) > len(table) // 2
    frames = np.concatenate([dense, sample, np.array(reaching), np.array(NAMED_FRAMES[net])])
    got = _run_sizes(size_graph(net), frames)
    expected = np.array([official_model_size(h, w, net) for h, w in frames])
    bad = np.nonzero(np.any(got["model_size"] != expected, axis=1))[0]
    assert not len(bad), f"frames {frames[bad[:5]].tolist()} -> {got['model_size'][bad[:5]].tolist()}"
    np.testing.assert_array_equal(got["padding"], [reflect_padding(h, w) for h, w in frames])
    assert all(frame_model_size(h, w, net) == official_model_size(h, w, net) for h, w in NAMED_FRAMES[net])


def test_exception_keys_are_unique_for_any_width():
    table = official_size_exceptions(NET_N)
    keys = {h * KEY_STRIDE + w for (h, w), _ in table}
    assert len(keys) == len(table) and max(max(p) for p, _ in table) < KEY_STRIDE


# ----------------------------------------------------------------------------------------- ONNX Runtime's resizes


def _resize_session(mode: str) -> ort.InferenceSession:
    attrs = (dict(mode="linear", coordinate_transformation_mode="align_corners") if mode == "linear" else
             dict(mode="cubic", cubic_coeff_a=-0.75, coordinate_transformation_mode="half_pixel", exclude_outside=0))
    graph = helper.make_graph(
        [helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], **attrs)], "resize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "c", "h", "w"]),
         helper.make_tensor_value_info("sizes", TensorProto.INT64, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = 9
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


#: (padded frame, model size) pairs the frame graph resizes between: the tiny models' stretch, 720p, KITTI, VGA
RESIZE_PAIRS = [((94, 118), TINY), ((73, 199), TINY), ((832, 1430), (384, 672)), ((430, 1362), (384, 1216)),
                ((572, 746), NET_N)]


@pytest.mark.parametrize(("padded", "model"), RESIZE_PAIRS)
def test_onnxruntime_resizes_are_torch_interpolate(padded, model):
    # On smooth data (depth maps, photographs) the two differ only by how each rounds its float32 source
    # coordinates (a few ulps of the largest index): REL about 1e-7 bilinear and 4e-7 bicubic; 1e-6
    # leaves room. (On white noise the same rounding reaches 1e-5, which is why the data is smooth.)
    image = _smooth((2, 3, *padded), seed=3)
    linear = _resize_session("linear").run(None, {"x": image, "sizes": np.array([2, 3, *model])})[0]
    expected = F.interpolate(torch.from_numpy(image), size=model, mode="bilinear", align_corners=True).numpy()
    assert linear.shape == expected.shape and _rel(linear, expected) <= 1e-6
    depth = _smooth((2, 1, *model), seed=4)
    cubic = _resize_session("cubic").run(None, {"x": depth, "sizes": np.array([2, 1, *padded])})[0]
    expected = F.interpolate(torch.from_numpy(depth), size=padded, mode="bicubic", align_corners=False).numpy()
    assert cubic.shape == expected.shape and _rel(cubic, expected) <= 1e-6


# ----------------------------------------------------------------------------------------- dynamic-size models

DYNAMIC_CASES = [(NET_N, (37, 131)), (NET_N, (61, 83)), *[(NET_N, f) for f in NAMED_FRAMES[NET_N]],
                 (NET_K, NAMED_FRAMES[NET_K][0])]


@pytest.fixture(scope="module")
def dynamic_sessions():
    made = {}

    def get(net, flip):
        if (net, flip) not in made:
            made[net, flip] = _session(wrap_frame_graph(_toy_model(), net_size=net, dynamic=True, flip=flip))
        return made[net, flip]

    return get


@pytest.mark.timeout(120)
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize(("net", "frame_size"), DYNAMIC_CASES)
def test_dynamic_frame_graph_is_predict_minimal(dynamic_sessions, net, frame_size, flip):
    frames = _smooth_frames(2 if frame_size == (61, 83) else 1, *frame_size)
    depth, logits = dynamic_sessions(net, flip).run(None, {"frame": frames})
    assert depth.shape == (len(frames), *frame_size) and depth.dtype == np.float32
    model_size = official_model_size(*frame_size, net)
    np.testing.assert_array_equal(logits, np.tile(np.array(model_size, np.float32), (len(frames), 1)))
    for frame, result in zip(frames, depth):
        expected = predict(_toy_depth, frame, net, fit="minimal", pad_input=True, flip=flip)
        assert _rel(result, expected) <= MAX_REL
    if flip:  # the flip is there: the toy model is not mirror-symmetric
        unflipped = dynamic_sessions(net, False).run(None, {"frame": frames})[0]
        assert _rel(unflipped, depth) > 100 * MAX_REL


@pytest.mark.timeout(60)
def test_dynamic_frame_graph_runs_at_every_table_size(dynamic_sessions):
    table = dict(official_size_exceptions(NET_N))
    small = [padded for padded in table if max(padded) <= 1200]  # the larger ones: test_size_graph_is_...
    frames = _frames_reaching(small, 1200)
    assert len(frames) >= len(small) // 2
    session = dynamic_sessions(NET_N, False)
    for frame_size in frames:
        _, logits = session.run(None, {"frame": np.zeros((1, *frame_size, 3), np.uint8)})
        official = official_model_size(*frame_size, NET_N)
        padded = tuple(s + 2 * p for s, p in zip(frame_size, reflect_padding(*frame_size)))
        assert tuple(logits[0].astype(int)) == official == table[padded]
        assert official != tuple(int(v) for v in exact_minimal_size(*padded, NET_N))


@pytest.mark.parametrize("opset", [17, 18, 19])
def test_frame_graph_takes_tensorrt_ops_at_each_opset(opset):
    wrapped = wrap_frame_graph(_toy_model(opset=opset), net_size=NET_N, dynamic=True, flip=True)
    check_tensorrt_support(wrapped, "the frame graph")
    assert not wrapped.metadata_props
    assert [v.name for v in wrapped.graph.inputs] == ["frame"] and wrapped.graph.inputs[0].dtype == ir.DataType.UINT8
    assert [v.name for v in wrapped.graph.outputs] == ["metric_depth", "domain_logits"]
    frame = _smooth_frames(1, 50, 70)
    depth, _ = _session(wrapped).run(None, {"frame": frame})
    assert _rel(depth[0], predict(_toy_depth, frame[0], NET_N, fit="minimal", flip=True)) <= MAX_REL


@pytest.mark.parametrize("dynamic", [False, True])
def test_fixed_frame_size_is_the_same_graph_with_constants(dynamic):
    size = (61, 83)
    model = (lambda: _toy_model(size=NET_N)) if not dynamic else _toy_model
    fixed = wrap_frame_graph(model(), net_size=NET_N, dynamic=dynamic, flip=True, frame_size=size)
    assert list(fixed.graph.inputs[0].shape) == ["frame_batch", *size, 3]
    assert list(fixed.graph.outputs[0].shape) == ["frame_batch", *size]
    frames = _smooth_frames(2, *size)
    any_size = wrap_frame_graph(model(), net_size=NET_N, dynamic=dynamic, flip=True)
    np.testing.assert_array_equal(_session(fixed).run(None, {"frame": frames})[0],
                                  _session(any_size).run(None, {"frame": frames})[0])
    assert graph_summary(fixed)["nodes"] < graph_summary(any_size)["nodes"]


def test_frame_input_name_and_fixed_even_batch():
    wrapped = wrap_frame_graph(_toy_model(batch=4, size=TINY, logits=False), net_size=TINY, dynamic=False, flip=True,
                               frame_input="pixels")
    assert list(wrapped.graph.inputs[0].shape) == [2, "frame_height", "frame_width", 3]
    assert [v.name for v in wrapped.graph.outputs] == ["metric_depth"]
    frames = _smooth_frames(2, 45, 77)
    depth = _session(wrapped).run(None, {"pixels": frames})[0]
    for frame, result in zip(frames, depth):
        assert _rel(result, predict(_toy_depth, frame, TINY, fit="stretch", flip=True)) <= MAX_REL


@pytest.mark.parametrize(("model_batch", "batch", "flip", "expected"),
                         [("batch", 3, True, 3), ("batch", None, False, "batch"), ("batch", None, True, "frame_batch"),
                          (2, 1, True, 1), (2, 2, False, 2), (4, None, True, 2)])
def test_frame_batch(model_batch, batch, flip, expected):
    wrapped = wrap_frame_graph(_toy_model(batch=model_batch), net_size=NET_N, dynamic=True, flip=flip, batch=batch)
    assert wrapped.graph.inputs[0].shape[0] == expected and wrapped.graph.outputs[0].shape[0] == expected
    frames = _smooth_frames(expected if isinstance(expected, int) else 2, 40, 50)
    depth, logits = _session(wrapped).run(None, {"frame": frames})
    assert depth.shape == (len(frames), 40, 50) and logits.shape == (len(frames), 2)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: wrap_frame_graph(_toy_model(), net_size=NET_N, dynamic=True, flip=False, model_input="x"),
         "no input named 'x'"),
        (lambda: wrap_frame_graph(_toy_model(size=NET_N), net_size=NET_N, dynamic=True, flip=False), "dynamic=False"),
        (lambda: wrap_frame_graph(_toy_model(size=TINY), net_size=NET_N, dynamic=False, flip=False),
         "net_size=(64, 96)"),
        (lambda: wrap_frame_graph(_toy_model(batch=1, size=TINY), net_size=TINY, dynamic=False, flip=True), "batch"),
        (lambda: wrap_frame_graph(_toy_model(batch=2), net_size=NET_N, dynamic=True, flip=True, batch=2),
         "dynamic batch"),
        (lambda: wrap_frame_graph(_toy_model(), net_size=NET_N, dynamic=True, flip=True, batch=0), "positive"),
        (lambda: wrap_frame_graph(_toy_model(), net_size=(384, 500), dynamic=True, flip=False), "multiples of 32"),
        (lambda: wrap_frame_graph(_toy_model(), net_size=NET_N, dynamic=True, flip=False, frame_size=(4, 100)),
         f"at least {MIN_FRAME_SIDE}"),
        (lambda: wrap_frame_graph(_toy_model(), net_size=NET_N, dynamic=True, flip=False, frame_size=(10, 4000)),
         "crop it"),
        (lambda: wrap_frame_graph(_toy_model(), net_size=NET_N, dynamic=True, flip=False, frame_input="image"),
         "choose another name"),
    ],
)
def test_user_errors_say_how_to_fix(call, words):
    with pytest.raises(ZoeExportError) as info:
        call()
    assert words in str(info.value)


# ----------------------------------------------------------------------------------------- the tiny ZoeDepth models


@pytest.fixture(scope="module")
def tiny_exports(tmp_path_factory):
    """variant -> (its torch model, its ONNX export at batch 2: one frame and its mirror, or two frames)."""
    from zoe_export.export import ExportOptions, export_onnx
    from zoe_export.models import load_model

    folder, made = tmp_path_factory.mktemp("frame_graph"), {}

    def get(variant):
        if variant not in made:
            model = load_model(variant, weights="random")
            export_onnx(model, folder / f"{variant}.onnx", ExportOptions(batch=2, verify=False))
            made[variant] = model, folder / f"{variant}.onnx"
        return made[variant]

    return get


def _torch_outputs(model, batch: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {k: v.numpy() for k, v in model(torch.from_numpy(batch)).items()}


#: frame sizes per (variant, flip), odd ones included: the model takes a batch of 2, one frame and its mirror
#: image or two frames (each PyTorch reference run takes about half a second)
TINY_CASES = {("test-N", True): [(48, 64), (90, 160)], ("test-N", False): [(61, 83), (37, 131)],
              ("test-NK", True): [(37, 131)], ("test-NK", False): [(61, 83)]}


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize(("variant", "flip"), list(TINY_CASES))
def test_tiny_model_frame_graph_is_predict_stretch(tiny_exports, variant, flip):
    model, path = tiny_exports(variant)
    wrapped = wrap_frame_graph(ir.load(path), net_size=TINY, dynamic=False, flip=flip)
    check_tensorrt_support(wrapped, "the frame graph")
    added = set(graph_summary(wrapped)["op_types"]) - set(graph_summary(ir.load(path))["op_types"])
    assert added <= FRAME_OPS and not wrapped.metadata_props
    session = _session(wrapped)
    for i, frame_size in enumerate(TINY_CASES[variant, flip]):
        frames = _noise_frames(1 if flip else 2, *frame_size, seed=i)
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"frame": frames})))
        assert outputs["metric_depth"].shape == (len(frames), *frame_size)
        for frame, depth in zip(frames, outputs["metric_depth"]):
            expected = predict(lambda b: _torch_outputs(model, b)["metric_depth"], frame, TINY, fit="stretch",
                               pad_input=True, flip=flip)
            assert _rel(depth, expected) <= MAX_REL, frame_size
        if variant == "test-NK":  # the unflipped frames' logits
            batch = np.concatenate([prepare(f, TINY, fit="stretch", pad_input=True).batch for f in frames])
            if flip:
                batch = np.concatenate([batch, batch[..., ::-1]])  # the model's batch is 2
            expected = _torch_outputs(model, batch)["domain_logits"][: len(frames)]
            np.testing.assert_allclose(outputs["domain_logits"], expected, rtol=1e-4, atol=1e-5)
        else:
            assert "domain_logits" not in outputs
