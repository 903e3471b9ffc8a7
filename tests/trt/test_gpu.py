"""Real TensorRT builds of the tiny graphs, run through DepthEngine (skipped without TensorRT and a GPU).

What CPU tests cannot show: TensorRT parses our graphs, honours the plan, and the engines agree
with ONNX Runtime within each precision's bound.
"""
import numpy as np
import pytest

from zoe_export.compare.metrics import depth_metrics
from zoe_export.registry import get_precision
from zoe_export.runtime import DepthEngine
from zoe_export.trt import (
    BuildOptions,
    EngineCache,
    build_engine,
    probe_environment,
    read_manifest,
)

pytestmark = pytest.mark.gpu
IMAGE = (np.random.default_rng(2).random((60, 80, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def env():
    env = probe_environment()
    if env.missing():
        pytest.skip(f"real TensorRT builds need {', '.join(env.missing())}")
    return env


@pytest.mark.parametrize("precision, legacy", [(None, False), ("fp16", False), ("fp16", True)])
def test_engines_agree_with_onnx_runtime(precision, legacy, env, tiny_onnx, tmp_path):
    if legacy and env.tensorrt.major >= 11:
        pytest.skip("--legacy-precision exists on TensorRT 10 only")
    options = BuildOptions(precision=precision, legacy_precision=legacy, output=tmp_path / "n.engine")
    manifest = build_engine(tiny_onnx("test-N"), options, env=env, cache=EngineCache(tmp_path / "cache"))
    assert read_manifest(tmp_path / "n.engine")["engine_sha256"] == manifest["engine_sha256"]
    with DepthEngine(tiny_onnx("test-N")) as reference, DepthEngine(tmp_path / "n.engine") as engine:
        expected, got = reference.predict(IMAGE), engine.predict(IMAGE)
    metrics = depth_metrics(got, expected)
    bound = get_precision(precision or "fp32").tolerance
    assert np.isfinite(got).all() and metrics["rel"] <= max(bound.max_rel, 1e-4)  # TensorRT's FP32 kernels: 1e-4


def test_run_on_device_arrays_with_cuda_graphs(env, tiny_dynamic, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this torch build has no CUDA")
    build_engine(tiny_dynamic, BuildOptions(output=tmp_path / "d.engine"), env=env, cache=EngineCache(tmp_path / "c"))
    x = torch.rand(2, 3, 64, 96, device="cuda")
    with DepthEngine(tmp_path / "d.engine", cuda_graph=True) as engine:
        host = engine.infer_batch(x.cpu().numpy())
        first = torch.as_tensor(engine.run({"image": x})["metric_depth"], device="cuda").clone()
        again = torch.as_tensor(engine.run({"image": x})["metric_depth"], device="cuda").clone()  # replayed
    np.testing.assert_allclose(first.cpu().numpy(), host, rtol=1e-5)
    torch.testing.assert_close(first, again)
