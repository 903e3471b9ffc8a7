"""Calibration sets: deterministic picks, exact inference preprocessing, bad files skipped."""
import json

import numpy as np
import pytest
from PIL import Image

from zoe_export.calib import CalibrationSet, SetSpec, build_calibration_set, estimate_calibration_seconds
from zoe_export.errors import ZoeExportError
from zoe_export.preprocess import prepare


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(7):
        h, w = (int(v) for v in rng.integers(50, 300, 2))
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / ("sub" if i % 2 else "") / f"p{i}.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.txt").write_text("not an image")
    return folder


def _build(photos, out, **kwargs):
    kwargs = {"count": 6, "min_count": 2, "progress": False, **kwargs}
    return build_calibration_set(out, SetSpec(64, 96, kwargs.pop("input_format", "float-nchw")), images=photos, **kwargs)


def test_a_set_is_deterministic_and_skips_unreadable_files(photos, tmp_path):
    a = _build(photos, tmp_path / "a", count=8)
    b = _build(photos, tmp_path / "b", count=8)
    assert a["count"] == 7 and a["id"] == b["id"]  # 7 readable of 8 candidates (the .txt is no candidate)
    assert [s["source"] for s in a["skipped"]] == ["broken.png"]
    assert np.array_equal(np.load(tmp_path / "a" / "shard_00000.npy"), np.load(tmp_path / "b" / "shard_00000.npy"))
    other = _build(photos, tmp_path / "c", count=3, seed=1)
    first = _build(photos, tmp_path / "d", count=3, seed=0)
    assert [s["source"] for s in other["sources"]] != [s["source"] for s in first["sources"]]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert all(len(s["sha256"]) == 64 for s in manifest["sources"])
    assert manifest["height"] == 64 and manifest["input_format"] == "float-nchw" and manifest["pad_input"]


def test_samples_are_exactly_the_inference_preprocessing(photos, tmp_path):
    from zoe_export.io.images import read_image

    manifest = _build(photos, tmp_path / "f")
    _build(photos, tmp_path / "u", input_format="uint8-nhwc")
    source = photos / manifest["sources"][0]["source"]
    expected = prepare(read_image(source), (64, 96), fit="stretch", pad_input=True).batch
    feeds = list(CalibrationSet(tmp_path / "f"))
    assert len(feeds) == 6 and set(feeds[0]) == {"image"}
    np.testing.assert_array_equal(feeds[0]["image"], expected)
    u8 = next(iter(CalibrationSet(tmp_path / "u")))["image"]
    assert u8.dtype == np.uint8 and u8.shape == (1, 64, 96, 3)
    np.testing.assert_array_equal(u8[0], np.round(expected[0].transpose(1, 2, 0) * 255).astype(np.uint8))


def test_batches_and_split(photos, tmp_path):
    _build(photos, tmp_path / "s")
    calib = CalibrationSet(tmp_path / "s")
    part, held = calib.split(2)
    assert len(part) == 4 and len(held) == 2 and held.indices == [4, 5]
    assert [b["image"].shape for b in calib.batches(4)] == [(4, 3, 64, 96)]  # the short tail is dropped
    with pytest.raises(ZoeExportError, match="smaller holdout="):
        calib.split(6)


def test_empty_and_too_small_sets_say_what_was_found(tmp_path, photos):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZoeExportError, match="no images found"):
        _build(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(ZoeExportError, match=r"only 7 usable image\(s\) found \(1 unreadable"):
        _build(photos, tmp_path / "out", count=20, min_count=10)
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_damaged_sets_are_clear_errors(photos, tmp_path):
    _build(photos, tmp_path / "s")
    (tmp_path / "s" / "shard_00000.npy").write_bytes(b"garbage")
    with pytest.raises(ZoeExportError, match="missing or corrupt"):
        CalibrationSet(tmp_path / "s").sample(0)
    with pytest.raises(ZoeExportError, match="zoe-export calib"):
        CalibrationSet(tmp_path / "nowhere")
    (tmp_path / "s" / "manifest.json").write_text("{")
    with pytest.raises(ZoeExportError, match="corrupt"):
        CalibrationSet(tmp_path / "s")


def test_a_set_is_replaced_whole(photos, tmp_path):
    first = _build(photos, tmp_path / "s", count=3)
    second = _build(photos, tmp_path / "s", count=5)
    assert first["id"] != second["id"] and len(CalibrationSet(tmp_path / "s")) == 5
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "keep.txt").write_text("mine")
    with pytest.raises(ZoeExportError, match="not a calibration set"):
        _build(photos, tmp_path / "plain")
    assert (tmp_path / "plain" / "keep.txt").read_text() == "mine"


def test_the_time_estimate_scales_with_count_and_size():
    small = estimate_calibration_seconds(16, 384, 512)
    assert estimate_calibration_seconds(500, 384, 512) == pytest.approx(small * 500 / 16)
    assert estimate_calibration_seconds(16, 768, 1024) == pytest.approx(4 * small)


def test_videos_need_opencv_and_say_how_to_get_it(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cv2", None)  # as if OpenCV were not installed
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 16)
    with pytest.raises(ZoeExportError, match="pip install opencv-python-headless"):
        build_calibration_set(tmp_path / "out", SetSpec(64, 96), videos=(tmp_path / "clip.mp4",), progress=False)


def test_frames_are_sampled_from_videos(tmp_path):
    cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is not installed (zoe-export[video])")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (120, 80))
    for i in range(65):  # frames 0, 30 and 60 are sampled
        frame = np.full((80, 120, 3), i * 3, dtype=np.uint8)
        frame[:, :, 2] = 200  # red in BGR: RGB channel 0
        writer.write(frame)
    writer.release()
    manifest = build_calibration_set(tmp_path / "set", SetSpec(64, 96), videos=(path,), count=5, min_count=2,
                                     progress=False)
    assert manifest["count"] == 3 and sorted(s["frame"] for s in manifest["sources"]) == [0, 30, 60]
    sample = CalibrationSet(tmp_path / "set").sample(0)
    assert sample[0].mean() > 0.7 and sample[0].mean() > sample[2].mean()  # RGB order, not BGR


def test_hidden_files_and_folders_are_no_candidates(photos, tmp_path):
    (photos / ".thumbnails").mkdir()
    for hidden in (photos / ".thumbnails" / "p0.jpg", photos / "sub" / ".p9.jpg"):
        Image.fromarray(np.zeros((60, 60, 3), np.uint8)).save(hidden)
    manifest = _build(photos, tmp_path / "h", count=20, min_count=2)
    assert manifest["count"] == 7 and all("thumbnails" not in s["source"] and ".p9" not in s["source"]
                                          for s in manifest["sources"])


def _sized(photos, out, height, width, **spec):
    build_calibration_set(out, SetSpec(height, width, **spec), images=photos, count=4, min_count=2, progress=False)
    return CalibrationSet(out)


def test_a_dynamic_size_graph_takes_a_set_of_any_size_in_its_range(photos, tmp_path):
    from zoe_export.sizes import SizeRange

    size_range = SizeRange.parse("32x32:128x192")
    inside = _sized(photos, tmp_path / "in", 96, 128)
    assert inside.size == (96, 128) and inside.sizes == [(96, 128)]
    inside.check_matches(64, 96, "float-nchw", "g.onnx", size_range)  # within the range: calibrated at its size
    with pytest.raises(ZoeExportError, match="takes 64x96 float-nchw"):  # a fixed-size graph: its size only
        inside.check_matches(64, 96, "float-nchw", "g.onnx")
    outside = _sized(photos, tmp_path / "out", 160, 96)
    with pytest.raises(ZoeExportError, match=r"(--calib|calib=) .*out holds 160x96 inputs, outside the size range "
                                             r"32x32:128x192 of g.onnx: calibration runs at the set's size, so "
                                             r"rebuild it with zoe-export calib --height 64 --width 96 --input-format "
                                             r"float-nchw \(the default size\)"):
        outside.check_matches(64, 96, "float-nchw", "g.onnx", size_range)
    with pytest.raises(ZoeExportError, match=r"holds 96x128 float-nchw inputs but g.onnx takes uint8-nhwc inputs of "
                                             r"32x32:128x192 \(default 64x96\)"):
        inside.check_matches(64, 96, "uint8-nhwc", "g.onnx", size_range)


def test_a_mix_of_sets_reads_each_and_holds_out_of_each(photos, tmp_path):
    from zoe_export.calib import CalibrationMix, open_calibration
    from zoe_export.sizes import SizeRange

    a, b = _sized(photos, tmp_path / "a", 64, 96), _sized(photos, tmp_path / "b", 96, 128)
    assert isinstance(open_calibration(tmp_path / "a"), CalibrationSet)
    assert isinstance(open_calibration([str(tmp_path / "a")]), CalibrationSet)
    mix = open_calibration([tmp_path / "a", tmp_path / "b"])
    assert isinstance(mix, CalibrationMix) and mix.sizes == [(64, 96), (96, 128)] and len(mix) == 8
    assert mix.id == f"{a.id}+{b.id}" and mix.input_name == "image"
    assert [feed["image"].shape for feed in mix] == [(1, 3, 64, 96)] * 4 + [(1, 3, 96, 128)] * 4
    assert [feed["image"].shape for feed in mix.batches(3)] == [(3, 3, 64, 96), (3, 3, 96, 128)]  # never mixed
    part, held = mix.split(1)
    assert len(part) == 6 and [s.indices for s in held.sets] == [[3], [3]]
    mix.check_matches(64, 96, "float-nchw", "g.onnx", SizeRange.parse("32x32:128x192"))
    with pytest.raises(ZoeExportError, match="sets of 2 sizes calibrate a dynamic-size graph; g.onnx takes 64x96"):
        mix.check_matches(64, 96, "float-nchw", "g.onnx")


def test_a_mix_differs_in_size_only(photos, tmp_path):
    from zoe_export.calib import open_calibration

    _sized(photos, tmp_path / "a", 64, 96)
    _sized(photos, tmp_path / "u8", 96, 128, input_format="uint8-nhwc")
    with pytest.raises(ZoeExportError, match="differ in input_format .*differs in size only"):
        open_calibration([tmp_path / "a", tmp_path / "u8"])
    _sized(photos, tmp_path / "again", 64, 96)  # the same images at the same size: the same set
    with pytest.raises(ZoeExportError, match="the same calibration set is given twice"):
        open_calibration([tmp_path / "a", tmp_path / "again"])
