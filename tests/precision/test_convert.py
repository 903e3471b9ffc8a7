"""convert_precision: FP16 and INT8 graphs measured, stamped, written whole or not at all."""
import dataclasses
import json

import onnx
import pytest

from zoe_export.calib import SetSpec, build_calibration_set
from zoe_export.compare.tolerance import Tolerance
from zoe_export.errors import ZoeExportError
from zoe_export.export import read_card
from zoe_export.io import images
from zoe_export.precision import PrecisionOptions, convert_precision
from zoe_export.registry.precisions import get_precision, registered

from helpers import write_images


def test_fp16_conversion_measures_writes_and_stamps(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "n_fp16.onnx"
    manifest = convert_precision(tiny_onnx("test-N"), out, PrecisionOptions("fp16", backend="builtin"))
    assert out.is_file() and json.loads((tmp_path / "n_fp16.onnx.json").read_text())["precision"] == "fp16"
    parity = manifest["parity"]
    assert parity["passed"] and parity["tolerance"]["max_rel"] == 2e-3
    assert 0 < parity["overall"]["rel"] < 2e-3 and parity["overall"]["delta1"] >= 0.9999
    assert {"rel", "rmse", "delta1", "max_abs"} <= set(parity["cases"]["input0"]["metric_depth"])
    assert manifest["parity_onnxruntime_fp16_graph"]["passed"] is None  # informational only
    assert [i["name"] for i in manifest["plan"]["islands"]] == [
        "layer_norm", "attention_softmax", "attractors", "conditional_log_binomial", "metric_depth_sum"]
    card = read_card(out)
    assert card.precision == "fp16" and card.variant == "test-N" and "attractors" in card.fp16_islands
    assert card.source_precision == "fp32" and card.measured_rel == pytest.approx(parity["overall"]["rel"], rel=1e-3)
    assert card == manifest["card"] and card.to_dict() == json.loads((tmp_path / "n_fp16.onnx.json").read_text())["card"]
    assert card.reference == manifest["reference"] == "the FP32 graph in ONNX Runtime (graph optimisations off)"
    assert not capsys.readouterr().out  # library code prints nothing
    picture = images.read_image(tmp_path / manifest["picture"])  # input | FP32 | FP16 | error
    assert picture.shape[0] >= 64 and picture.shape[1] >= 4 * 96


def test_a_converted_graph_is_never_converted_again(tiny_onnx, tmp_path):
    convert_precision(tiny_onnx("test-N"), tmp_path / "h.onnx", PrecisionOptions("fp16", backend="builtin"))
    with pytest.raises(ZoeExportError, match="already fp16"):
        convert_precision(tmp_path / "h.onnx", tmp_path / "h2.onnx", PrecisionOptions("fp16", backend="builtin"))


def test_failed_parity_writes_nothing(tiny_onnx, tmp_path):
    strict = dataclasses.replace(get_precision("fp16"), tolerance=Tolerance(max_rel=1e-9, min_delta1=1.0, max_logit_rel=0.0))
    with registered(strict), pytest.raises(ZoeExportError, match="parity failed, nothing written"):
        convert_precision(tiny_onnx("test-N"), tmp_path / "bad.onnx", PrecisionOptions("fp16", backend="builtin"))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("high_precision", ["fp32", "fp16"])
def test_int8_conversion_with_nk_routing(high_precision, tiny_onnx, tiny_calib, tmp_path):
    out = tmp_path / "nk_int8.onnx"
    options = PrecisionOptions("int8", calib=tiny_calib, calib_method="max", high_precision=high_precision,
                               backend="builtin")
    manifest = convert_precision(tiny_onnx("test-NK"), out, options)
    assert manifest["parity"]["passed"] is None  # no budget: measured, not judged
    heldout = manifest["parity"]["heldout"]
    assert heldout["cases"] == 2 and 0 < heldout["rel"] < 0.05
    assert all(c["domain_logits"]["route_agreement"] == 1.0 for c in manifest["parity"]["cases"].values())
    assert manifest["calibration"]["samples"] == 8 and manifest["calibration"]["method"] == "max"
    graph = onnx.load(out)
    meta = {p.key: p.value for p in graph.metadata_props}
    assert meta["precision"] == "int8" and meta["high_precision"] == high_precision and meta["calibration_set"]
    if high_precision == "fp16":
        assert graph.opset_import[0].version >= 19 and manifest["fp16_plan"]["fp16_nodes"] > 0
        scales = [i for i in graph.graph.initializer if i.name.endswith("_scale")]
        assert scales and all(s.data_type == onnx.TensorProto.FLOAT16 for s in scales)


@pytest.mark.slow
def test_the_budget_search_returns_a_smaller_int8_set_for_a_tighter_budget(tiny_onnx, tiny_calib, tmp_path):
    def int8_groups(budget):
        options = PrecisionOptions("int8", calib=tiny_calib, calib_method="max", max_rel_drift=budget, backend="builtin")
        manifest = convert_precision(tiny_onnx("test-N"), tmp_path / f"{budget}.onnx", options, progress=False)
        assert manifest["parity"]["passed"] and manifest["parity"]["heldout"]["rel"] <= budget
        return manifest

    loose, tight = int8_groups(0.05), int8_groups(3e-4)
    assert len(tight["int8_groups"]) < len(loose["int8_groups"])
    search = tight["search"]
    assert search["met"] and search["kept_groups"] and len(search["steps"]) == 1 + len(search["kept_groups"])
    assert {row["group"] for row in search["table"]} == set(loose["int8_groups"])
    assert all(row["sensitivity_rel"] > 0 for row in search["table"])


@pytest.mark.parametrize("options,message", [
    (PrecisionOptions("int8"), "needs a calibration set"),
    (PrecisionOptions("fp16", max_rel_drift=0.01), "INT8 options"),
    (PrecisionOptions("int8", calib="x", max_rel_drift=2.0), "between 0 and 1"),
    (PrecisionOptions("int8", calib="x", high_precision="bf16"), "fp32 or fp16"),
    (PrecisionOptions("bf16"), "choose one of fp32, fp16, int8"),
    (PrecisionOptions("fp16", backend="tensorrt"), "auto, modelopt, builtin"),
])
def test_bad_options_fail_before_any_work(options, message, tiny_onnx, tmp_path):
    with pytest.raises(ZoeExportError, match=message):
        convert_precision(tiny_onnx("test-N"), tmp_path / "x.onnx", options)
    assert not any(tmp_path.iterdir())


def test_a_calibration_set_for_another_input_size_is_refused(tiny_onnx, tmp_path):
    images = write_images(tmp_path / "img", 4)
    build_calibration_set(tmp_path / "big", SetSpec(96, 128), images=images, count=4, min_count=2, progress=False)
    with pytest.raises(ZoeExportError, match="rebuild it with zoe-export calib --height 64 --width 96"):
        convert_precision(tiny_onnx("test-N"), tmp_path / "x.onnx", PrecisionOptions("int8", calib=tmp_path / "big", backend="builtin"))


@pytest.mark.slow
def test_uint8_frames_and_dynamic_batch_convert_too(tmp_path, tiny_calib):
    from zoe_export.export import ExportOptions, export_onnx
    from zoe_export.models import load_model

    source = tmp_path / "u8.onnx"
    export_onnx(load_model("test-N", weights="random"), source, ExportOptions(batch=None, input_format="uint8-nhwc"))
    manifest = convert_precision(source, tmp_path / "u8_fp16.onnx", PrecisionOptions("fp16", backend="builtin"))
    assert manifest["parity"]["passed"] and set(manifest["parity"]["cases"]) == {"batch", "single"}
    photos = write_images(tmp_path / "img", 4)
    build_calibration_set(tmp_path / "u8set", SetSpec(64, 96, "uint8-nhwc"), images=photos, count=4, min_count=2,
                          progress=False)
    manifest = convert_precision(source, tmp_path / "u8_int8.onnx", PrecisionOptions(
        "int8", calib=tmp_path / "u8set", calib_method="max", backend="builtin"))
    assert manifest["parity"]["heldout"]["cases"] == 2 and manifest["parity"]["heldout"]["rel"] < 0.05
    with pytest.raises(ZoeExportError, match="holds 64x96 float-nchw inputs"):
        convert_precision(source, tmp_path / "x.onnx", PrecisionOptions("int8", calib=tiny_calib, backend="builtin"))
