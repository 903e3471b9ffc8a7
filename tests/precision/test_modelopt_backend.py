"""NVIDIA Model Optimizer as the converter: same islands, selection and ranges; its own choices read back."""
import struct

import onnx
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.precision import PrecisionOptions, convert_precision, plan_fp16, select_int8
from zoe_export.precision.graph import FLOAT16, tensor_types
from zoe_export.precision.int8 import int8_nodes
from zoe_export.precision.modelopt_backend import modelopt_version, write_calibration_cache

needs_modelopt = pytest.mark.skipif(modelopt_version() is None,
                                    reason="nvidia-modelopt is not installed (pip install 'zoe-export[modelopt]')")


def test_the_calibration_cache_holds_symmetric_int8_scales(tmp_path):
    write_calibration_cache({"a": (-2.54, 1.0), "b": (0.0, 12.7)}, tmp_path / "c.cache")
    header, *lines = (tmp_path / "c.cache").read_text().splitlines()
    assert header.startswith("TRT-")
    scales = {name: struct.unpack("!f", bytes.fromhex(value))[0] for name, value in (line.split(": ") for line in lines)}
    assert scales == pytest.approx({"a": 0.02, "b": 0.1})


@needs_modelopt
def test_modelopt_reads_our_cache(tmp_path):
    from modelopt.onnx.quantization.calib_utils import import_scales_from_calib_cache

    write_calibration_cache({"x": (-1.27, 0.5)}, tmp_path / "c.cache")
    assert import_scales_from_calib_cache(str(tmp_path / "c.cache")) == pytest.approx({"x_scale": 0.01})


@pytest.mark.slow
@needs_modelopt
def test_autocast_keeps_our_islands_and_is_measured_on_what_it_wrote(tiny_onnx, tmp_path):
    out = tmp_path / "n_fp16.onnx"
    manifest = convert_precision(tiny_onnx("test-N"), out, PrecisionOptions("fp16", backend="modelopt"))
    assert "Model Optimizer" in manifest["converter"] and manifest["parity"]["passed"]
    converted = onnx.load(out)
    types = tensor_types(converted)
    planned = plan_fp16(onnx.load(tiny_onnx("test-N")))
    island_nodes = [n for n in converted.graph.node if n.name in planned.fp32_nodes]
    assert island_nodes and not any(types.get(o) == FLOAT16 for n in island_nodes for o in n.output)
    assert 0.8 * len(planned.fp16_nodes) <= manifest["plan"]["fp16_nodes"] <= len(planned.fp16_nodes)


@pytest.mark.slow
@needs_modelopt
def test_modelopt_int8_quantizes_exactly_our_selection(tiny_onnx, tiny_calib, tmp_path):
    out = tmp_path / "n_int8.onnx"
    manifest = convert_precision(tiny_onnx("test-N"), out, PrecisionOptions(
        "int8", calib=tiny_calib, calib_method="max", backend="modelopt"))
    assert "Model Optimizer" in manifest["converter"]
    graph = onnx.load(out)
    producers = {o: n for n in graph.graph.node for o in n.output}
    selection = select_int8(onnx.load(tiny_onnx("test-N")))
    quantized = int8_nodes(graph)
    # ModelOpt may leave a few selected nodes alone (its own rules); it never quantizes more
    assert quantized <= set(selection.quantize) and len(quantized) >= 0.9 * len(selection.quantize)
    assert manifest["quantized_nodes"] == len(quantized)
    assert sorted(set(selection.quantize) - quantized) == manifest["selected_but_left_in_high_precision_by_the_converter"]
    # no kept node reads an INT8-rounded activation
    kept = [n for n in graph.graph.node if n.name in selection.kept]
    assert not any(producers.get(i) is not None and producers[i].op_type == "DequantizeLinear" for n in kept for i in n.input)
    assert 0 < manifest["parity"]["heldout"]["rel"] < 0.05


@needs_modelopt
def test_modelopt_uses_our_activation_ranges(tiny_calibrated):
    from zoe_export.precision.modelopt_backend import modelopt_qdq

    source, _, selection, ranges = tiny_calibrated
    qdq = modelopt_qdq(source, selection, ranges, "max")
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in qdq.graph.initializer}
    scales = {n.input[0]: float(inits[n.input[1]]) for n in qdq.graph.node
              if n.op_type == "QuantizeLinear" and n.input[0] in ranges}
    assert scales
    for tensor, scale in scales.items():
        assert scale == pytest.approx(max(abs(v) for v in ranges[tensor]) / 127, rel=1e-3)


def test_asking_for_modelopt_without_it_names_the_install(monkeypatch):
    from zoe_export.precision import modelopt_backend

    monkeypatch.setattr(modelopt_backend, "modelopt_version", lambda: None)
    with pytest.raises(ZoeExportError, match=r"zoe-export\[modelopt\]"):
        PrecisionOptions("fp16", backend="modelopt").converter()
    assert PrecisionOptions("fp16").converter() == "builtin"


def test_auto_falls_back_when_modelopt_would_not_fit_in_memory(tmp_path, monkeypatch, caplog):
    from zoe_export.precision import modelopt_backend

    monkeypatch.setattr(modelopt_backend, "modelopt_version", lambda: "0.47.0")
    monkeypatch.setattr(modelopt_backend, "_total_memory_bytes", lambda: 24 * 10**9)
    big, small = tmp_path / "big.onnx", tmp_path / "small.onnx"
    with open(big, "wb") as f:
        f.truncate(1_310_000_000)  # M12-N's FP32 weights: INT8 needs ~21 GB, FP16 ~11.5 GB
    small.write_bytes(b"\0" * 1000)
    assert PrecisionOptions("int8", calib="x").converter(big) == "builtin"
    assert "needs about 21 GB of memory, this machine has 24 GB" in caplog.text
    assert PrecisionOptions("fp16").converter(big) == "modelopt"
    assert PrecisionOptions("int8", calib="x").converter(small) == "modelopt"
    assert PrecisionOptions("int8", calib="x", backend="modelopt").converter(big) == "modelopt"
