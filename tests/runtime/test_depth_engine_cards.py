"""DepthEngine does what the card says: frame graphs get the frame as it is, dynamic-size graphs the official
keep-aspect size, and sizes a graph cannot take are refused before anything runs (engine and runner alike).

The graphs are tests/fakes/graphs.py's: milliseconds to make, the real export's names, types, symbolic
shapes and card, computing a channel mean (so what reached the graph can be read off the depth)."""
import numpy as np
import pytest
from fakes.graphs import SIZE_RANGE, dynamic_card, dynamic_graph

from zoe_export import preprocess
from zoe_export.errors import ZoeExportError
from zoe_export.runtime import DepthEngine, OnnxrtRunner
from zoe_export.runtime.depth_engine import PREDICT_STAGES
from zoe_export.sizes import SizeRange

RNG = np.random.default_rng(3)
FRAME = RNG.integers(0, 256, (45, 70, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cards")
    #: a dynamic frame graph whose inner model takes 32x32 to 64x96 (fit "minimal" at net 64x96)
    ranged = dynamic_card("frame").with_changes(size_range=SizeRange((32, 32), (64, 96)), fit="minimal")
    return {
        "frame": dynamic_graph(folder / "frame.onnx", io="frame"),
        "frame_flip": dynamic_graph(folder / "frame_flip.onnx", io="frame",
                                    card=dynamic_card("frame").with_changes(flip=True)),
        "frame_fixed": dynamic_graph(folder / "frame_40x50.onnx", io="frame", fixed_size=(40, 50)),
        "frame_ranged": dynamic_graph(folder / "frame_ranged.onnx", io="frame", card=ranged),
        "model": dynamic_graph(folder / "model.onnx", batch=None),
        "model_fixed": dynamic_graph(folder / "model_fixed.onnx", batch=None, size_range=None, fixed_size=(64, 96)),
    }


def _recording(engine):
    """Record the shape of every feed that reaches the graph."""
    shapes, infer = [], engine.runner._infer

    def spy(feed):
        shapes.extend(np.shape(v) for v in feed.values())
        return infer(feed)

    engine.runner._infer = spy
    return shapes


# ------------------------------------------------------------------------------------------- frame graphs

def test_a_frame_graph_gets_the_frame_as_it_is_and_returns_its_depth(graphs):
    with DepthEngine(graphs["frame"]) as engine:
        shapes = _recording(engine)
        timings = {}
        depth = engine.predict(FRAME, timings=timings)
    assert shapes == [(1, 45, 70, 3)]  # no padding, no resize, no flip pair: the raw frame
    assert depth.shape == (45, 70) and depth.dtype == np.float32
    np.testing.assert_allclose(depth, FRAME.astype(np.float32).mean(axis=2), rtol=1e-6)  # nothing changed it
    assert set(timings) == set(PREDICT_STAGES) and all(t >= 0 for t in timings.values())
    assert engine.plan(45, 70).path == "frame graph" and (engine.fit, engine.pad_input, engine.flip) == (
        "stretch", True, False)


@pytest.mark.parametrize("convert", [lambda f: f.astype(np.float32) / 255, lambda f: f.astype(np.uint16) * 257],
                         ids=["float", "uint16"])
def test_other_frame_dtypes_become_uint8_first(graphs, convert):
    depth = DepthEngine(graphs["frame"]).predict(convert(FRAME))
    np.testing.assert_allclose(depth, FRAME.astype(np.float32).mean(axis=2), rtol=1e-6)


@pytest.mark.parametrize("graph, options, match", [
    ("frame", {"flip": True}, "no flip averaging inside.*flip=True"),
    ("frame_flip", {"flip": False}, "averages each frame with its mirror image inside.*without flip=True"),
    ("frame", {"pad_input": False}, "reflect-pads every frame inside"),
    ("frame", {"fit": "letterbox"}, "stretches each frame to 64x96.*dynamic_size="),
    ("frame_ranged", {"fit": "stretch"}, "official keep-aspect size.*without dynamic_size="),
])
def test_options_that_contradict_a_frame_graph_are_refused(graphs, graph, options, match):
    with pytest.raises(ZoeExportError, match=match):
        DepthEngine(graphs[graph], **options)


def test_options_that_repeat_the_frame_graph_are_fine(graphs):
    assert DepthEngine(graphs["frame_flip"], flip=True, pad_input=True).flip is True
    assert DepthEngine(graphs["frame_ranged"], fit="minimal").fit == "minimal"


def test_a_frame_graph_for_one_camera_size(graphs):
    engine = DepthEngine(graphs["frame_fixed"])
    assert engine.predict(FRAME[:40, :50]).shape == (40, 50)
    with pytest.raises(ZoeExportError, match="takes 40x50 frames only.*without frame_size="):
        engine.predict(FRAME[:41, :50])


def test_frame_sizes_a_graph_cannot_take_are_refused_before_anything_runs(graphs):
    engine = DepthEngine(graphs["frame_ranged"])
    with pytest.raises(ZoeExportError, match="too small for the reflection padding"):
        engine.predict(FRAME[:3, :3])
    wide = FRAME[:20, :]  # padded 46x106 -> official model size 32x96: inside 32x32:64x96
    assert engine.plan(*wide.shape[:2]).model_size == preprocess.official_model_size(20, 70, (64, 96)) == (32, 96)
    tall = np.concatenate([FRAME] * 3)[:135, :40]
    official = preprocess.official_model_size(135, 40, (64, 96))
    assert not SizeRange((32, 32), (64, 96)).contains(official)
    with pytest.raises(ZoeExportError, match=rf"a 135x40 frame's model size {official[0]}x{official[1]} is outside "
                                             r"this graph's range 32x32:64x96: export it again .*dynamic_size="):
        engine.predict(tall)
    assert not engine.runner.is_active  # refused before the session even started
    assert engine.predict(wide).shape == (20, 70)


def test_the_onnx_runtime_runner_checks_frames_against_the_card(graphs):
    with OnnxrtRunner(graphs["frame_ranged"]) as runner:
        assert runner.card.io == "frame" and runner.card.size_range == SizeRange((32, 32), (64, 96))
        runner._infer = lambda feed: pytest.fail("the graph ran")
        with pytest.raises(ZoeExportError, match="frame's model size .* is outside this graph's range 32x32:64x96"):
            runner.infer({"frame": np.zeros((1, 135, 40, 3), np.uint8)})
        with pytest.raises(ZoeExportError, match="must be uint8, got float32"):
            runner.infer({"frame": np.zeros((1, 45, 70, 3), np.float32)})


def test_infer_batch_is_for_model_inputs_not_frames(graphs):
    with pytest.raises(ZoeExportError, match=r"this is a frame graph: it takes uint8 \[1, H, W, 3\] RGB frames of any "
                                             r"size. Call predict\(frame\)"):
        DepthEngine(graphs["frame"]).infer_batch(np.zeros((1, 3, 64, 96), np.float32))


# ------------------------------------------------------------------------------------------ model graphs

@pytest.mark.parametrize("frame", [(45, 70), (40, 130), (90, 60)], ids=["landscape", "wide", "portrait"])
def test_a_dynamic_model_graph_runs_each_frame_at_its_official_keep_aspect_size(graphs, frame):
    image = np.ascontiguousarray(np.resize(FRAME, (*frame, 3)))
    official = preprocess.official_model_size(*frame, (64, 96))
    assert SIZE_RANGE.contains(official)
    with DepthEngine(graphs["model"]) as engine:
        shapes = _recording(engine)
        depth = engine.predict(image)
    assert engine.fit == "minimal" and engine.plan(*frame).model_size == official
    assert shapes == [(2, 3, *official)]  # the frame and its mirror image, at the frame's own model size
    mean = lambda b: b.mean(axis=1, keepdims=True)  # noqa: E731  (what the fake graph computes)
    np.testing.assert_allclose(depth, preprocess.predict(mean, image, official), rtol=1e-5, atol=1e-6)


def test_the_card_default_size_with_fit_stretch(graphs):
    with DepthEngine(graphs["model"], fit="stretch", flip=False) as engine:
        shapes = _recording(engine)
        engine.predict(np.resize(FRAME, (40, 130, 3)))
    assert shapes == [(1, 3, 64, 96)]


def test_model_sizes_a_graph_cannot_take_are_refused_before_anything_runs(graphs):
    engine = DepthEngine(graphs["model"])
    h, w = preprocess.official_model_size(40, 400, (64, 96))
    assert h <= 128 < w
    with pytest.raises(ZoeExportError, match=rf"a 40x400 frame's model size {h}x{w} is outside this graph's range "
                                             rf"32x32:128x192: export it again with zoe-export onnx dynamic_size= "
                                             rf"covering it \(e.g. dynamic_size= 32x32:128x{w}\)"):
        engine.predict(np.zeros((40, 400, 3), np.uint8))
    assert not engine.runner.is_active
    with pytest.raises(ZoeExportError, match="fit= minimal runs each frame at its own keep-aspect size, and this "
                                             "graph takes 64x96 only: .* dynamic_size="):
        DepthEngine(graphs["model_fixed"], fit="minimal")  # refused when the engine is made, not per frame


@pytest.mark.parametrize("batch, match", [
    (np.zeros((1, 4, 64, 96), np.float32), r"takes \(B, 3, H, W\) float32.*from 32x32 to 128x192.*got float32 \[1, 4"),
    (np.zeros((1, 3, 64, 96), np.uint8), r"takes \(B, 3, H, W\) float32.*got uint8"),
    (np.zeros((1, 64, 96, 3), np.float32), r"takes \(B, 3, H, W\) float32.*got float32 \[1, 64, 96, 3\]"),
    (np.zeros((1, 3, 64, 224), np.float32), r"input size 64x224 is outside this graph's range 32x32:128x192"),
    (np.zeros((1, 3, 64, 100), np.float32), r"input size 64x100: this graph takes model sizes that are multiples of"),
])
def test_infer_batch_checks_layout_dtype_and_size_first(graphs, batch, match):
    engine = DepthEngine(graphs["model"])
    with pytest.raises(ZoeExportError, match=match):
        engine.infer_batch(batch)
    assert not engine.runner.is_active


def test_the_onnx_runtime_runner_checks_a_dynamic_graph_against_its_range(graphs):
    with OnnxrtRunner(graphs["model"]) as runner:
        assert runner.card.size_range == SIZE_RANGE
        assert runner.infer({"image": np.ones((1, 3, 32, 192), np.float32)})["metric_depth"].shape == (1, 1, 32, 192)
        runner._infer = lambda feed: pytest.fail("the graph ran")
        with pytest.raises(ZoeExportError, match=r"input 'image' size 32x224 is outside this graph's range "
                                                 r"32x32:128x192: export it again .*dynamic_size= 32x32:128x224"):
            runner.infer({"image": np.ones((1, 3, 32, 224), np.float32)})
    with OnnxrtRunner(graphs["model"], card=dynamic_card().with_changes(size_range=SizeRange((32, 32), (32, 64)))) as r:
        with pytest.raises(ZoeExportError, match="outside this graph's range 32x32:32x64"):  # the card given wins
            r.infer({"image": np.ones((1, 3, 32, 96), np.float32)})


# ------------------------------------------------------------------------------------------ device path, eval

class _DeviceRunner(OnnxrtRunner):
    """ONNX Runtime with a stand-in for TensorRT's zero-copy run(), recording what reached it."""

    def run(self, inputs, outputs=None, stream=None):
        self.ran = inputs
        return {}


def test_run_checks_device_inputs_against_the_card_first(graphs):
    from types import SimpleNamespace

    engine = DepthEngine(_DeviceRunner(graphs["model"]), model=dynamic_card())
    with pytest.raises(ZoeExportError, match="input 'image' size 64x224 is outside this graph's range 32x32:128x192"):
        engine.run({"image": SimpleNamespace(shape=(1, 3, 64, 224))})
    assert not engine.runner.is_active and not hasattr(engine.runner, "ran")
    engine.run({"image": SimpleNamespace(shape=(1, 3, 64, 160))})
    assert engine.runner.ran["image"].shape == (1, 3, 64, 160)
    engine.close()


def test_eval_runs_a_dynamic_graph_at_the_unpadded_keep_aspect_size_and_a_frame_graph_as_it_is(graphs):
    from zoe_export.bench.eval_run import model_resolution_predict

    image = np.ascontiguousarray(np.resize(FRAME, (40, 130, 3)))
    with DepthEngine(graphs["model"]) as engine:
        shapes = _recording(engine)
        depth = model_resolution_predict(engine)(image)
    size = preprocess.minimal_size(40, 130, (64, 96))
    assert shapes == [(2, 3, *size)] and depth.shape == size  # at the model's resolution, as the protocol wants
    with DepthEngine(graphs["frame"]) as engine:
        np.testing.assert_array_equal(model_resolution_predict(engine)(image), engine.predict(image))
