import importlib.util
import json
import subprocess
import sys

import pytest

from zoe_export.cli.main import main


def test_help_is_instant_and_needs_no_torch():
    code = ("import sys; from zoe_export.cli.main import build_parser; build_parser().format_help(); "
            "from zoe_export.cli.bench import build_parser as b; b().format_help(); "
            "from zoe_export.cli.bench_eval import build_parser as e; e().format_help(); "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'tensorrt') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("argv", [["--help"], ["trt", "--help"], ["onnx", "--help"], ["demo", "--help"]])
def test_subcommand_help_imports_no_heavy_module(argv):
    code = ("import sys; from zoe_export.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'tensorrt') if m in sys.modules), "
            "file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True)
    assert "usage: zoe-export" in out.stdout and out.stderr.strip() == "[]"


@pytest.mark.slow
def test_demo_runs_on_random_weights_when_no_checkpoint_is_cached(tmp_path, capsys):
    assert main(["demo", "--variant", "test-NK", "--output", str(tmp_path), "--no-flip"]) == 0
    out = capsys.readouterr()
    assert "random weights" in out.err and "RANDOM (seed 0)" in out.out
    assert (tmp_path / "demo_scene_depth.png").is_file() and (tmp_path / "demo_scene_depth_mm.png").is_file()
    if importlib.util.find_spec("openvino"):  # the fastest CPU path, shown on the same graph
        (line,) = [line for line in out.out.splitlines() if line.startswith("parity   OpenVINO")]
        assert float(line.split("REL ")[1].split(",")[0]) < 2e-3 and "PyTorch FP32 took" in line
        assert "zoe-export openvino --onnx" in out.out
    else:
        assert "pip install 'zoe-export[openvino]'" in out.out


@pytest.mark.parametrize("argv,message", [
    (["predict", "--variant", "M12-NKK", "--random-weights", "--image", "x.png"], "Did you mean 'M12-NK'"),
    (["demo", "--variant", "test-N", "--domain", "nyu"], "NK variants only"),
    (["demo", "--variant", "test-N", "--random-weights", "--checkpoint", "x.pt"], "exclude each other"),
    (["demo", "--variant", "test-N", "--height", "100"], "multiples of 32"),
])
def test_user_errors_print_one_line_without_traceback(argv, message, capsys, tmp_path):
    assert main([*argv, "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: ") and message in err and "Traceback" not in err


def test_variants_lists_the_registry(capsys):
    assert main(["variants"]) == 0
    out = capsys.readouterr().out
    assert "M12-NK" in out and "384x768" in out and "test-N" not in out


@pytest.mark.slow
def test_onnx_command_exports_and_reports_verification(tmp_path, capsys):
    out = tmp_path / "n.onnx"
    assert main(["onnx", "--variant", "test-N", "--random-weights", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and (tmp_path / "n.onnx.json").is_file()
    assert "verify   passed" in printed and "REL" in printed


@pytest.mark.parametrize("argv,message", [
    (["--variant", "test-N", "--domain", "kitti"], "NK variants only"),
    (["--variant", "test-NK", "--max-depth", "80"], "unbounded"),
    (["--variant", "test-K", "--height", "100"], "multiples of 32"),
    (["--variant", "M12-M"], "Did you mean"),
    (["--variant", "test-N", "--precision", "int8"], "needs a calibration set"),
    (["--variant", "test-N", "--precision", "fp16", "--max-rel-drift", "0.01"], "INT8 options"),
])
def test_onnx_command_rejects_bad_options_before_working(argv, message, tmp_path, capsys):
    assert main(["onnx", *argv, "--random-weights", "--output", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "tracing" not in err
    assert not any(tmp_path.iterdir())


def test_onnx_command_rejects_a_checkpoint_of_another_variant(tmp_path, capsys):
    import torch

    from zoe_export.models import load_model

    torch.save({"model": load_model("test-K", weights="random").state_dict()}, tmp_path / "k.pt")
    rc = main(["onnx", "--variant", "test-N", "--checkpoint", str(tmp_path / "k.pt"), "--output", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err
    assert rc == 1 and "looks like a test-K checkpoint: pass --variant test-K" in err  # the CLI's spelling
    assert not (tmp_path / "x.onnx").exists()


def test_calib_command_builds_a_set_and_says_how_long_calibration_takes(tmp_path, capsys):
    from helpers import write_images

    images = write_images(tmp_path / "photos", 5)
    (images / "bad.jpg").write_bytes(b"nope")
    out = tmp_path / "set"
    assert main(["calib", "--images", str(images), "--variant", "test-N", "--count", "4", "--min-count", "2",
                 "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert "calibrating on this CPU will take about" in captured.err
    assert "4 samples of float32[3, 64, 96]" in captured.out
    assert (out / "manifest.json").is_file()


@pytest.mark.parametrize("argv,message", [
    (["--variant", "test-N"], "give --images DIR"),
    (["--variant", "test-N", "--images", "nowhere"], "does not exist"),
    (["--variant", "test-N", "--images", "."], "no images found"),
    (["--variant", "M12-Q", "--images", "."], "Did you mean"),
])
def test_calib_command_refuses_bad_input(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["calib", *argv, "--output", str(tmp_path / "set")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "set").exists()


@pytest.mark.slow
def test_calib_synthetic_then_onnx_int8_end_to_end(tmp_path, capsys):
    calib = tmp_path / "set"
    assert main(["calib", "--synthetic", "6", "--variant", "test-N", "--count", "6", "--min-count", "4",
                 "--output", str(calib)]) == 0
    out = tmp_path / "n_int8.onnx"
    assert main(["onnx", "--variant", "test-N", "--random-weights", "--precision", "int8", "--calib", str(calib),
                 "--calib-method", "max", "--max-rel-drift", "0.05", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "int8 passed" in printed and "nodes in INT8" in printed
    assert out.is_file() and (tmp_path / "n_int8.onnx.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n_int8.onnx", "n_int8.onnx.json", "n_int8.onnx.parity.png", "set"]


@pytest.mark.slow
def test_onnx_fp16_command_reports_islands_and_parity(tmp_path, capsys):
    out = tmp_path / "nk_fp16.onnx"
    assert main(["onnx", "--variant", "test-NK", "--random-weights", "--precision", "fp16", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "verify   passed" in printed  # the FP32 export is verified first
    assert "fp16 passed" in printed and "FP32 islands (layer_norm" in printed
    manifest = json.loads((tmp_path / "nk_fp16.onnx.json").read_text())
    assert manifest["reference"] == "PyTorch (FP32)" and manifest["parity"]["passed"]
