"""INT8: what is quantized, streaming calibration, and Q/DQ graphs TensorRT and ONNX Runtime take."""
import tracemalloc

import numpy as np
import onnx
import pytest

from zoe_export.calib import CalibrationSet
from zoe_export.compare.metrics import depth_metrics
from zoe_export.errors import ZoeExportError
from zoe_export.precision import calibrate, quantize_qdq, select_int8
from zoe_export.precision.graph import node_scope
from zoe_export.precision.int8 import (activation_inputs, count_qdq, dequantize_nodes, fold_weight_quantization, int8_nodes,
                                     keep_float_inputs)
from zoe_export.runtime import OnnxrtRunner


def _nodes(path):
    return {n.name: n for n in onnx.load(path).graph.node}


def test_default_selection_keeps_attention_core_patch_embedding_and_head(tiny_onnx):
    path = tiny_onnx("test-NK")
    nodes = _nodes(path)
    selection = select_int8(onnx.load(path))
    kept_by = set(selection.kept.values())
    assert kept_by == {"beit_attention", "patch_embedding", "metric_head"}
    attention = [n for n in nodes.values() if n.op_type == "MatMul" and node_scope(n).endswith(".attn")]
    quantized_attention = [n.name for n in attention if n.name in selection.quantize]
    assert len(quantized_attention) == 4  # the qkv projection of each block; Q.K^T and P.V stay
    assert all(selection.kept[n.name] == "beit_attention" for n in attention if n.name not in selection.quantize)
    assert all(not node_scope(nodes[n]).startswith(("model.attractors", "model.conditional", "model.seed"))
               for n in selection.quantize)
    assert set(selection.groups) == {f"encoder.block{i:02d}" for i in range(4)} | {
        f"reassemble{i}" for i in range(1, 5)} | {f"decoder.stage{i}" for i in range(1, 5)} | {"decoder.output"}
    assert sum(len(v) for v in selection.groups.values()) == len(selection.quantize)


def test_keep_precision_patterns_replace_the_defaults(tiny_onnx):
    model = onnx.load(tiny_onnx("test-N"))
    everything = select_int8(model, keep=())
    default = select_int8(model)
    assert len(everything.quantize) > len(default.quantize) and not everything.kept
    custom = select_int8(model, keep=("*blocks.0.*",))
    assert custom.kept and all(v == "--keep-precision *blocks.0.*" for v in custom.kept.values())
    assert "encoder.block00" not in custom.groups and "encoder.block01" in custom.groups


def test_max_calibration_streams_and_finds_the_true_range(tiny_onnx, tiny_calib):
    model = onnx.load(tiny_onnx("test-N"))
    tensors = activation_inputs(model, select_int8(model).quantize)[:5]
    calib = CalibrationSet(tiny_calib)
    ranges = calibrate(model, tensors, iter(calib), "max", progress=False)
    probe = onnx.load(tiny_onnx("test-N"))
    declared = {v.name: v for v in probe.graph.value_info}
    probe.graph.output.extend(declared[t] for t in tensors)
    path = tiny_calib.parent / "probe.onnx"
    onnx.save(probe, path)
    with OnnxrtRunner(path, graph_optimization="disabled") as runner:
        seen = [runner.infer(feed) for feed in calib]
    for t in tensors:
        assert ranges[t] == pytest.approx((min(float(s[t].min()) for s in seen), max(float(s[t].max()) for s in seen)))


@pytest.mark.slow
def test_calibration_memory_does_not_grow_with_the_sample_count(tiny_onnx):
    model = onnx.load(tiny_onnx("test-N"))
    tensors = activation_inputs(model, select_int8(model).quantize)
    rng = np.random.default_rng(0)

    def feeds(n):
        for _ in range(n):
            yield {"image": rng.random((1, 3, 64, 96), dtype=np.float32)}

    peaks = []
    for n in (4, 40):
        tracemalloc.start()
        calibrate(model, tensors, feeds(n), "entropy", progress=False, bins=128)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0]  # 10x the samples, not 10x the memory


def test_entropy_ranges_are_within_the_max_ranges(tiny_onnx, tiny_calib):
    model = onnx.load(tiny_onnx("test-N"))
    tensors = activation_inputs(model, select_int8(model).quantize)[:6]
    calib = CalibrationSet(tiny_calib)
    maxed = calibrate(model, tensors, iter(calib), "max", progress=False)
    entropy = calibrate(model, tensors, iter(calib), "entropy", progress=False, bins=256)
    for t in tensors:
        bound = max(abs(v) for v in maxed[t])
        assert max(abs(v) for v in entropy[t]) <= bound * 1.001


def test_the_qdq_graph_is_symmetric_per_channel_int8_and_runs(tiny_calibrated, tiny_calib, tmp_path):
    source, model, selection, ranges = tiny_calibrated
    qdq = quantize_qdq(model, selection, ranges, "max")
    counts = count_qdq(qdq)
    assert counts["QuantizeLinear"] > 0 and counts["DequantizeLinear"] > counts["QuantizeLinear"]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in qdq.graph.initializer}
    for node in qdq.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            assert inits[node.input[2]].dtype == np.int8 and not inits[node.input[2]].any()  # zero point 0
    weight_dq = [n for n in qdq.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert weight_dq and all(inits[n.input[0]].dtype == np.int8 for n in weight_dq)
    consumers = {i: n for n in qdq.graph.node for i in n.input}
    axis = {"Conv": 0, "ConvTranspose": 1, "MatMul": -1}  # the output channel of each weight layout
    for dq in weight_dq:
        channels = inits[dq.input[0]].shape[axis[consumers[dq.output[0]].op_type]]
        assert inits[dq.input[1]].shape == (channels,)
    assert int8_nodes(qdq) == set(selection.quantize)
    # the metric head's projector shares its input with the decoder: it must still read the float tensor
    assert keep_float_inputs(qdq, selection.quantize) > 0 and keep_float_inputs(qdq, selection.quantize) == 0
    producers = {o: n for n in qdq.graph.node for o in n.output}
    assert not any(producers.get(i) is not None and producers[i].op_type == "DequantizeLinear"
                   for n in qdq.graph.node if n.name in selection.kept for i in n.input)
    path = tmp_path / "q.onnx"
    onnx.save(qdq, path)
    x = {"image": np.array(CalibrationSet(tiny_calib).sample(9))[None]}
    with OnnxrtRunner(source, graph_optimization="disabled") as runner:
        expected = runner.infer(x)["metric_depth"]
    with OnnxrtRunner(path) as runner:
        got = runner.infer(x)["metric_depth"]
    metrics = depth_metrics(got, expected)
    assert 1e-6 < metrics["rel"] < 0.05 and metrics["delta1"] > 0.99


def test_an_unknown_calibration_method_is_a_user_error(tiny_onnx):
    model = onnx.load(tiny_onnx("test-N"))
    with pytest.raises(ZoeExportError, match="entropy, max"):
        calibrate(model, [], iter([]), "percentile")


def test_dequantizing_nodes_equals_quantizing_fewer(tiny_calibrated, tiny_calib, tmp_path):
    source, model, selection, ranges = tiny_calibrated
    fewer = selection.without(["decoder.stage2", "encoder.block01"])
    everything, direct = quantize_qdq(model, selection, ranges, "max"), quantize_qdq(model, fewer, ranges, "max")
    keep_float_inputs(everything, selection.quantize)
    keep_float_inputs(direct, fewer.quantize)
    cut = dequantize_nodes(everything, model, set(selection.quantize) - set(fewer.quantize))
    assert int8_nodes(cut) == int8_nodes(direct) == set(fewer.quantize)
    assert count_qdq(cut) == count_qdq(direct)
    x = {"image": CalibrationSet(tiny_calib).sample(3)[None]}
    outputs = []
    for name, graph in (("cut", cut), ("direct", direct)):
        onnx.save(graph, tmp_path / f"{name}.onnx")
        with OnnxrtRunner(tmp_path / f"{name}.onnx", graph_optimization="disabled") as runner:
            outputs.append(runner.infer(x)["metric_depth"])
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-6)


def test_folding_weight_quantization_changes_nothing_but_the_storage(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(8, 5)).astype(np.float32)
    scale = (np.abs(weight).max(axis=0) / 127).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["w", "s", "z"], ["wq"], name="q", axis=1),
         helper.make_node("DequantizeLinear", ["wq", "s", "z"], ["wd"], name="dq", axis=1),
         helper.make_node("MatMul", ["x", "wd"], ["y"], name="mm")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(scale, "s"),
         numpy_helper.from_array(np.zeros(5, np.int8), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    x = {"x": rng.normal(size=(3, 8)).astype(np.float32)}
    outputs = []
    for name in ("as_written", "folded"):
        if name == "folded":
            assert fold_weight_quantization(model) == 1
            assert [n.op_type for n in model.graph.node] == ["DequantizeLinear", "MatMul"]
            assert {i.name: i.data_type for i in model.graph.initializer}["wq"] == TensorProto.INT8
            assert "w" not in {i.name for i in model.graph.initializer}
        onnx.save(model, tmp_path / f"{name}.onnx")
        with OnnxrtRunner(tmp_path / f"{name}.onnx", graph_optimization="disabled") as runner:
            outputs.append(runner.infer(x)["y"])
    np.testing.assert_array_equal(outputs[0], outputs[1])
