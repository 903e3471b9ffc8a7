"""``zoe-bench``: several backends in one run, its outputs, its refusals; ``zoe-bench eval``."""
import importlib.util
import json

import numpy as np
import pytest

from zoe_export.cli.bench import main


def _run(argv, capsys):
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr()


@pytest.mark.slow
def test_backends_in_the_order_given_with_report_files(tiny_onnx, tmp_path, capsys):
    code, out = _run(["--onnx", str(tiny_onnx("test-N")), "--torch", "--variant", "test-N", "--random-weights",
                      "--iters", "3", "--parity", "--profile", "--output", str(tmp_path)], capsys)
    assert code == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert [b["kind"] for b in result["backends"]] == ["onnxruntime", "torch"]
    assert result["base"].startswith("onnxruntime fp32 cpu")
    assert result["backends"][0]["parity"]["passed"] is True  # against the PyTorch run of the same weights
    assert {"report.md", "latency.png", "result.json"} <= {p.name for p in tmp_path.iterdir()}
    assert any(p.name.startswith("profile_onnxruntime") and p.suffix == ".json" for p in tmp_path.iterdir())
    assert (tmp_path / "profile_torch_fp32_cpu.txt").is_file()
    assert result["backends"][0]["profile"]["top_ops"][0]["op"]
    assert "vs base" in out.out and "PASS" in out.out and "wrote" in out.out


@pytest.mark.slow
def test_openvino_runs_an_onnx_graph_in_each_precision_asked_with_parity(tiny_onnx, tmp_path, capsys):
    pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install 'zoe-export[openvino]')")
    from zoe_export.openvino import cpu_info

    precisions = "f32,bf16" if cpu_info().supports("bf16") else "f32"
    code, out = _run(["--torch", "--variant", "test-N", "--random-weights", "--openvino", str(tiny_onnx("test-N")),
                      "--ov-precision", precisions, "--iters", "2", "--parity", "--profile", "--output",
                      str(tmp_path)], capsys)
    assert code == 0, out.err
    result = json.loads((tmp_path / "result.json").read_text())
    runs = {b["name"]: b for b in result["backends"][1:]}
    assert [b["inference_precision"] for b in runs.values()] == precisions.split(",")
    f32 = runs["openvino f32 cpu (test-N.onnx)"] if "openvino f32 cpu (test-N.onnx)" in runs else None
    assert f32 is not None and f32["precision"] == "fp32" and f32["parity"]["passed"] is True
    assert f32["parity"]["overall"]["rel"] < 1e-5 and f32["profile"]["file"].endswith(".csv")
    if "bf16" in precisions:
        bf16 = runs["openvino bf16 cpu (test-N.onnx)"]  # judged by bf16's own bound
        assert bf16["precision"] == "bf16" and bf16["parity"]["bound"]["max_rel"] == 2e-3
        assert bf16["parity"]["passed"] and 1e-5 < bf16["parity"]["overall"]["rel"]
    assert any("best CPU path at batch 1" in g["what"] for g in result["goals"])


def test_an_unknown_openvino_precision_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--openvino", "m.onnx", "--ov-precision", "f32,fp8"])
    assert exit_.value.code == 2 and "'f32,fp8': give f32, bf16, default or several" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    ([], "name at least one backend"),
    (["--openvino", "m.engine"], "the OpenVINO backend opens .xml, .onnx files"),
    (["--torch"], "--torch needs --variant"),
    (["--torch", "--variant", "test-N", "--random-weights", "--amp"], "--torch amp needs --device cuda"),
    (["--torch", "bf16", "--variant", "test-N"], "choose one of fp32, amp, compile"),
    (["--torch", "--torch", "--variant", "test-N", "--random-weights"], "named twice"),
    (["--torch", "--variant", "test-N", "--random-weights", "--profile"], "--profile writes profile files"),
    (["--engine", "missing.engine"], "does not exist"),
])
def test_refusals(argv, message, capsys):
    code, out = _run(argv, capsys)
    assert code == 1 and message in out.err and "Traceback" not in out.err


def test_cuda_provider_needs_onnxruntime_gpu(tiny_onnx, capsys):
    code, out = _run(["--onnx", str(tiny_onnx("test-N")), "--provider", "cuda"], capsys)
    assert code == 1 and "onnxruntime-gpu" in out.err


def test_parity_without_a_model_for_the_reference(tiny_onnx, capsys):
    code, out = _run(["--onnx", str(tiny_onnx("test-N")), "--parity"], capsys)
    assert code == 1 and "--reference onnx:FP32.onnx" in out.err


@pytest.mark.slow
def test_parity_against_an_onnx_reference(tiny_onnx, tiny_converted, tmp_path, capsys):
    code, _ = _run(["--onnx", str(tiny_converted("fp16")), "--iters", "2", "--parity", "--reference",
                    f"onnx:{tiny_onnx('test-N')}", "--output", str(tmp_path)], capsys)
    parity = json.loads((tmp_path / "result.json").read_text())["backends"][0]["parity"]
    assert code == 0 and parity["bound"]["max_rel"] == 2e-3 and parity["passed"] is True
    code, out = _run(["--onnx", str(tiny_onnx("test-N")), "--parity", "--reference",
                      f"onnx:{tiny_converted('fp16')}"], capsys)
    assert code == 1 and "must be an FP32 graph" in out.err


def test_eval_on_a_small_nyu_folder(tiny_onnx, tmp_path, capsys):
    from zoe_export.io import images

    rng = np.random.default_rng(0)
    for i in range(2):
        images.write_image(tmp_path / "nyu" / "rgb" / f"{i:05d}.png", (rng.random((480, 640, 3)) * 255).astype(np.uint8))
        images.write_depth_png16(tmp_path / "nyu" / "depth" / f"{i:05d}.png", rng.uniform(0.5, 9.5, (480, 640)))
    code, out = _run(["eval", "--dataset", "nyu", "--data", str(tmp_path / "nyu"), "--onnx", str(tiny_onnx("test-N")),
                      "--output", str(tmp_path / "out")], capsys)
    assert code == 0 and "on 2 image(s)" in out.out and "abs_rel" in out.out
    result = json.loads((tmp_path / "out" / "eval_nyu.json").read_text())
    assert result["count"] == 2 and set(result["mean"]) >= {"a1", "abs_rel", "rmse", "silog"}
    code, out = _run(["eval", "--dataset", "nyu", "--data", str(tmp_path / "nyu"), "--onnx", str(tiny_onnx("test-N")),
                      "--torch", "--variant", "test-N"], capsys)
    assert code == 1 and "takes one backend" in out.err
    if importlib.util.find_spec("openvino"):  # the same graph in OpenVINO (f32): the same scores
        code, out = _run(["eval", "--dataset", "nyu", "--data", str(tmp_path / "nyu"), "--openvino",
                          str(tiny_onnx("test-N")), "--output", str(tmp_path / "ov")], capsys)
        assert code == 0, out.err
        ov = json.loads((tmp_path / "ov" / "eval_nyu.json").read_text())
        for metric, value in result["mean"].items():
            assert ov["mean"][metric] == pytest.approx(value, rel=1e-4, abs=1e-6), metric
