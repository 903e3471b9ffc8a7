"""One conformance suite, run against every registered backend: PyTorch and ONNX Runtime everywhere, TensorRT where
TensorRT, cuda-python and a GPU are present (collected everywhere, skipped with the reason elsewhere). A backend
added to the registry (zoe_export.registry.backends) is picked up here without a change to this file."""
import numpy as np
import pytest

from zoe_export._lazy import resolve
from zoe_export.errors import ZoeExportError
from zoe_export.registry import list_backends

pytestmark = pytest.mark.slow  # the module's graph: a test-NK export of about 10 s


def _open(backend, onnx_file):
    """The backend's runner on the test-NK model (seeded random weights, dynamic batch)."""
    try:
        backend.require()
        if backend.opens == "variant":
            return backend.open("test-NK", weights="random")
        if ".onnx" in backend.suffixes:
            return backend.open(onnx_file)
        if backend.from_onnx is None:
            pytest.fail(f"backend {backend.name} opens {backend.suffixes}: give it from_onnx so it can be tested")
        made = resolve(backend.from_onnx)(onnx_file, onnx_file.parent / backend.name, batch_profile=(1, 2, 4))
    except ZoeExportError as exc:
        if backend.device == "cpu":
            raise
        pytest.skip(f"the {backend.label} runner: {exc}")
    return backend.open(made)


#: agreement with PyTorch FP32: ONNX Runtime runs the same FP32 maths in another order; TensorRT picks its
#: own FP32 kernels (TF32 off), a looser order still (the FP32 bound on whole images is zoe-bench --parity's)
AGREEMENT_RTOL = {"onnxruntime": 1e-5}
DEFAULT_RTOL = 1e-4
BACKENDS = [pytest.param(b, id=b.name, marks=[pytest.mark.gpu] if b.device != "cpu" else []) for b in list_backends()]


@pytest.fixture(params=BACKENDS)
def runner(request, onnx_file):
    return _open(request.param, onnx_file)


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


@pytest.mark.parametrize("other", [b for b in BACKENDS if b.values[0].name != "torch"])
def test_runners_agree_with_pytorch(other, onnx_file):
    from zoe_export.registry import get_backend

    batch = _batch(3)
    rtol = AGREEMENT_RTOL.get(other.name, DEFAULT_RTOL)
    with _open(get_backend("torch"), onnx_file) as a, _open(other, onnx_file) as b:
        x, y = a.infer({"image": batch}), b.infer({"image": batch})
    np.testing.assert_allclose(x["metric_depth"], y["metric_depth"], rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(x["domain_logits"], y["domain_logits"], rtol=rtol, atol=1e-5)
