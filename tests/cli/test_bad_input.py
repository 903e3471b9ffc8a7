"""Bad input never passes as success: each class of mistake, as a table across the commands that share it.

Classes (issue 12): a failed check fails the command; success is printed only for what is true; a
user's file that is not the output is never touched, and a failed run leaves no folder it made;
mistakes are one line naming the fix, before the slow part; non-finite input is the user's; messages
name what the user typed; sizes have bounds.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoe_export.calib import CalibrationSet
from zoe_export.cli.bench import main as bench_main
from zoe_export.cli.main import main
from zoe_export.errors import ZoeExportError, command_line
from zoe_export.export import ExportOptions
from zoe_export.io import images
from zoe_export.models import ModelOptions, get_variant, load_model
from zoe_export.precision import PrecisionOptions, convert_precision

pytestmark = pytest.mark.timeout(300)

RANDOM = ["--variant", "test-N", "--random-weights"]
SLOW_PARTS = ("tracing", "calibrating", "running test-", "calibration set:", "timing batch")


def _run(tool, argv, capsys):
    capsys.readouterr()
    code = tool(argv)
    return code, capsys.readouterr()


def _one_line_error(out) -> str:
    """The CLI's user-error shape: the last line starts with 'error:', no traceback, no slow stage begun."""
    assert "Traceback" not in out.err
    last = out.err.strip().splitlines()[-1]
    assert last.startswith("error: "), out.err
    assert not any(stage in out.err + out.out for stage in SLOW_PARTS), out.err
    return last


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Inputs people really have: a photo, an over-large image, damaged and unusual checkpoints."""
    root = tmp_path_factory.mktemp("inputs")
    images.write_image(root / "photo.png", (np.random.default_rng(0).random((60, 80, 3)) * 255).astype(np.uint8))
    Image.new("L", (14000, 14000)).save(root / "bomb.png")  # 196 M pixels: over Pillow's bomb limit
    state = load_model("test-K", weights="random").state_dict()
    torch.save({**state, "conv2.weight": torch.full_like(state["conv2.weight"], float("nan"))}, root / "nan.pt")
    torch.save({k: torch.full_like(v, float("inf")) if v.is_floating_point() else v for k, v in state.items()},
               root / "inf.pt")
    (root / "notes.pt").write_text("not a checkpoint\n")
    (root / "folder.pt").mkdir()
    return root


# ------------------------------------------------------------------- 1. a failed check fails the command

@pytest.mark.slow
@pytest.mark.parametrize("extra, fails", [
    (["--seed", "3", "--reference-mismatch-ok"], True),  # other weights, compared anyway: REL far out of bound
    ([], False),  # the same weights: passes
])
def test_parity_outside_its_bound_fails_zoe_bench(extra, fails, tiny_onnx, tmp_path, capsys):
    code, out = _run(bench_main, ["--onnx", str(tiny_onnx("test-N")), *RANDOM, *extra, "--parity", "--iters", "2",
                                  "--output", str(tmp_path)], capsys)
    result = json.loads((tmp_path / "result.json").read_text())
    assert code == (1 if fails else 0)
    assert result["backends"][0]["parity"]["passed"] is (not fails)
    assert ("PARITY FAIL" in out.out) is fails and ("problem(s), see above" in out.err) is fails
    if fails:  # the accepted mismatch is in the console and the report, not only in result.json
        assert "REFERENCE MISMATCH" in out.out and "REFERENCE MISMATCH" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("reference, differs", [
    (["--variant", "test-N", "--random-weights", "--seed", "3"], "random_seed 0 (the reference: 3)"),
    (["--variant", "test-K", "--random-weights"], "variant test-N (the reference: test-K)"),
    (["--variant", "test-N", "--checkpoint", "{ckpt}"], "weights random (the reference: checkpoint)"),
    (["--reference", "onnx:{other}"], "variant test-N (the reference: test-NK)"),
])
def test_a_reference_of_other_weights_is_refused_before_timing(reference, differs, tiny_onnx, tmp_path, capsys):
    ckpt = tmp_path / "n.pt"
    torch.save(load_model("test-N", weights="random", seed=1).state_dict(), ckpt)
    argv = [a.format(ckpt=ckpt, other=tiny_onnx("test-NK")) for a in reference]
    code, out = _run(bench_main, ["--onnx", str(tiny_onnx("test-N")), *argv, "--parity", "--iters", "2"], capsys)
    assert code == 1 and differs in _one_line_error(out) and "--reference-mismatch-ok" in out.err


@pytest.mark.slow
def test_skipped_rows_say_why_in_the_console(tiny_onnx, capsys):
    code, out = _run(bench_main, ["--onnx", str(tiny_onnx("test-N")), "--batch-sizes", "1,2", "--iters", "2"], capsys)
    assert code == 0
    assert re.search(r"SKIPPED onnxruntime .* batch 2: the graph has a fixed batch of 1; export with --dynamic-batch",
                     out.out)


# ------------------------------------------------------------- 2. success is printed only for what is true

@pytest.mark.slow
def test_every_path_printed_exists_where_it_says(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = _run(main, ["onnx", *RANDOM, "--precision", "fp16", "--output", "sub/n16.onnx"], capsys)
    assert code == 0
    printed = re.findall(r"^(?:wrote|manifest) +(\S+)", out.out, re.M)
    assert printed and all(Path(p).is_file() for p in printed), printed
    assert "sub/n16.onnx" in printed and "temporary folder" in out.out  # the FP32 source is not called written


@pytest.mark.parametrize("command", [
    ["onnx", *RANDOM, "--output", "{dir}.onnx"],
    ["onnx", *RANDOM, "--precision", "fp16", "--output", "{dir}.onnx"],
    ["predict", *RANDOM, "--image", "{photo}", "--output", "{file}"],
    ["calib", "--variant", "test-N", "--synthetic", "8", "--output", "{file}"],
])
def test_an_output_of_the_wrong_kind_is_refused_not_written_into(command, files, tmp_path, capsys):
    (tmp_path / "adir.onnx").mkdir()
    (tmp_path / "afile").write_text("mine")
    argv = [a.format(dir=tmp_path / "adir", file=tmp_path / "afile", photo=files / "photo.png") for a in command]
    code, out = _run(main, argv, capsys)
    assert code == 1 and re.search(r"is (an existing folder|a file)", _one_line_error(out))
    assert not any((tmp_path / "adir.onnx").iterdir()) and (tmp_path / "afile").read_text() == "mine"


def test_a_keep_precision_pattern_that_selects_nothing_is_an_error(tiny_onnx, tiny_calib, tmp_path):
    options = PrecisionOptions("int8", calib=tiny_calib, keep_precision=("*atn*", "*attn*"), backend="builtin")
    with pytest.raises(ZoeExportError, match=r"keep_precision= \*atn\* matches no Conv/MatMul/Gemm node"):
        convert_precision(tiny_onnx("test-N"), tmp_path / "q.onnx", options, progress=False)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("argv, ignored", [
    (["--random-weights", "--sha256", "ab" * 32], "--sha256 is ignored"),
    (["--checkpoint", "{ckpt}", "--seed", "4"], "--seed is ignored"),
    (["--random-weights", "--precision", "fp16", "--calib-method", "max"], "--calib-method is ignored"),
])
def test_an_ignored_option_says_so(argv, ignored, tmp_path, capsys):
    torch.save(load_model("test-N", weights="random").state_dict(), tmp_path / "n.pt")
    argv = [a.format(ckpt=tmp_path / "n.pt") for a in argv]
    code, out = _run(main, ["onnx", "--variant", "test-N", *argv, "--no-verify", "--output", str(tmp_path / "o.onnx")],
                     capsys)
    assert code == 0 and ignored in out.err


@pytest.mark.slow
@pytest.mark.parametrize("argv, ignored", [
    (["--provider", "cuda", "--torch", *RANDOM], "--provider is ignored"),
    (["--reference", "onnx:x.onnx", "--torch", *RANDOM], "--reference is ignored"),
])
def test_an_ignored_bench_option_says_so(argv, ignored, capsys):
    code, out = _run(bench_main, [*argv, "--iters", "1"], capsys)
    assert code == 0 and ignored in out.err


# ------------------------------------------------ 3. never touch a user's file; take back the folders made

@pytest.mark.slow
def test_the_writability_probe_leaves_a_users_probe_file_alone(tmp_path, capsys):
    for name in ("n.onnx.probe", "n_fp16.onnx.probe"):
        (tmp_path / name).write_text("mine")
    code, _ = _run(main, ["onnx", *RANDOM, "--no-verify", "--output", str(tmp_path / "n.onnx")], capsys)
    assert code == 0 and (tmp_path / "n.onnx.probe").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left either


@pytest.mark.parametrize("command", [
    ["onnx", "--variant", "test-K", "--checkpoint", "{nan}", "--output", "{new}/x.onnx"],  # fails loading
    pytest.param(["onnx", *RANDOM, "--precision", "int8", "--calib", "{calib}", "--keep-precision", "typo*",
                  "--output", "{new}/x.onnx"],  # fails in the precision stage, after the FP32 export
                 marks=pytest.mark.slow),
    ["predict", *RANDOM, "--image", "{bomb}", "--output", "{new}"],  # fails reading the image
    ["calib", "--variant", "test-N", "--images", "{few}", "--min-count", "3", "--count", "4",
     "--output", "{new}/set"],  # fails after preprocessing: too few usable images
])
def test_a_failed_run_leaves_no_folder_it_made_and_no_file(command, files, tiny_calib, tmp_path, capsys):
    few = tmp_path / "few"
    few.mkdir()
    images.write_image(few / "one.png", np.zeros((40, 40, 3), np.uint8))
    (few / "two.png").write_bytes(b"\x89PNG broken")
    argv = [a.format(nan=files / "nan.pt", bomb=files / "bomb.png", calib=tiny_calib, few=few,
                     new=tmp_path / "new" / "sub") for a in command]
    code, out = _run(main, argv, capsys)
    assert code == 1 and "Traceback" not in out.err
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few"]


# ---------------------------------------------- 4. one line naming the fix, before the slow part

@pytest.mark.parametrize("tool, argv, message", [
    (main, ["onnx", *RANDOM, "--seed", "-2"], "argument --seed: -2 is below 0"),
    (main, ["predict", *RANDOM, "--seed", "-1", "--image", "x.png"], "argument --seed: -1 is below 0"),
    (main, ["demo", "--variant", "test-N", "--seed", "-1"], "argument --seed: -1 is below 0"),
    (main, ["calib", "--variant", "test-N", "--synthetic", "8", "--seed", "-1", "--output", "c"], "--seed: -1"),
    (main, ["calib", "--variant", "test-N", "--synthetic", "-2", "--output", "c"], "--synthetic: -2 is below 1"),
    (main, ["calib", "--variant", "test-N", "--synthetic", "8", "--count", "0", "--output", "c"], "--count: 0"),
    (main, ["onnx", *RANDOM, "--batch", "0"], "--batch: 0 is below 1"),
    (main, ["onnx", *RANDOM, "--max-depth", "nan"], "--max-depth: nan is not a finite number"),
    (main, ["trt", "--onnx", "x.onnx", "--workspace-gb", "-1"], "--workspace-gb: -1 is not a finite number"),
    (bench_main, ["--torch", *RANDOM, "--seed", "-1"], "argument --seed: -1 is below 0"),
    (bench_main, ["--torch", *RANDOM, "--seconds", "inf"], "--seconds: inf is not a finite number"),
    (bench_main, ["--torch", *RANDOM, "--warmup", "-1"], "--warmup: -1 is below 0"),
])
def test_out_of_range_numbers_are_refused_by_the_parser(tool, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        tool(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["onnx", *RANDOM, "--opset", "99"], "--opset 99: use 17 to 19"),
    (["onnx", *RANDOM, "--opset", "20"], "--opset 20: use 17 to 19"),
    (["onnx", *RANDOM, "--opset", "16"], "--opset 16: use 17 to 19"),
    (["onnx", *RANDOM, "--height", "96", "--precision", "int8", "--calib", "{calib}"],
     "--calib {calib} holds 64x96 float-nchw inputs but --variant test-N at 96x96"),
    (["onnx", *RANDOM, "--precision", "int8", "--calib", "{missing}"], "--calib {missing} does not exist"),
    (["onnx", *RANDOM, "--calib", "{calib}", "--calib-method", "max"],
     "--calib --calib-method tune the conversion to FP16 or INT8, and this export stays FP32"),
    (["onnx", *RANDOM, "--precision", "fp16", "--keep-precision", "*attn*"], "are INT8 options"),
    (["predict", *RANDOM, "--image", "{bomb}"], "is too large to decode safely"),
    (["predict", *RANDOM, "--image", "{photo}", "--output", "{photo}"], "is a file, and this output is a folder"),
    (["predict", *RANDOM, "--image", "{photo}", "--output", "{photo}/sub"], "is a file, not a folder"),
    (["calib", "--variant", "test-N", "--synthetic", "4", "--output", "{out}"], "--synthetic 4 makes fewer"),
    (["calib", "--variant", "test-N", "--images", "{tmp}", "--count", "2", "--min-count", "8", "--output", "{out}"],
     "--count 2 is below --min-count 8"),
])
def test_mistakes_are_one_line_before_the_slow_part(argv, message, files, tiny_calib, tmp_path, capsys):
    values = dict(calib=tiny_calib, missing=tmp_path / "nothere", bomb=files / "bomb.png",
                  photo=files / "photo.png", out=tmp_path / "out", tmp=tmp_path)
    argv = [a.format(**values) for a in argv]
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / ("x.onnx" if argv[0] == "onnx" else "out"))]
    code, out = _run(main, argv, capsys)
    assert code == 1 and message.format(**values) in _one_line_error(out)


def test_a_decompression_bomb_in_a_calibration_folder_is_skipped_and_listed(files, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        images.write_image(folder / f"p{i}.png", (np.random.default_rng(i).random((50, 70, 3)) * 255).astype(np.uint8))
    (folder / "big.png").symlink_to(files / "bomb.png")
    code, out = _run(main, ["calib", "--variant", "test-N", "--images", str(folder), "--count", "4", "--min-count", "3",
                            "--output", str(tmp_path / "set")], capsys)
    assert code == 0 and re.search(r"skipped  big\.png: .*too large to decode safely", out.out)
    assert json.loads((tmp_path / "set" / "manifest.json").read_text())["count"] == 3


# ------------------------------------------------------------ 5. non-finite input is the user's

@pytest.mark.parametrize("name, tensors", [("nan.pt", r"tensors \(1\): conv2\.weight\."), ("inf.pt", r"tensors \(\d+\)")])
def test_non_finite_checkpoints_are_refused_with_the_tensor_names(name, tensors, files, tmp_path, capsys):
    code, out = _run(main, ["onnx", "--variant", "test-K", "--checkpoint", str(files / name),
                            "--output", str(tmp_path / "x.onnx")], capsys)
    line = _one_line_error(out)
    assert code == 1 and "holds NaN or inf weights" in line and re.search(tensors, line)
    assert "Report this" not in out.err and not any(tmp_path.iterdir())


def test_an_infinite_max_depth_is_refused_by_the_api_too():
    with pytest.raises(ZoeExportError, match=r"max_depth= inf: give a finite depth"):
        ModelOptions.resolve(get_variant("test-K"), max_depth=float("inf"))


# ------------------------------------------------------------ 6. messages name what the user typed

@pytest.mark.parametrize("checkpoint, message", [
    ("folder.pt", "is a folder; pass the checkpoint file itself"),
    ("notes.pt", "is not a PyTorch checkpoint"),
    ("missing.pt", "does not exist"),
])
def test_a_checkpoint_that_is_not_one_says_what_it_is(checkpoint, message, files, tmp_path, capsys):
    code, out = _run(main, ["onnx", "--variant", "test-N", "--checkpoint", str(files / checkpoint),
                            "--output", str(tmp_path / "x.onnx")], capsys)
    assert code == 1 and f"--checkpoint {files / checkpoint} {message}" in _one_line_error(out)
    with pytest.raises(ZoeExportError, match=f"checkpoint= {re.escape(str(files / checkpoint))} {message}"):
        load_model("test-N", files / checkpoint)  # the API names its argument


@pytest.mark.parametrize("call, flag, argument", [
    (lambda: ExportOptions(opset=99).validate(), "--opset", "opset="),
    (lambda: load_model("test-N", height=100), "--height/--width", "height/width"),
    (lambda: load_model("test-N", weights="random", seed=-1), "--seed", "seed="),
    (lambda: CalibrationSet("nothere"), "--calib", "calib="),
])
def test_the_cli_speaks_in_flags_and_the_api_in_arguments(call, flag, argument):
    with pytest.raises(ZoeExportError) as api:
        call()
    with command_line(), pytest.raises(ZoeExportError) as cli:
        call()
    assert argument in str(api.value) and flag not in str(api.value) and flag in str(cli.value)


# ------------------------------------------------------------------------------ 7. sizes have bounds

def test_sizes_no_backend_can_run_are_refused_and_far_ones_warned(capsys, tmp_path):
    code, out = _run(main, ["onnx", *RANDOM, "--height", "3200", "--width", "3200", "--output",
                            str(tmp_path / "x.onnx")], capsys)
    assert code == 1 and "too big for test-N" in _one_line_error(out) and "2^31" in out.err
    ModelOptions.resolve(get_variant("test-N"), height=31968)  # a size no other test uses: warned once per run
    ModelOptions.resolve(get_variant("M12-N"), height=768, width=1344)  # the range users ask for: no warning
    warned = capsys.readouterr().err  # the CLI above sent the package log to stderr
    assert "31968x96 is more than 4x the native 64x96" in warned and "768x1344" not in warned
