"""measure_on: the INT8 budget search and parity judged on the backend that will run the graph (OpenVINO's INT8
kernels, or ONNX Runtime's FP32 emulation of them), the emulation kept beside for comparison, recorded in the
manifest and the card."""
import argparse
import json
import sys
import types

import onnx
import pytest

from zoe_export.cli.args import add_precision_args, precision_flags_given, precision_options_from_args
from zoe_export.cli.reports import report_conversion
from zoe_export.errors import ZoeExportError
from zoe_export.export import read_card
from zoe_export.precision import PrecisionOptions, convert_precision
from zoe_export.precision.parity import Workbench


def _fake_openvino(monkeypatch, capabilities):
    """An ``openvino`` module whose CPU reports ``capabilities`` (no OpenVINO needed)."""
    core = types.SimpleNamespace(get_property=lambda device, key: {
        "OPTIMIZATION_CAPABILITIES": capabilities, "FULL_DEVICE_NAME": "Old Xeon"}[key])
    monkeypatch.setitem(sys.modules, "openvino", types.SimpleNamespace(Core=lambda: core))


def _cpu_has_bf16() -> bool:
    ov = pytest.importorskip("openvino")
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def test_openvino_means_openvino_f32_and_onnxruntime_is_the_default():
    assert PrecisionOptions("int8", calib="x").measure_on == "onnxruntime"
    assert PrecisionOptions("int8", calib="x", measure_on="openvino").measure_on == "openvino:f32"
    assert PrecisionOptions("int8", calib="x", measure_on="openvino:bf16").measure_on == "openvino:bf16"


@pytest.mark.parametrize("options,message", [
    (PrecisionOptions("int8", calib="x", measure_on="tensorrt"),
     "measure_on= 'tensorrt': choose one of onnxruntime, openvino, openvino:f32, openvino:bf16"),
    (PrecisionOptions("fp16", measure_on="openvino"), "FP16 is measured on its emulation in ONNX Runtime"),
    (PrecisionOptions("int8", calib="x", high_precision="fp16", measure_on="openvino:bf16"),
     "OpenVINO runs the rest in f32 or bf16: use high_precision=fp32"),
])
def test_bad_measure_on_fails_before_any_work(options, message, tmp_path):
    with pytest.raises(ZoeExportError, match=message):  # before the source is even read
        convert_precision(tmp_path / "n.onnx", tmp_path / "x.onnx", options)
    assert not any(tmp_path.iterdir())


def test_without_openvino_the_error_names_its_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ModuleNotFoundError
    install = r"pip install 'zoe-export\[openvino\]'"
    with pytest.raises(ZoeExportError, match=r"openvino is not installed \(measuring on OpenVINO "
                                             r"\(measure_on=openvino:f32\) needs it\): " + install):
        PrecisionOptions("int8", calib="x", measure_on="openvino").validate()


def test_bf16_on_a_cpu_without_it_is_refused_with_what_the_cpu_reports(monkeypatch):
    _fake_openvino(monkeypatch, ["FP32", "INT8"])
    PrecisionOptions("int8", calib="x", measure_on="openvino:f32").validate()  # f32: every CPU
    with pytest.raises(ZoeExportError, match=r"measure_on=openvino:bf16: this CPU \(Old Xeon\) cannot compute in bf16; "
                                             r"OpenVINO reports FP32, INT8 .*Use measure_on=openvino:f32"):
        PrecisionOptions("int8", calib="x", measure_on="openvino:bf16").validate()
    _fake_openvino(monkeypatch, ["FP32", "BF16", "INT8"])
    PrecisionOptions("int8", calib="x", measure_on="openvino:bf16").validate()


def test_the_default_measures_on_onnxruntime_and_says_so(tiny_converted):
    path = tiny_converted("int8")
    manifest = json.loads(path.with_name(path.name + ".json").read_text())
    measured_on = manifest["measured_on"]
    assert measured_on["backend"] == "onnxruntime" and measured_on["inference_precision"] == "f32"
    assert measured_on["onnxruntime"] and "parity_onnxruntime_emulation" not in manifest
    ort = measured_on["onnxruntime"]
    assert manifest["parity"]["backend"] == f"the Q/DQ graph in ONNX Runtime {ort} CPU (an emulation of INT8 in f32)"
    assert read_card(path).measured_on == "onnxruntime"
    fp16 = tiny_converted("fp16")
    assert read_card(fp16).measured_on == "onnxruntime"  # FP16: measured on its emulation in ONNX Runtime


@pytest.mark.slow
@pytest.mark.parametrize("measure_on", ["openvino:f32", "openvino:bf16"])
def test_int8_judged_on_openvino_keeps_the_emulation_beside(measure_on, tiny_onnx, tiny_calib, tmp_path, monkeypatch):
    if measure_on == "openvino:bf16" and not _cpu_has_bf16():
        pytest.skip("this CPU has no bf16 (AVX-512 BF16 or AMX)")
    pytest.importorskip("openvino")
    ran_on = []
    run_file = Workbench.run_file

    def spy(self, path, cases, graph_optimization, on="onnxruntime"):
        ran_on.append((on, len(cases)))
        return run_file(self, path, cases, graph_optimization, on)

    monkeypatch.setattr(Workbench, "run_file", spy)
    out = tmp_path / "n_int8.onnx"
    options = PrecisionOptions("int8", calib=tiny_calib, calib_method="max", max_rel_drift=0.05, backend="builtin",
                               measure_on=measure_on)
    manifest = convert_precision(tiny_onnx("test-N"), out, options, progress=False)
    precision = measure_on.split(":")[1]
    # the search's evaluation (held-out samples) and the judged parity ran on OpenVINO; the emulation once, on ORT
    cases = len(manifest["parity"]["cases"])
    assert ran_on == [(measure_on, 2), (measure_on, cases), ("onnxruntime", cases)]
    written = json.loads(out.with_name(out.name + ".json").read_text())
    parity, emulation = written["parity"], written["parity_onnxruntime_emulation"]
    assert parity["backend"].startswith("the Q/DQ graph in OpenVINO 20")
    assert parity["backend"].endswith(f"CPU (INT8 kernels, {precision} elsewhere)")
    assert parity["passed"] and parity["budget_rel"] == 0.05 and parity["heldout"]["rel"] <= 0.05
    assert "ONNX Runtime" in emulation["backend"] and emulation["passed"] is None  # for comparison, not judged
    assert set(emulation["cases"]) == set(parity["cases"])
    assert 0 < parity["heldout"]["rel"] < 0.05 and 0 < emulation["heldout"]["rel"] < 0.05
    assert written["search"]["backend"] == parity["backend"]
    measured_on = written["measured_on"]
    assert measured_on["backend"] == "openvino" and measured_on["inference_precision"] == precision
    assert measured_on["openvino"] and measured_on["cpu"]
    meta = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert meta["measured_on"] == measure_on
    card = read_card(out)
    assert card.measured_on == measure_on and card == manifest["card"]
    assert card.measured_rel == pytest.approx(parity["overall"]["rel"], rel=1e-3)


def _parse(argv, high_precision="fp32"):
    parser = argparse.ArgumentParser()
    add_precision_args(parser.add_argument_group("precision"), high_precision)
    return parser.parse_args(argv)


def test_the_measure_on_flag_maps_to_the_option(tiny_calib, monkeypatch):
    _fake_openvino(monkeypatch, ["FP32", "BF16", "INT8"])
    args = _parse(["--calib", str(tiny_calib), "--measure-on", "openvino"])
    assert precision_flags_given(args, "fp32") == ["--calib", "--measure-on"]
    assert precision_options_from_args(args, "int8").measure_on == "openvino:f32"
    args = _parse(["--calib", str(tiny_calib), "--measure-on", "openvino:bf16"])
    assert precision_options_from_args(args, "int8").measure_on == "openvino:bf16"
    args = _parse(["--calib", str(tiny_calib)])
    assert precision_flags_given(args, "fp32") == ["--calib"]
    assert precision_options_from_args(args, "int8").measure_on == "onnxruntime"
    with pytest.raises(ZoeExportError, match="FP16 is measured on its emulation"):
        precision_options_from_args(_parse(["--measure-on", "openvino"]), "fp16")
    with pytest.raises(SystemExit):
        _parse(["--measure-on", "tensorrt"])


def test_the_zoe_export_onnx_command_refuses_openvino_for_fp16(capsys):
    from zoe_export.cli.main import main

    assert main(["onnx", "--variant", "test-N", "--random-weights", "--precision", "fp16",
                 "--measure-on", "openvino"]) == 1
    err = capsys.readouterr().err
    assert "--measure-on openvino:f32: FP16 is measured on its emulation" in err and len(err.splitlines()) == 1


def test_the_report_prints_the_emulation_and_where_it_was_measured(capsys):
    case = {"metric_depth": {"rel": 1e-3, "rmse": 1e-3, "delta1": 1.0, "max_abs": 1e-2}}
    figures = {"rel": 1e-3, "worst_rel": 2e-3, "rmse": 1e-3, "delta1": 1.0, "max_abs": 1e-2, "cases": 1}

    def parity(backend, budget):
        return {"backend": backend, "cases": {"heldout:a": case}, "overall": figures, "heldout": figures,
                "tolerance": None, "budget_rel": budget, "passed": True if budget else None}

    report_conversion({"precision": "int8",
                       "parity": parity("the Q/DQ graph in OpenVINO 2026.4.1 CPU (INT8 kernels, bf16 elsewhere)", 0.01),
                       "parity_onnxruntime_emulation": parity("the Q/DQ graph in ONNX Runtime 1.2 CPU", None),
                       "measured_on": {"backend": "openvino", "inference_precision": "bf16", "openvino": "2026.4.1",
                                       "cpu": "Xeon"}})
    out = capsys.readouterr().out.splitlines()
    assert out[-3].startswith("parity   int8 passed") and out[-3].endswith("(INT8 kernels, bf16 elsewhere)")
    assert out[-2].startswith("compare  int8 on the emulation: mean REL 1.00e-03") and "ONNX Runtime 1.2" in out[-2]
    assert out[-1] == "measured on OpenVINO 2026.4.1 (CPU Xeon), inference precision bf16"
    report_conversion({"precision": "int8", "parity": parity("ORT", None)})  # manifests before measure_on
    assert [line for line in capsys.readouterr().out.splitlines() if not line.startswith("parity")] == []
