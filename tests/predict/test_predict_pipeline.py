"""run_predict: every frame gets the depth DepthEngine.predict gives it, batched by model size, through the threads;
bad inputs recorded while the run goes on; --skip-existing; Ctrl-C; live streams; backends whose batch does not fit.

The graphs are tiny stand-ins (tests/fakes/graphs.py: depth = the channel mean), so a run takes a second."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from fakes.graphs import dynamic_graph
from helpers import served, write_video

from zoe_export.errors import ZoeExportError
from zoe_export.io import images
from zoe_export.io.sources import collect_sources, open_source
from zoe_export.predict import Layout, PredictOptions, run_predict
from zoe_export.predict.summary import INTERRUPTED, SOME_FAILED, exit_status
from zoe_export.runtime import DepthEngine

pytestmark = pytest.mark.timeout(120)
cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphs")
    return {"dyn": dynamic_graph(folder / "dyn.onnx", batch=None),
            "frame": dynamic_graph(folder / "frame.onnx", io="frame", batch=None),
            "fixed": dynamic_graph(folder / "fixed.onnx", batch=1)}


def _scene(height, width, seed=0):
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.normal(size=(height, width, 3)), axis=1)
    return ((smooth - smooth.min()) / (np.ptp(smooth) + 1e-9) * 255).astype(np.uint8)


def _inputs(root):
    """Three photos of two sizes (one in a subfolder) and a 5-frame video."""
    images.write_image(root / "a.png", _scene(60, 90, 1))
    images.write_image(root / "b.png", _scene(70, 50, 2))
    images.write_image(root / "sub" / "c.png", _scene(60, 90, 3))
    write_video(root / "clip.avi", [_scene(48, 64, 10 + i) for i in range(5)], fps=8.0)
    return root


def _counting(engine):
    """Record the input shape of every backend call."""
    calls, infer = [], engine.runner.infer

    def counted(feeds):
        calls.append(next(iter(feeds.values())).shape)
        return infer(feeds)

    engine.runner.infer = counted
    return calls


def _run(engine, paths, out, saves=("npy",), **options):
    sources, skipped = collect_sources([str(p) for p in paths])
    return run_predict(engine, sources, PredictOptions(Layout(out, saves), progress=False, **options), skipped)


@pytest.mark.parametrize("graph", ["dyn", "frame"])
def test_every_frame_gets_the_depth_predict_gives_it(graph, graphs, tmp_path):
    root = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    with DepthEngine(graphs[graph]) as engine:
        calls = _counting(engine)
        result = _run(engine, [root], out, ("npy", "video"), batch=3)
        run_calls = list(calls)
        assert [r.status for r in result.records] == ["ok"] * 4 and result.frames == 8 and exit_status(result) == 0
        for name in ("a", "b", "sub/c"):
            expected = engine.predict(images.read_image(root / f"{name}.png"))
            np.testing.assert_array_equal(np.load(out / f"{name}_depth.npy"), expected)
        with open_source(collect_sources([str(root / "clip.avi")])[0][0]) as reader:
            for index, frame in reader:
                np.testing.assert_array_equal(np.load(out / "clip" / f"frame_{index:06d}_depth.npy"),
                                              engine.predict(frame))
    rows = 1 if graph == "frame" else 2  # the host path runs each frame and its mirror image
    assert sum(shape[0] for shape in run_calls) == 8 * rows and len(run_calls) < 8  # batched: fewer calls than frames
    video = cv2.VideoCapture(str(out / "clip_depth.mp4"))
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 5 and video.get(cv2.CAP_PROP_FPS) == 8.0
    assert (int(video.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(video.get(cv2.CAP_PROP_FRAME_WIDTH))) == (48, 64)
    assert not list(out.rglob("*.part*"))


def test_a_batch_holds_frames_of_one_model_size_only(graphs, tmp_path):
    root = tmp_path / "in"
    for i, size in enumerate([(60, 90), (60, 90), (90, 60), (60, 90), (60, 90), (60, 90)]):
        images.write_image(root / f"{i}.png", _scene(*size, i))
    with DepthEngine(graphs["dyn"], flip=False) as engine:
        calls = _counting(engine)
        result = _run(engine, [root], tmp_path / "out", batch=2)
    assert result.frames == 6
    assert [shape[0] for shape in calls] == [2, 1, 2, 1]  # the portrait frame ends a batch and runs alone
    assert len({shape[2:] for shape in calls}) == 2


def test_bad_inputs_are_recorded_and_the_run_goes_on(graphs, tmp_path):
    root = tmp_path / "in"
    images.write_image(root / "good.png", _scene(60, 90))
    (root / "broken.png").write_bytes(b"\x89PNG broken")
    (root / "garbage.mp4").write_bytes(b"not a video" * 100)
    images.write_image(root / "huge.png", _scene(40, 900))  # its keep-aspect model size is outside the graph's range
    (root / "notes.txt").write_text("not an image")
    with DepthEngine(graphs["dyn"]) as engine:
        result = _run(engine, [root], tmp_path / "out", ("mm16", "video"))
    status = {r.source.name.name: (r.status, r.errors) for r in result.records}
    assert status["good"] == ("ok", [])
    assert status["broken"][0] == "failed" and "is not an image Pillow can read" in status["broken"][1][0]
    assert status["garbage"][0] == "failed" and "OpenCV cannot open video" in status["garbage"][1][0]
    assert status["huge"][0] == "failed" and "outside this graph's range" in status["huge"][1][0]
    assert [s.reason for s in result.skipped] == ["unsupported file type .txt"]
    assert exit_status(result) == SOME_FAILED
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good_depth_mm.png"]


def test_skip_existing_computes_only_what_is_missing(graphs, tmp_path):
    root = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    with DepthEngine(graphs["dyn"], flip=False) as engine:
        first = _run(engine, [root], out, ("npy", "color"))
        (out / "b_depth.npy").unlink()
        (out / "clip" / "frame_000003_depth.png").unlink()
        calls = _counting(engine)
        again = _run(engine, [root], out, ("npy", "color"), skip_existing=True)
    assert first.frames == 8 and again.frames == 2 and len(calls) == 2
    assert [r.status for r in again.records] == ["skipped", "ok", "ok", "skipped"]  # a, b, clip, sub/c
    assert again.records[2].existing_frames == 4 and exit_status(again) == 0


def test_a_batch_that_does_not_fit_a_fixed_batch_graph_is_refused_before_reading(graphs, tmp_path):
    images.write_image(tmp_path / "a.png", _scene(60, 90))
    refused = (r"batch= 4 puts 4 frames in each call \(8 inputs: each frame and its mirror image\), and this graph "
               r"has a fixed batch of 1: pass batch= 1")
    with DepthEngine(graphs["fixed"]) as engine, pytest.raises(ZoeExportError, match=refused):
        calls = _counting(engine)
        _run(engine, [tmp_path / "a.png"], tmp_path / "out", batch=4)
    assert not calls and not (tmp_path / "out").exists()
    with DepthEngine(graphs["fixed"], flip=False) as engine:  # one frame per call of a batch-1 graph: fine
        assert _run(engine, [tmp_path / "a.png"], tmp_path / "out", batch=1).frames == 1


def _interrupting(engine, at_calls):
    """Send this process SIGINT (Ctrl-C) during the given backend calls."""
    calls, infer = [], engine.runner.infer

    def interrupted(feeds):
        calls.append(1)
        if len(calls) in at_calls:
            os.kill(os.getpid(), signal.SIGINT)
        return infer(feeds)

    engine.runner.infer = interrupted
    return calls


def test_ctrl_c_finishes_the_frames_in_flight_and_leaves_no_partial_file(graphs, tmp_path):
    video = write_video(tmp_path / "in" / "long.avi", [_scene(48, 64, i) for i in range(40)])
    out = tmp_path / "out"
    with DepthEngine(graphs["dyn"], flip=False) as engine:
        calls = _interrupting(engine, at_calls={3})
        result = _run(engine, [video], out, ("mm16", "video"))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    (record,) = result.records
    assert result.interrupted and not result.aborted and exit_status(result) == INTERRUPTED
    assert record.status == "interrupted" and 3 <= record.frames == len(calls) < 40  # every frame computed is written
    assert len(list((out / "long").glob("*.png"))) == record.frames
    assert not (out / "long_depth.mp4").exists() and "the depth video was not written" in record.errors[-1]
    assert not list(out.rglob("*.part*"))


def test_a_second_ctrl_c_aborts(graphs, tmp_path):
    video = write_video(tmp_path / "in" / "long.avi", [_scene(48, 64, i) for i in range(40)])
    with DepthEngine(graphs["dyn"], flip=False) as engine:
        _interrupting(engine, at_calls={2, 3})
        result = _run(engine, [video], tmp_path / "out", ("mm16",))
    assert result.aborted and result.interrupted and result.frames < 40
    assert not list((tmp_path / "out").rglob("*.part*"))


def test_a_live_stream_runs_until_max_frames_and_keeps_its_video(graphs, tmp_path):
    write_video(tmp_path / "served" / "live.avi", [_scene(48, 64, i) for i in range(12)], fps=6.0)
    with served(tmp_path / "served") as base, DepthEngine(graphs["frame"]) as engine:
        result = _run(engine, [f"{base}/live.avi"], tmp_path / "out", ("video", "mm16"), max_frames=5, batch=2)
    (record,) = result.records
    assert record.source.is_live and record.status == "ok" and record.frames == 5
    video = cv2.VideoCapture(record.outputs["video"])
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 5 and video.get(cv2.CAP_PROP_FPS) == 6.0
    assert len(list((tmp_path / "out").rglob("*_depth_mm.png"))) == 5


def test_a_frame_that_fails_to_write_is_recorded_and_the_others_are_written(graphs, tmp_path, monkeypatch):
    from zoe_export.predict import pipeline

    root = _inputs(tmp_path / "in")
    real = pipeline.write_frame

    def failing(paths, rgb, depth, cloud, colour=None):
        if any("frame_000002" in str(p) for p in paths.values()):
            raise OSError(28, "No space left on device")
        return real(paths, rgb, depth, cloud, colour)

    monkeypatch.setattr(pipeline, "write_frame", failing)
    with DepthEngine(graphs["dyn"]) as engine:
        result = _run(engine, [root], tmp_path / "out", ("npy", "video"))
    clip = next(r for r in result.records if r.source.kind == "video")
    assert clip.status == "partial" and clip.frames == 4 and clip.failed_frames == 1
    assert "frame 2: OSError" in clip.errors[0] and "No space left on device" in clip.errors[0]
    assert cv2.VideoCapture(clip.outputs["video"]).get(cv2.CAP_PROP_FRAME_COUNT) == 5  # a black frame keeps time
