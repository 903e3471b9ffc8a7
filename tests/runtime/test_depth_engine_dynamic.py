"""DepthEngine on real dynamic-size and frame graphs of test-N, against the PyTorch model and the official recipe.

One dynamic-size export per session (about 30 s, verification left to tests/export); tests/cli/test_bench_sizes.py
reuses the same file, and the frame graphs here (about 15 s each)."""
import numpy as np
import pytest

from zoe_export import preprocess
from zoe_export.errors import ZoeExportError
from zoe_export.runtime import DepthEngine, TorchRunner
from zoe_export.tensors import TensorSpec

from helpers import DYNAMIC_RANGE as RANGE, shared_export

pytestmark = pytest.mark.slow

NET = (64, 96)  # test-N's native size: the size the keep-aspect rule aims at
FRAMES = [(50, 70), (40, 130), (120, 60)]  # landscape near native, wide, portrait: three different model sizes
#: ONNX Runtime against PyTorch FP32 on the same maths in another order (the conformance suite's bound, per pixel
#: after the host's resize back)
RTOL = 1e-4

@pytest.fixture(scope="module")
def torch_n():
    """The PyTorch model the graph was exported from, run at any size (eager: the official per-size tables)."""
    from zoe_export.export import ExportWrapper
    from zoe_export.models import load_model

    wrapper = ExportWrapper(load_model("test-N", weights="random", dynamic_size=RANGE), "float-nchw")
    runner = TorchRunner(wrapper, [TensorSpec("image", np.float32, (None, 3, None, None))], wrapper.output_names)
    with runner:
        yield lambda batch: runner.infer({"image": batch})["metric_depth"]


def _frame(size, seed=0):
    """A smooth synthetic photo (depth maps of noise are noise)."""
    rng = np.random.default_rng([seed, *size])
    smooth = np.cumsum(np.cumsum(rng.normal(size=(*size, 3)), axis=0), axis=1)
    return ((smooth - smooth.min()) / np.ptp(smooth) * 255).astype(np.uint8)


def test_each_frame_runs_at_its_official_keep_aspect_size_as_pytorch_does(dynamic_n, torch_n):
    sizes = set()
    with DepthEngine(dynamic_n) as engine:
        assert engine.model.size_range.text == RANGE and engine.size == NET and engine.fit == "minimal"
        for size in FRAMES:
            frame = _frame(size)
            model_size = engine.plan(*size).model_size
            assert model_size == preprocess.official_model_size(*size, NET)
            sizes.add(model_size)
            depth = engine.predict(frame)
            expected = preprocess.predict(torch_n, frame, model_size)  # the official recipe at the frame's size
            assert depth.shape == size
            np.testing.assert_allclose(depth, expected, rtol=RTOL)
            stretched = preprocess.predict(torch_n, frame, NET)  # what a fixed-size graph computes
            if model_size != NET:
                assert np.median(np.abs(depth - stretched) / stretched) > 10 * RTOL  # the test tells them apart
    assert len(sizes) == 3


@pytest.mark.skipif("minimal" not in preprocess.FITS, reason="preprocess.predict(fit='minimal') is being added to "
                                                             "zoe_export/preprocess.py by the frame-graph work")
def test_predict_matches_the_official_minimal_recipe(dynamic_n, torch_n):
    with DepthEngine(dynamic_n) as engine:
        for size in FRAMES:
            frame = _frame(size, seed=1)
            np.testing.assert_allclose(engine.predict(frame), preprocess.predict(torch_n, frame, NET, fit="minimal"),
                                       rtol=RTOL)


def test_frames_outside_the_range_are_refused_naming_the_range_and_the_option(dynamic_n):
    engine = DepthEngine(dynamic_n)
    h, w = preprocess.official_model_size(40, 400, NET)
    with pytest.raises(ZoeExportError, match=rf"a 40x400 frame's model size {h}x{w} is outside this graph's range "
                                             rf"{RANGE}: export it again with zoe-export onnx dynamic_size= covering "
                                             rf"it \(e.g. dynamic_size= 32x32:192x{w}\)"):
        engine.predict(_frame((40, 400)))
    assert not engine.runner.is_active  # nothing ran
    with pytest.raises(ZoeExportError, match=r"takes \(B, 3, H, W\) float32 RGB in \[0, 1\].*from 32x32 to 192x256"):
        engine.infer_batch(np.zeros((1, 64, 96, 3), np.uint8))


def test_the_runner_refuses_out_of_range_feeds_before_the_session_runs(dynamic_n):
    from zoe_export.runtime import OnnxrtRunner

    with OnnxrtRunner(dynamic_n) as runner:
        out = runner.infer({"image": np.full((1, 3, 64, 160), 0.5, np.float32)})
        assert out["metric_depth"].shape == (1, 1, 64, 160)
        runner._infer = lambda feed: pytest.fail("the session ran")
        with pytest.raises(ZoeExportError, match="input 'image' size 64x288 is outside this graph's range"):
            runner.infer({"image": np.zeros((1, 3, 64, 288), np.float32)})


def test_a_frame_graph_with_flip_computes_what_the_host_path_computes(tmp_path_factory, dynamic_n):
    frame_graph = shared_export(tmp_path_factory, "n_dyn_frame_flip.onnx", io="frame", input_format="uint8-nhwc",
                                flip=True)
    with DepthEngine(frame_graph) as graph, DepthEngine(dynamic_n) as host:
        assert graph.is_frame_graph and graph.flip and graph.fit == "minimal"
        for size in FRAMES:
            frame = _frame(size)
            assert graph.plan(*size).computes == host.plan(*size).computes
            np.testing.assert_allclose(graph.predict(frame), host.predict(frame), rtol=RTOL)
        with pytest.raises(ZoeExportError, match="averages each frame with its mirror image inside"):
            DepthEngine(frame_graph, flip=False)


def test_a_fixed_size_frame_graph_stretches_as_the_fixed_host_path_does(tmp_path_factory, tiny_onnx):
    frame_graph = shared_export(tmp_path_factory, "n_frame_flip.onnx", dynamic_size=None, io="frame",
                                input_format="uint8-nhwc", flip=True)
    with DepthEngine(frame_graph) as graph, DepthEngine(tiny_onnx("test-N")) as host:
        assert graph.fit == "stretch" and graph.plan(40, 130).model_size == NET
        frame = _frame((40, 130))
        np.testing.assert_allclose(graph.predict(frame), host.predict(frame), rtol=RTOL)
