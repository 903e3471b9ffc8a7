"""zoe-export predict: any backend over files, folders and videos, the summary, point clouds, exit statuses, and every
mistake refused in one line before anything slow (or recorded and skipped, where it belongs to one input)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from fakes.graphs import dynamic_graph
from helpers import write_video

from zoe_export.cli.main import main
from zoe_export.geometry import read_ply
from zoe_export.io import images

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphs")
    return {"frame": dynamic_graph(folder / "frame.onnx", io="frame", batch=None),
            "fixed": dynamic_graph(folder / "fixed.onnx", batch=1),
            "static": dynamic_graph(folder / "static.onnx", batch=None, size_range=None, fixed_size=(64, 96))}


def _photo(path, height=60, width=90, seed=0):
    rng = np.random.default_rng(seed)
    images.write_image(path, (rng.random((height, width, 3)) * 200 + 30).astype(np.uint8))  # no zero depth
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.slow
def test_image_still_works_with_the_pytorch_reference(tmp_path, capsys):
    _photo(tmp_path / "frame.png", 90, 120)
    rc = main(["predict", "--variant", "test-N", "--random-weights", "--image", str(tmp_path / "frame.png"),
               "--output", str(tmp_path / "out"), "--no-progress"])
    assert rc == 0
    summary = json.loads((tmp_path / "out" / "predict_summary.json").read_text())
    assert summary["model"]["variant"] == "test-N" and summary["model"]["weights"] == "random"
    (record,) = summary["inputs"]
    assert record["status"] == "ok" and record["frames"] == 1
    depth = images.read_depth_png16(tmp_path / "out" / "frame_depth_mm.png")
    assert depth.shape == (90, 120)
    assert abs(float(np.median(depth)) - record["depth_m"]["median"]) < 2e-3  # 1 mm quantisation
    assert sorted(record["outputs"]) == ["color", "mm16", "panel"]
    assert all((tmp_path / "out" / f"frame{suffix}").stat().st_size for suffix in ("_depth.png", "_panel.png"))
    assert "RANDOM" in capsys.readouterr().out


def test_a_mixed_list_through_an_onnx_graph_with_point_clouds(graphs, tmp_path, capsys):
    plyfile = pytest.importorskip("plyfile")
    room = np.full((60, 90, 3), 100, np.uint8)
    room[:, 45:] = 150  # two flat walls: the mesh is cut only where they meet
    images.write_image(tmp_path / "in" / "room.png", room)
    write_video(tmp_path / "in" / "walk.avi", [np.full((48, 64, 3), 40 + 10 * i, np.uint8) for i in range(4)])
    out = tmp_path / "out"
    rc = main(["predict", str(tmp_path / "in" / "room.png"), str(tmp_path / "in" / "walk.avi"), "--onnx",
               str(graphs["frame"]), "--save", "npy,ply,mesh,video", "--fx", "80", "--fy", "70", "--cx", "45", "--cy",
               "30", "--output", str(out), "--batch", "2", "--no-progress"])
    assert rc == 0
    summary = json.loads((out / "predict_summary.json").read_text())
    assert [(r["name"], r["status"], r["frames"]) for r in summary["inputs"]] == [("room", "ok", 1), ("walk", "ok", 4)]
    assert all(0 < r["seconds"] <= summary["seconds"] for r in summary["inputs"])
    assert set(summary["stages_s"]) == {"decode", "preprocess", "compute", "postprocess", "encode"}
    assert summary["frames_per_s"] > 0 and summary["compute_frames_per_s"] >= summary["frames_per_s"]
    assert (out / "walk_depth.mp4").is_file() and len(list((out / "walk").glob("*[0-9].ply"))) == 4
    depth = np.load(out / "room_depth.npy")
    vertex = plyfile.PlyData.read(str(out / "room.ply"))["vertex"]
    assert len(vertex) == 60 * 90  # every pixel has depth
    x, y, z = (np.asarray(vertex[k]) for k in "xyz")
    u, v = np.meshgrid(np.arange(90), np.arange(60))
    np.testing.assert_array_equal(z, depth.ravel())
    np.testing.assert_allclose(x, (u.ravel() - 45) / 80 * z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y, (v.ravel() - 30) / 70 * z, rtol=1e-5, atol=1e-6)
    mesh = read_ply(out / "room_mesh.ply")
    assert len(mesh.vertices) == 60 * 90 and 0 < len(mesh.faces) < 2 * 59 * 89  # cut where the depth jumps
    assert np.ptp(mesh.vertices[mesh.faces][..., 2], axis=1).max() == 0  # no face spans the two walls
    assert "no camera given" not in capsys.readouterr().err


@pytest.mark.parametrize("graph", ["frame", "static"])
def test_openvino_runs_the_same_depth_as_onnx_runtime(graph, graphs, tmp_path, capsys):
    pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install 'zoe-export[openvino]')")
    _photo(tmp_path / "room.png")
    for flag, out in (("--onnx", "ort"), ("--openvino", "ov")):
        assert main(["predict", str(tmp_path / "room.png"), flag, str(graphs[graph]), "--save", "npy", "--output",
                     str(tmp_path / out), "--no-progress"]) == 0
    assert "on openvino (f32)" in capsys.readouterr().out  # what the compiled model computes in, said
    ort, ov = (np.load(tmp_path / out / "room_depth.npy") for out in ("ort", "ov"))
    np.testing.assert_allclose(ov, ort, rtol=1e-5)
    summary = json.loads((tmp_path / "ov" / "predict_summary.json").read_text())
    assert summary["backend"] == "openvino"


def test_some_inputs_failing_exits_3_with_the_rest_written(graphs, tmp_path, capsys):
    _photo(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    rc = main(["predict", str(tmp_path / "in"), "--onnx", str(graphs["frame"]), "--output", str(tmp_path / "out"),
               "--save", "npy", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 3 and "failed   " in out and "bad.jpg" in out
    summary = json.loads((tmp_path / "out" / "predict_summary.json").read_text())
    assert summary["exit_status"] == 3 and [r["status"] for r in summary["inputs"]] == ["failed", "ok"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good_depth.npy", "predict_summary.json"]


@pytest.mark.parametrize("argv, message", [
    (["--onnx", "{frame}"], "give the inputs"),
    (["{photo}"], "name one backend: --onnx M.onnx, --engine E.engine, --openvino M.onnx|M.xml, or --variant V"),
    (["{photo}", "--onnx", "{frame}", "--variant", "test-N"], "(got --onnx and --variant)"),
    (["{photo}", "--onnx", "{frame}", "--checkpoint", "x.pt"], "--checkpoint describe a PyTorch model (--variant)"),
    (["{photo}", "--onnx", "{frame}", "--fx", "500"], "--fx --fy --cx --cy go together: --fy --cx --cy missing"),
    (["{photo}", "--onnx", "{frame}", "--fov", "60", "--camera", "c.json"], "--fov and --camera each give the camera"),
    (["{photo}", "--onnx", "{frame}", "--save", "color,bogus"], "--save 'color,bogus': choose from color,mm16,npy"),
    (["{photo}", "--onnx", "{frame}", "--save", "ply", "--camera", "{tmp}/no.json"], "camera file"),
    (["{tmp}/missing.png", "--onnx", "{frame}"], "missing.png does not exist"),
    (["{notes}", "--onnx", "{frame}"], "nothing to read: {notes}: unsupported file type .txt"),
    (["{empty}", "--onnx", "{frame}"], "nothing to read: {empty}: folder has no images or videos"),
    (["{broken}", "--onnx", "{frame}"], "no input could be read: {broken}: {broken} is not an image Pillow can read"),
    (["{photo}", "--onnx", "{fixed}", "--batch", "4"], "this graph has a fixed batch of 1: pass --batch 1"),
    (["{photo}", "--onnx", "{frame}", "--save", "mm16,ply", "--fx", "80", "--fy", "80", "--cx", "900", "--cy", "30"],
     "principal point (900, 30) lies outside the 60x90 (HxW) image"),
    (["{photo}", "--onnx", "{frame}", "--output", "{photo}"], "is a file, and this output is a folder"),
    (["{photo}", "--onnx", "{static}", "--fit", "minimal"],
     "--fit minimal runs each frame at its own keep-aspect size"),
    (["{photo}", "--engine", "{tmp}/missing.engine"], "TensorRT file {tmp}/missing.engine does not exist"),
    (["{photo}", "--engine", "{junk}"], "{junk} has no manifest (junk.engine.json): engines built by `zoe-export trt`"),
])
def test_mistakes_are_one_line_and_leave_nothing(argv, message, graphs, tmp_path, capsys):
    values = dict(frame=graphs["frame"], fixed=graphs["fixed"], static=graphs["static"], tmp=tmp_path,
                  photo=_photo(tmp_path / "photo.png"), notes=tmp_path / "notes.txt", empty=tmp_path / "empty",
                  broken=tmp_path / "broken.png", junk=tmp_path / "junk.engine")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "junk.engine").write_text("not an engine")
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    argv = [a.format(**values) for a in argv]
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / "out")]
    assert main(["predict", *argv, "--no-progress"]) == 1
    line = _one_line_error(capsys)
    assert line.startswith("error: ") and message.format(**values) in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--fov", "200"], "200 degrees: a pinhole camera sees less than 180"),
    (["--batch", "0"], "--batch: 0 is below 1"),
    (["--cx", "-3"], "is not a finite number of pixels, 0 or more"),
])
def test_numbers_out_of_range_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["predict", "x.png", "--onnx", "m.onnx", *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_an_ignored_option_says_so(graphs, tmp_path, capsys):
    rc = main(["predict", str(_photo(tmp_path / "a.png")), "--onnx", str(graphs["frame"]), "--save", "npy",
               "--fov", "60", "--output", str(tmp_path / "out"), "--no-progress"])
    assert rc == 0 and "--fov is ignored: add ply or mesh to --save" in capsys.readouterr().err

