"""DepthEngine: the app-facing API over any runner, with the shared preprocessing around it."""
from pathlib import Path

import numpy as np
import pytest
from fakes.graphs import dynamic_graph

from zoe_export import preprocess
from zoe_export.errors import ZoeExportError
from zoe_export.export import ExportOptions, ExportWrapper, export_onnx
from zoe_export.models import load_model
from zoe_export.runtime import OnnxrtRunner, TorchRunner
from zoe_export.card import ModelCard
from zoe_export.runtime.depth_engine import DepthEngine
from zoe_export.trt import Gpu, TrtEnvironment
from zoe_export.trt import environment as trt_environment
from zoe_export.trt.manifest import FORMAT, write_manifest

IMAGE = (np.random.default_rng(1).random((50, 70, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_n():
    return load_model("test-N", weights="random")


@pytest.fixture(scope="module")
def torch_depth(tiny_n):
    wrapper = ExportWrapper(tiny_n, "float-nchw")
    with TorchRunner(wrapper, [wrapper.input_spec(None)], wrapper.output_names) as runner:
        return preprocess.predict(lambda b: runner.infer({"image": b})["metric_depth"], IMAGE, (64, 96))


def test_an_onnx_file_runs_through_onnx_runtime(tiny_onnx, torch_depth):
    with DepthEngine(tiny_onnx("test-N")) as engine:
        assert isinstance(engine.runner, OnnxrtRunner) and engine.size == (64, 96) and engine.model.batch == 1
        depth = engine.predict(IMAGE)  # batch-1 graph: image and mirror image go one at a time
    assert depth.shape == (50, 70) and depth.dtype == np.float32
    np.testing.assert_allclose(depth, torch_depth, rtol=1e-4)  # ONNX Runtime vs PyTorch FP32 kernels
    assert not engine.runner.is_active


@pytest.mark.slow
def test_uint8_frames_and_a_dynamic_batch(tiny_n, tmp_path, torch_depth):
    path = tmp_path / "u8.onnx"
    export_onnx(tiny_n, path, ExportOptions(batch=None, input_format="uint8-nhwc", verify=False))
    engine = DepthEngine(path)
    card = engine.model  # the graph's card, read from its metadata
    assert (card.variant, card.input_name, card.size, card.input_format, card.batch, card.fit) == (
        "test-N", "image", (64, 96), "uint8-nhwc", None, "stretch")
    depth = engine.predict(IMAGE)  # activates on first use
    engine.close()
    # the model sees the prepared image rounded to uint8: close to the float path, not identical
    assert np.median(np.abs(depth - torch_depth) / torch_depth) < 1e-2


def test_any_runner_works_and_its_input_is_read_from_its_specs(tiny_n, torch_depth):
    wrapper = ExportWrapper(tiny_n, "float-nchw")
    engine = DepthEngine(TorchRunner(wrapper, [wrapper.input_spec(None)], wrapper.output_names))
    assert engine.model == ModelCard.for_input("image", 64, 96, "float-nchw", None)
    np.testing.assert_array_equal(engine.predict(IMAGE), torch_depth)


def test_run_needs_device_arrays_and_tensorrt(tiny_onnx):
    with pytest.raises(ZoeExportError, match="run\\(\\) takes device arrays.*onnxruntime"):
        DepthEngine(tiny_onnx("test-N")).run({"image": np.zeros((1, 3, 64, 96), np.float32)})


def test_unknown_files_are_refused(tmp_path):
    with pytest.raises(ZoeExportError, match=r"no backend opens \.pt.*\.onnx.*\.engine"):
        DepthEngine(tmp_path / "model.pt")
    with pytest.raises(ZoeExportError, match="does not exist.*zoe-export trt"):
        DepthEngine(tmp_path / "missing.engine")


def test_an_engine_is_checked_against_this_machine_before_tensorrt_loads_it(tmp_path, monkeypatch):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not deserialised")
    with pytest.raises(ZoeExportError, match="has no manifest"):
        DepthEngine(engine)
    write_manifest(engine, {"format": FORMAT, "version": 1, "tensorrt_version": "10.12.0.36",
                            "gpu": {"name": "NVIDIA H200", "compute_capability": "9.0"}, "onnx": {"file": "m.onnx"},
                            "model": {"height": "64", "width": "96"}})
    monkeypatch.setattr(trt_environment, "probe_environment",
                        lambda: TrtEnvironment("10.13.2.6", True, Gpu("NVIDIA H200", "9.0")))
    with pytest.raises(ZoeExportError, match="built with TensorRT 10.12.0.36; this is TensorRT 10.13.2.6"):
        DepthEngine(engine)
    monkeypatch.setattr(trt_environment, "probe_environment", lambda: TrtEnvironment(None, False, None))
    with pytest.raises(ZoeExportError, match="running a TensorRT engine needs the tensorrt package"):
        DepthEngine(engine)


def test_apps_and_the_engine_build_need_no_torch(tiny_converted, tiny_onnx, tmp_path):
    """Import, build an engine from a converted graph (TensorRT faked), predict through ONNX Runtime: no torch."""
    import subprocess
    import sys

    tests = Path(__file__).resolve().parents[1]
    code = f"""
import sys
sys.path.insert(0, {str(tests)!r})
import numpy as np
from fakes.tensorrt import FakeHostMemory
from zoe_export.runtime import DepthEngine
from zoe_export.trt import BuildOptions, EngineCache, Gpu, TrtEnvironment, build_engine
from zoe_export.trt import build as build_module
build_module.loader_chain = lambda plan, progress=None: lambda: FakeHostMemory.of(b"engine")
env = TrtEnvironment("10.16.1.11", True, Gpu("NVIDIA H200", "9.0"))
manifest = build_engine({str(tiny_converted("fp16"))!r}, BuildOptions(output={str(tmp_path / "e.engine")!r}), env=env,
                        cache=EngineCache({str(tmp_path / "cache")!r}))
assert manifest["precision"] == "fp16" and manifest["engine_bytes"] == 6, manifest
with DepthEngine({str(tiny_onnx("test-N"))!r}) as engine:
    depth = engine.predict(np.zeros((40, 50, 3), np.uint8))
assert depth.shape == (40, 50)
print(sorted(m for m in ('torch', 'tensorrt', 'cuda') if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_uint8_model_input_is_clipped_not_wrapped():
    from types import SimpleNamespace

    engine = SimpleNamespace(model=SimpleNamespace(input_format="uint8-nhwc"))
    batch = np.array([-0.1, 0.5, 1.0, 1.2], np.float32).reshape(1, 1, 1, 4).repeat(3, axis=1)
    feed = DepthEngine.to_model_input(engine, batch)  # > 1 used to wrap around (1.2 -> 50)
    assert feed.shape == (1, 1, 4, 3) and feed[0, 0, :, 0].tolist() == [0, 128, 255, 255]



def test_prepare_infer_finish_is_predict_in_three_steps(tiny_dynamic, tmp_path):
    frames = [(np.random.default_rng(i).random((40 + 10 * i, 70, 3)) * 255).astype(np.uint8) for i in range(3)]
    with DepthEngine(tiny_dynamic) as engine:
        prepared = [engine.prepare(frame) for frame in frames]
        assert len({p.key for p in prepared}) == 1 and prepared[0].rows.shape[0] == 2  # the frame and its mirror
        outputs = engine.infer_prepared(prepared)  # one call for the three
        for frame, p, output in zip(frames, prepared, outputs):
            np.testing.assert_allclose(engine.finish(p, output), engine.predict(frame), rtol=1e-5, atol=1e-6)
    with DepthEngine(dynamic_graph(tmp_path / "dyn.onnx", batch=None)) as engine:  # model size follows the frame
        wide, square = engine.prepare(np.zeros((40, 90, 3), np.uint8)), engine.prepare(np.zeros((60, 60, 3), np.uint8))
        with pytest.raises(ZoeExportError, match="group the frames by PreparedFrame.key"):
            engine.infer_prepared([wide, square])
