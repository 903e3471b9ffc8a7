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
