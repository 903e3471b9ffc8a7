"""One conformance suite, run against every runner: PyTorch and ONNX Runtime everywhere, TensorRT where
TensorRT, cuda-python and a GPU are present (collected everywhere, skipped with the reason elsewhere)."""
import numpy as np
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.export import ExportOptions, ExportWrapper, export_onnx
from zoe_export.models import load_model
from zoe_export.runtime import OnnxrtRunner, TorchRunner


@pytest.fixture(scope="module")
def tiny_nk():
    return load_model("test-NK", weights="random")


@pytest.fixture(scope="module")
def onnx_file(tiny_nk, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "nk.onnx"
    export_onnx(tiny_nk, path, ExportOptions(batch=None, verify=False))
    return path


def _torch(tiny_nk, onnx_file):
    wrapper = ExportWrapper(tiny_nk, "float-nchw")
    return TorchRunner(wrapper, [wrapper.input_spec(None)], wrapper.output_names)


def _onnxrt(tiny_nk, onnx_file):
    return OnnxrtRunner(onnx_file)


def _tensorrt(tiny_nk, onnx_file):
    from zoe_export.runtime.trt_runner import TrtRunner
    from zoe_export.trt import BuildOptions, EngineCache, build_engine, probe_environment

    env = probe_environment()
    if env.missing():
        pytest.skip(f"the TensorRT runner needs {', '.join(env.missing())}")
    options = BuildOptions(output=onnx_file.with_name("nk.engine"), batch_profile=(1, 2, 4))
    manifest = build_engine(onnx_file, options, env=env, cache=EngineCache(onnx_file.parent / "cache"))
    return TrtRunner(manifest["path"])


RUNNERS = {"torch": _torch, "onnxruntime": _onnxrt, "tensorrt": _tensorrt}
#: agreement with PyTorch FP32: ONNX Runtime runs the same FP32 maths in another order; TensorRT picks its
#: own FP32 kernels (TF32 off), a looser order still (the FP32 bound on whole images is zoe-bench --parity's)
AGREEMENT_RTOL = {"onnxruntime": 1e-5, "tensorrt": 1e-4}


@pytest.fixture(params=[pytest.param(name, marks=pytest.mark.gpu) if name == "tensorrt" else name
                        for name in sorted(RUNNERS)])
def runner(request, tiny_nk, onnx_file):
    return RUNNERS[request.param](tiny_nk, onnx_file)


def _batch(n=2):
    return np.random.default_rng(0).random((n, 3, 64, 96)).astype(np.float32)


def test_infer_returns_named_numpy_outputs(runner):
    with runner:
        out = runner.infer({"image": _batch()})
    assert set(out) == {"metric_depth", "domain_logits"}
    assert out["metric_depth"].shape == (2, 1, 64, 96) and out["metric_depth"].dtype == np.float32
    assert out["domain_logits"].shape == (2, 2)


def test_lifecycle(runner):
    with pytest.raises(ZoeExportError, match="not active"):
        runner.infer({"image": _batch()})
    runner.activate()
    assert runner.is_active
    runner.infer({"image": _batch(1)})
    runner.deactivate()
    assert not runner.is_active


@pytest.mark.parametrize("feed,match", [
    ({"img": _batch()}, "takes inputs"),
    ({"image": _batch().astype(np.float64)}, "must be float32"),
    ({"image": _batch()[:, :, :32]}, r"must have shape \['N', 3, 64, 96\]"),
])
def test_input_checks(runner, feed, match):
    with runner, pytest.raises(ZoeExportError, match=match):
        runner.infer(feed)


@pytest.mark.parametrize("other", [pytest.param("tensorrt", marks=pytest.mark.gpu), "onnxruntime"])
def test_runners_agree_with_pytorch(other, tiny_nk, onnx_file):
    batch = _batch(3)
    with _torch(tiny_nk, onnx_file) as a, RUNNERS[other](tiny_nk, onnx_file) as b:
        x, y = a.infer({"image": batch}), b.infer({"image": batch})
    np.testing.assert_allclose(x["metric_depth"], y["metric_depth"], rtol=AGREEMENT_RTOL[other], atol=1e-6)
    np.testing.assert_allclose(x["domain_logits"], y["domain_logits"], rtol=AGREEMENT_RTOL[other], atol=1e-5)
