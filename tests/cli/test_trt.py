"""``zoe-export trt``: refusals before TensorRT is touched, and the report of a (faked) build."""
import pytest

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
