"""``zoe-bench --size`` and ``--frame`` on real test-N graphs: a dynamic-size export and the fixed 64x96 one."""
import json

import pytest

from zoe_export import preprocess
from zoe_export.cli.bench import main

from helpers import DYNAMIC_RANGE as RANGE, shared_export

SHORT = ["--iters", "1", "--warmup", "0"]


def _run(argv, capsys):
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr()


@pytest.mark.slow
def test_size_times_a_dynamic_graph_at_one_model_size(dynamic_n, tiny_onnx, tmp_path, capsys):
    code, out = _run(["--onnx", str(dynamic_n), "--size", "64x160", *SHORT, "--output", str(tmp_path)], capsys)
    assert code == 0, out.err
    backend = json.loads((tmp_path / "result.json").read_text())["backends"][0]
    assert (backend["model"]["height"], backend["model"]["width"]) == (64, 160)
    assert backend["batches"]["1"]["iterations"] == 1 and "at model size 64x160" in out.out
    code, out = _run(["--onnx", str(dynamic_n), "--onnx", str(tiny_onnx("test-N")), "--size", "64x160", *SHORT], capsys)
    assert code == 1 and "(test-N.onnx): --size 64x160: this graph is fixed at 64x96" in out.err
    assert "zoe-export onnx --dynamic-size" in out.err and "Traceback" not in out.err
    code, out = _run(["--onnx", str(dynamic_n), "--size", "64x288", *SHORT], capsys)
    assert code == 1 and f"--size 64x288 is outside this graph's range {RANGE}" in out.err


@pytest.mark.slow
def test_frame_times_predict_and_compares_backends_that_compute_the_same(dynamic_n, tiny_onnx, tmp_path, capsys):
    fixed = str(tiny_onnx("test-N"))
    near = (72, 100)  # its official keep-aspect size is the native 64x96: the dynamic and fixed graphs agree
    assert preprocess.official_model_size(*near, (64, 96)) == (64, 96)
    code, out = _run(["--onnx", str(dynamic_n), "--onnx", fixed, "--frame", "72x100", *SHORT,
                      "--output", str(tmp_path)], capsys)
    assert code == 0, out.err
    result = json.loads((tmp_path / "result.json").read_text())
    dyn, fix = result["backends"]
    assert dyn["frame"]["path"] == fix["frame"]["path"] == "host" and dyn["frame"]["fit"] == "minimal"
    assert fix["frame"]["reference"] == dyn["name"] and fix["frame"]["rel"] < 1e-4  # two FP32 graphs of one model
    assert "## Frame (72x100)" in (tmp_path / "report.md").read_text() and "frame REL" in out.out
    wide = preprocess.official_model_size(40, 130, (64, 96))
    code, out = _run(["--onnx", str(dynamic_n), "--onnx", fixed, "--frame", "40x130", *SHORT], capsys)
    assert code == 0, out.err
    assert f"host {wide[0]}x{wide[1]} minimal flip" in out.out and "host 64x96 stretch flip" in out.out


@pytest.mark.slow
def test_frame_compares_a_frame_graph_with_the_host_recipe(dynamic_n, tmp_path_factory, tmp_path, capsys):
    frame_graph = shared_export(tmp_path_factory, "n_dyn_frame_flip.onnx", io="frame", input_format="uint8-nhwc",
                                flip=True)
    code, out = _run(["--onnx", str(dynamic_n), "--onnx", str(frame_graph), "--frame", "40x130", *SHORT,
                      "--output", str(tmp_path)], capsys)
    assert code == 0, out.err
    host, graph = json.loads((tmp_path / "result.json").read_text())["backends"]
    size = list(preprocess.official_model_size(40, 130, (64, 96)))
    assert (host["frame"]["path"], host["frame"]["model_size"]) == ("host", size)
    assert (graph["frame"]["path"], graph["frame"]["model_size"], graph["frame"]["flip"]) == ("frame graph", size, True)
    assert graph["frame"]["reference"] == host["name"] and graph["frame"]["rel"] < 1e-4  # the same recipe, in ONNX
    assert f"frame graph {size[0]}x{size[1]} flip" in out.out
    code, out = _run(["--onnx", str(frame_graph), *SHORT], capsys)
    assert code == 1 and "it is a frame graph" in out.err and "--frame HxW" in out.err


@pytest.mark.parametrize("argv, message", [
    (["--frame", "72x100", "--batch-sizes", "1,2"], "drop --batch-sizes"),
    (["--frame", "72x100", "--parity"], "drop --parity"),
    (["--frame", "72x"], "--frame '72x': write a size as HEIGHTxWIDTH"),
    (["--size", "64x100"], "--size '64x100': height and width must be multiples of 32"),
])
def test_refusals(tiny_onnx, argv, message, capsys):
    code, out = _run(["--onnx", str(tiny_onnx("test-N")), *argv], capsys)
    assert code == 1 and message in out.err and "Traceback" not in out.err


def test_size_and_frame_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["--torch", "--size", "64x96", "--frame", "72x100"])
    assert "not allowed with argument" in capsys.readouterr().err
