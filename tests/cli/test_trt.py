"""``zoe-export trt``: refusals before TensorRT is touched, and the report of a (faked) build."""
import pytest
from fakes.graphs import dynamic_graph

import zoe_export.trt as trt_package
from zoe_export.cli.main import main
from zoe_export.trt import Gpu, TrtEnvironment
from zoe_export.trt import build as build_module

H200 = TrtEnvironment("10.13.2.6", True, Gpu("NVIDIA H200", "9.0"))


@pytest.fixture
def machine(monkeypatch):
    """Pretend this machine has the given TensorRT environment; returns the setter."""
    def use(env):
        monkeypatch.setattr(trt_package, "probe_environment", lambda: env)
    return use


def _error(argv, capsys):
    capsys.readouterr()  # what fixtures printed
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_no_tensorrt_stops_with_one_line_naming_the_install(tiny_onnx, tmp_path, capsys, machine):
    machine(TrtEnvironment(None, False, None))
    err = _error(["trt", "--onnx", str(tiny_onnx("test-N")), "--output", str(tmp_path / "m.engine")], capsys)
    assert err.count("\n") == 1 and "pip install 'zoe-export[trt]' --extra-index-url https://pypi.nvidia.com" in err
    assert not (tmp_path / "m.engine").exists()


def test_no_gpu_stops_too(tiny_onnx, capsys, machine):
    machine(TrtEnvironment("10.13.2.6", True, None))
    assert "needs a CUDA GPU" in _error(["trt", "--onnx", str(tiny_onnx("test-N"))], capsys)


def test_legacy_precision_on_tensorrt_11(tiny_onnx, capsys, machine):
    machine(TrtEnvironment("11.0.0.7", True, Gpu("NVIDIA H200", "9.0")))
    err = _error(["trt", "--onnx", str(tiny_onnx("test-N")), "--fp16", "--legacy-precision"], capsys)
    assert "removed the builder's precision flags" in err and "Drop --legacy-precision" in err


@pytest.mark.parametrize("extra, message", [
    (["--int8"], "needs a calibration set: --calib DIR"),
    (["--fp16", "--int8"], "--fp16 and --int8 exclude each other"),
    (["--legacy-precision"], "add --fp16 or --int8"),
    (["--batch-profile", "1:2:4"], "fixed batch"),
])
def test_refusals_before_any_work(extra, message, tiny_onnx, capsys, machine):
    machine(H200)
    assert message in _error(["trt", "--onnx", str(tiny_onnx("test-N")), *extra], capsys)


def test_fp16_of_an_int8_graph(tiny_converted, capsys, machine):
    machine(H200)
    err = _error(["trt", "--onnx", str(tiny_converted("int8")), "--fp16"], capsys)
    assert "already an INT8 graph" in err and "never converted twice" in err


def test_conversion_flags_on_a_converted_graph_are_refused(tiny_converted, capsys, machine):
    machine(H200)
    err = _error(["trt", "--onnx", str(tiny_converted("int8")), "--int8", "--max-rel-drift", "0.01"], capsys)
    assert "--max-rel-drift" in err and "Drop them" in err


def test_a_bad_batch_profile_is_an_argument_error(tiny_onnx, capsys):
    with pytest.raises(SystemExit) as info:
        main(["trt", "--onnx", str(tiny_onnx("test-N")), "--batch-profile", "1-2-4"])
    assert info.value.code == 2 and "MIN:OPT:MAX" in capsys.readouterr().err


def test_a_build_reports_the_engine(tiny_converted, tmp_path, capsys, machine, monkeypatch):
    machine(H200)
    monkeypatch.setattr(build_module, "loader_chain", lambda plan, progress=None: lambda: b"engine")
    argv = ["trt", "--onnx", str(tiny_converted("fp16")), "--output", str(tmp_path / "e" / "n_fp16.engine"),
            "--cache-dir", str(tmp_path / "cache")]
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"engine   {tmp_path / 'e' / 'n_fp16.engine'} (0 MB): fp16, strongly-typed, built in" in out
    assert "NVIDIA H200 (compute capability 9.0), TensorRT 10.13.2.6" in out
    assert "input    image [1, 3, 64, 96] float32" in out and "fp16 islands layer_norm" in out
    assert main(argv) == 0 and "reused" in capsys.readouterr().out


def test_a_build_that_converts_first_reports_the_conversion(tiny_onnx, tmp_path, capsys, machine, monkeypatch):
    machine(H200)
    monkeypatch.setattr(build_module, "loader_chain", lambda plan, progress=None: lambda: b"engine")
    argv = ["trt", "--onnx", str(tiny_onnx("test-N")), "--fp16", "--backend", "builtin",
            "--output", str(tmp_path / "n_fp16.engine"), "--cache-dir", str(tmp_path / "cache")]
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "n_fp16.onnx.json").is_file()  # the converted graph beside the engine: its figures printed
    assert out.index("parity   fp16 passed") < out.index(f"engine   {tmp_path / 'n_fp16.engine'}")
    assert main(argv) == 0 and "parity" not in capsys.readouterr().out  # reused: nothing was converted


def test_an_engine_output_that_is_a_folder_is_refused(tiny_onnx, tmp_path, capsys, machine):
    machine(H200)
    (tmp_path / "m.engine").mkdir()
    err = _error(["trt", "--onnx", str(tiny_onnx("test-N")), "--fp16", "--output", str(tmp_path / "m.engine")], capsys)
    assert "is an existing folder" in err and not any((tmp_path / "m.engine").iterdir())


# -- --size-profile --------------------------------------------------------------------------------------------
def test_a_size_profile_for_a_fixed_size_graph_is_refused(tiny_onnx, capsys, machine):
    machine(H200)
    err = _error(["trt", "--onnx", str(tiny_onnx("test-N")), "--size-profile", "32x32:64x96:128x128"], capsys)
    assert err.startswith("error: --size-profile 32x32:64x96:128x128: ") and err.count("\n") == 1
    assert "takes one input size" in err and "zoe-export onnx --dynamic-size" in err and "drop --size-profile" in err


@pytest.mark.parametrize("text, message", [
    ("320x320", "write it as MIN_HxMIN_W:OPT_HxOPT_W:MAX_HxMAX_W"),
    ("64x64:32x32:128x128", "at most the next one"),
    ("32x32:64x100:128x128", "must be a multiple of 32 (e.g. --size-profile 32x32:64x128:128x128)"),
    ("32x32:64x96:1024x1024", "MAX 1024x1024 is outside the model sizes"),
])
def test_bad_size_profiles_are_one_line_naming_the_flag(text, message, tmp_path, capsys, machine):
    machine(TrtEnvironment(None, False, None))  # refused before the machine is asked
    err = _error(["trt", "--onnx", str(dynamic_graph(tmp_path / "g.onnx")), "--size-profile", text], capsys)
    assert err.startswith("error: --size-profile ") and text in err and message in err and err.count("\n") == 1


def test_a_dynamic_size_build_reports_its_profiles(tmp_path, capsys, machine, monkeypatch):
    machine(H200)
    monkeypatch.setattr(build_module, "loader_chain", lambda plan, progress=None: lambda: b"engine")
    graph = dynamic_graph(tmp_path / "g.onnx", batch=None)
    argv = ["trt", "--onnx", str(graph), "--output", str(tmp_path / "g.engine"), "--cache-dir", str(tmp_path / "c")]
    capsys.readouterr()
    assert main([*argv, "--size-profile", "32x64:64x96:96x160", "--batch-profile", "1:2:4"]) == 0
    out = capsys.readouterr().out
    assert "input    image [N, 3, N, N] float32, profile batch 1:2:4, size 32x64:64x96:96x160" in out
    assert "outputs  metric_depth [N, 1, N, N] float32" in out
    assert main([*argv, "--rebuild"]) == 0  # no --size-profile: the default, said
    captured = capsys.readouterr()
    assert "profile batch 1:2:8, size 32x32:64x96:128x192" in captured.out
    assert "the engine's size profile is 32x32:64x96:128x192 (MIN:OPT:MAX height x width, the default; " \
           "--size-profile sets another)" in captured.err


def test_the_help_names_the_size_profile(capsys):
    with pytest.raises(SystemExit):
        main(["trt", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--size-profile MIN:OPT:MAX" in out and "multiples of 32 within the graph's range" in out
    assert "240x240:720x1280:1920x1920" in out
