"""export_and_convert: the PyTorch model to a converted graph, measured against PyTorch, nothing else left behind."""
import json
from pathlib import Path

import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.models import load_model
from zoe_export.precision import PrecisionOptions, export_and_convert


@pytest.mark.slow
def test_fp16_from_the_model_is_measured_against_pytorch_and_the_fp32_source_is_gone(tmp_path, capsys):
    out = tmp_path / "n_fp16.onnx"
    manifest = export_and_convert(load_model("test-N", weights="random"), out,
                                  precision_options=PrecisionOptions("fp16", backend="builtin"))
    assert out.is_file() and manifest["path"] == str(out)
    written = json.loads((tmp_path / "n_fp16.onnx.json").read_text())
    assert written["reference"] == manifest["reference"] == "PyTorch (FP32)"
    assert written["precision"] == "fp16" and manifest["parity"]["passed"]
    fp32 = Path(manifest["fp32_export"]["path"])  # the FP32 export's manifest, for the caller's report
    assert manifest["fp32_export"]["verification"]["passed"] and fp32.name == "zoed_test_n.onnx"
    assert not fp32.exists() and not fp32.parent.exists()  # its temporary folder went with it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n_fp16.onnx", "n_fp16.onnx.json", "n_fp16.onnx.parity.png"]
    assert capsys.readouterr().out == ""  # the library logs; the CLI prints


@pytest.mark.parametrize("options, message", [
    (PrecisionOptions("int8"), "precision=int8 needs a calibration set: calib=DIR"),
    (PrecisionOptions("fp16", max_rel_drift=0.01), "max_rel_drift= and keep_precision= are INT8 options"),
])
def test_bad_options_fail_before_the_export_in_python_spelling(options, message, tmp_path):
    with pytest.raises(ZoeExportError, match=message):
        export_and_convert(load_model("test-N", weights="random"), tmp_path / "x.onnx", precision_options=options)
    assert not any(tmp_path.iterdir())


def test_a_calibration_set_for_another_size_fails_before_the_export(tiny_calib, tmp_path):
    model = load_model("test-N", weights="random", height=96, width=96)
    with pytest.raises(ZoeExportError, match="holds 64x96 float-nchw inputs but test-N at 96x96"):
        export_and_convert(model, tmp_path / "x.onnx", precision_options=PrecisionOptions("int8", calib=tiny_calib))
    assert not any(tmp_path.iterdir())


def test_convert_graph_measures_against_pytorch_when_the_weights_are_at_hand(tiny_onnx, tmp_path):
    """trt --fp16 and onnx --precision fp16 measure against the same reference: PyTorch rebuilt from the card."""
    from zoe_export.card import read_card
    from zoe_export.precision import convert_graph

    out = tmp_path / "n_fp16.onnx"
    manifest = convert_graph(tiny_onnx("test-N"), out, PrecisionOptions("fp16", backend="builtin"))
    assert manifest["reference"] == "PyTorch (FP32)" == read_card(out).reference  # seeded random weights: rebuilt
    assert manifest["parity"]["passed"]


def test_convert_graph_falls_back_to_the_fp32_graph_and_checks_a_given_checkpoint(tmp_path):
    import torch

    from zoe_export.card import read_card
    from zoe_export.export import export_onnx
    from zoe_export.precision import convert_graph

    ckpt, other = tmp_path / "n.pt", tmp_path / "other.pt"
    torch.save(load_model("test-N", weights="random", seed=5).state_dict(), ckpt)
    torch.save(load_model("test-N", weights="random", seed=6).state_dict(), other)
    source = tmp_path / "n.onnx"
    export_onnx(load_model("test-N", ckpt), source)
    fp16 = PrecisionOptions("fp16", backend="builtin")
    manifest = convert_graph(source, tmp_path / "a.onnx", fp16)  # no checkpoint given or cached: the FP32 graph
    assert manifest["reference"].startswith("the FP32 graph") and read_card(tmp_path / "a.onnx").reference.startswith(
        "the FP32 graph")
    assert convert_graph(source, tmp_path / "b.onnx", fp16, checkpoint=ckpt)["reference"] == "PyTorch (FP32)"
    with pytest.raises(ZoeExportError, match="checkpoint=.*other.pt has sha256 .*pass that checkpoint"):
        convert_graph(source, tmp_path / "c.onnx", fp16, checkpoint=other)
    assert not (tmp_path / "c.onnx").exists()
