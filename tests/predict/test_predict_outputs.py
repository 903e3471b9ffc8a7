"""What predict writes where: --save kinds, names that mirror the input tree, the ordered depth video."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.io.sources import Source
from zoe_export.predict.outputs import Layout, VideoSink, parse_saves

cv2 = pytest.importorskip("cv2")


def _source(kind, name):
    return Source(kind, name, PurePosixPath(name), None if kind == "stream" else Path(name))


def test_save_kinds_are_parsed_and_checked():
    assert parse_saves(None) is None and parse_saves("ply, color,ply") == ("ply", "color")
    for text in ("colour", ",", "color,depth"):
        with pytest.raises(ZoeExportError, match="choose from color,mm16,npy,panel,video,ply,mesh"):
            parse_saves(text)


def test_names_mirror_the_input_tree_and_videos_get_a_folder_of_frames(tmp_path):
    layout = Layout(tmp_path, ("color", "npy", "video", "ply"))
    photo, video = _source("image", "kitchen/left/img_001"), _source("video", "drive")
    assert layout.frame_paths(photo, 0) == {"color": tmp_path / "kitchen/left/img_001_depth.png",
                                            "npy": tmp_path / "kitchen/left/img_001_depth.npy",
                                            "ply": tmp_path / "kitchen/left/img_001.ply"}
    assert layout.video_path(photo) is None and layout.video_path(video) == tmp_path / "drive_depth.mp4"
    assert layout.frame_paths(video, 12)["color"] == tmp_path / "drive" / "frame_000012_depth.png"


def test_defaults_are_pictures_for_photos_and_a_video_for_videos(tmp_path):
    layout = Layout(tmp_path)
    assert layout.kinds(_source("image", "a")) == ("color", "mm16", "panel")
    assert layout.kinds(_source("stream", "camera0")) == ("video",) and not layout.frame_paths(_source("video", "v"), 0)


def _frames(count):
    return [np.full((32, 48, 3), 30 * i, np.uint8) for i in range(count)]


def test_a_depth_video_gets_its_frames_in_order_whatever_order_they_arrive_in(tmp_path):
    sink = VideoSink(tmp_path / "v_depth.mp4", fps=5.0)
    frames = _frames(6)
    for index in (1, 0, 3, 2, 5, 4):
        sink.put(index, frames[index])
    assert not (tmp_path / "v_depth.mp4").exists()  # nothing in place before close
    assert sink.close(complete=True) == tmp_path / "v_depth.mp4"
    video = cv2.VideoCapture(str(tmp_path / "v_depth.mp4"))
    means = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        means.append(float(frame.mean()))
    assert np.allclose(means, [30 * i for i in range(6)], atol=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v_depth.mp4"]


def test_a_failed_frame_is_black_and_an_unfinished_video_is_not_kept(tmp_path):
    sink = VideoSink(tmp_path / "v_depth.mp4", fps=5.0)
    sink.put(0, None)  # the first frame failed: black, sized by the next good one
    sink.put(1, _frames(2)[1])
    assert sink.frames == 2
    assert sink.close(complete=False) is None and not list(tmp_path.iterdir())
