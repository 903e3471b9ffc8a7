import json
import subprocess
import sys

import numpy as np
import pytest

from zoe_export.cli.main import main
from zoe_export.io import images


def test_help_is_instant_and_needs_no_torch():
    code = ("import sys; from zoe_export.cli.main import build_parser; build_parser().format_help(); "
            "from zoe_export.cli.bench import build_parser as b; b().format_help(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_predict_writes_depth_pictures_and_a_summary(tmp_path, capsys):
    rgb = (np.random.default_rng(0).random((90, 120, 3)) * 255).astype(np.uint8)
    images.write_image(tmp_path / "frame.png", rgb)
    rc = main(["predict", "--variant", "test-N", "--random-weights", "--image", str(tmp_path / "frame.png"),
               "--output", str(tmp_path / "out")])
    assert rc == 0
    summary = json.loads((tmp_path / "out" / "frame_summary.json").read_text())
    assert summary["model"]["variant"] == "test-N" and summary["model"]["weights"] == "random"
    depth = images.read_depth_png16(tmp_path / "out" / "frame_depth_mm.png")
    assert depth.shape == (90, 120)
    assert abs(float(np.median(depth)) - summary["depth_m"]["median"]) < 2e-3  # 1 mm quantisation
    for name in ("frame_depth.png", "frame_panel.png", "frame_input.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert "RANDOM" in capsys.readouterr().out


def test_demo_runs_on_random_weights_when_no_checkpoint_is_cached(tmp_path, capsys):
    assert main(["demo", "--variant", "test-NK", "--output", str(tmp_path), "--no-flip"]) == 0
    out = capsys.readouterr()
    assert "random weights" in out.err and "RANDOM (seed 0)" in out.out
    assert (tmp_path / "demo_scene_depth.png").is_file() and (tmp_path / "demo_scene_depth_mm.png").is_file()


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
    (["--variant", "test-N", "--precision", "fp16"], "precision stage"),
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
    assert rc == 1 and "looks like a test-K checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()
