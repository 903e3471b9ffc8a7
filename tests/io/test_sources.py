"""Tests for zoe_export.io.sources: what zoe-export predict reads (images, folders, videos, cameras, streams)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from helpers import served, write_video
from PIL import Image

from zoe_export.errors import ZoeExportError, command_line
from zoe_export.io import sources
from zoe_export.io.sources import (
    DEFAULT_VIDEO_FPS,
    STREAM_SCHEMES,
    VIDEO_SUFFIXES,
    Skipped,
    Source,
    StreamInfo,
    collect_sources,
    count_frames,
    open_source,
    video_fps_for_output,
)

#: solid RGB colours written as video frames; MJPG and mp4v are lossy, so frames are compared within COLOUR_TOLERANCE
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255), (128, 128, 128),
           (20, 200, 90)]
COLOUR_TOLERANCE = 10  # measured: solid 64x48 frames come back within 5 of what was written
FPS = 12.0
HEIGHT, WIDTH = 48, 64


@pytest.fixture
def cv2():
    return pytest.importorskip("cv2")


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _image(path: Path, colour=(10, 20, 30), size=(6, 8)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), colour, np.uint8)).save(path)
    return path


def _video(cv2, path: Path, fourcc: str = "MJPG", colours=COLOURS) -> Path:
    """A video of solid-colour frames, one per colour."""
    return write_video(path, [np.full((HEIGHT, WIDTH, 3), colour, np.uint8) for colour in colours], FPS, fourcc)


def _names(found: list[Source]) -> list[str]:
    return [str(source.name) for source in found]


def _assert_colours(frames, colours=COLOURS):
    assert [index for index, _ in frames] == list(range(len(colours)))
    for (index, rgb), colour in zip(frames, colours):
        assert rgb.dtype == np.uint8 and rgb.shape == (HEIGHT, WIDTH, 3) and rgb.flags["C_CONTIGUOUS"]
        assert np.abs(rgb.astype(int) - colour).max() <= COLOUR_TOLERANCE, f"frame {index}"


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "data"
    for relative in ["b.jpg", "a/z.png", "a/b/c.JPG", "a-b.png", ".y.jpg", ".hidden/x.jpg", "a/.cache/w.png"]:
        _touch(root / relative)
    return root


# --------------------------------------------------------------------------- listing folders


def test_folder_lists_images_recursively_sorted_by_relative_path_hidden_left_out(tree):
    found, skipped = collect_sources([str(tree)])
    assert _names(found) == ["a/b/c", "a/z", "a-b", "b"]  # a folder's files before a sibling named "a-..."
    assert skipped == []
    first = found[0]
    assert first.kind == "image" and not first.is_live
    assert first.path == tree / "a/b/c.JPG" and first.location == str(tree / "a/b/c.JPG")
    assert isinstance(first.name, PurePosixPath)


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="needs symbolic links")
def test_linked_folders_are_followed_once_and_broken_links_are_skipped(tree, tmp_path):
    _touch(tmp_path / "elsewhere" / "e.jpg")
    (tree / "linked").symlink_to(tmp_path / "elsewhere")
    (tree / "a" / "loop").symlink_to(tree)  # a folder that contains itself: listed once, no endless walk
    (tree / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    found, skipped = collect_sources([tree])
    assert _names(found) == ["a/b/c", "a/z", "a-b", "b", "linked/e"]
    assert skipped == [Skipped(str(tree / "gone.jpg"), "broken symbolic link")]


def test_glob_without_slash_matches_the_file_name_at_any_depth(tree):
    found, skipped = collect_sources([tree], glob="*.png")
    assert _names(found) == ["a/z", "a-b"] and skipped == []


def test_glob_with_slash_matches_the_relative_path_and_star_crosses_folders(tree):
    assert _names(collect_sources([tree], glob="a/*")[0]) == ["a/b/c", "a/z"]
    assert _names(collect_sources([tree], glob="a/*.JPG")[0]) == ["a/b/c"]


def test_glob_double_star_slash_also_matches_no_folder(tree):
    assert _names(collect_sources([tree], glob="**/b.jpg")[0]) == ["b"]
    assert _names(collect_sources([tree], glob="**/c.JPG")[0]) == ["a/b/c"]


def test_glob_applies_only_to_folders_not_to_files_given_directly(tree):
    found, _ = collect_sources([tree / "b.jpg", tree], glob="*.png")
    assert _names(found) == ["b", "a/z", "a-b"]


def test_unsupported_files_in_a_folder_are_listed_as_skipped(tree):
    _touch(tree / "notes.txt")
    _touch(tree / "a" / "README")
    found, skipped = collect_sources([tree])
    assert _names(found) == ["a/b/c", "a/z", "a-b", "b"]
    assert skipped == [Skipped(str(tree / "a" / "README"), "unsupported file type (no suffix)"),
                       Skipped(str(tree / "notes.txt"), "unsupported file type .txt")]


def test_an_unsupported_file_given_directly_is_skipped_with_what_to_pass(tmp_path):
    notes = _touch(tmp_path / "notes.txt")
    found, skipped = collect_sources([notes])
    assert found == [] and len(skipped) == 1
    assert skipped[0].location == str(notes)
    assert skipped[0].reason.startswith("unsupported file type .txt; pass images (")
    assert ".jpg" in skipped[0].reason and ".mp4" in skipped[0].reason and "\n" not in skipped[0].reason


def test_a_folder_without_images_or_videos_is_skipped_and_says_so(tmp_path, tree):
    empty = tmp_path / "empty"
    empty.mkdir()
    _touch(empty / ".hidden.jpg")
    only_text = tmp_path / "text"
    _touch(only_text / "a.txt")
    found, skipped = collect_sources([empty, only_text])
    assert found == []
    assert skipped == [Skipped(str(empty), "folder has no images or videos"),
                       Skipped(str(only_text / "a.txt"), "unsupported file type .txt"),
                       Skipped(str(only_text), "folder has no images or videos")]
    assert collect_sources([tree], glob="*.gif") == ([], [Skipped(str(tree), "folder has no images or videos matching "
                                                                               "glob= '*.gif'")])
    with command_line():
        assert collect_sources([tree], glob="*.gif")[1][0].reason.endswith("matching --glob '*.gif'")


def test_a_missing_path_is_an_error_raised_before_any_folder_is_read(tree, monkeypatch):
    def listed(*args):
        raise AssertionError("a folder was listed before every input was checked")

    monkeypatch.setattr(sources, "_list_folder", listed)
    with pytest.raises(ZoeExportError, match=r"nope.jpg does not exist; pass image files, folders, videos, a camera "
                                             r"index or a stream URL"):
        collect_sources([tree, str(tree / "nope.jpg")])
    with command_line(), pytest.raises(ZoeExportError, match=r"^INPUT .*nope"):
        collect_sources([str(tree / "nope")])


def test_a_url_with_another_scheme_is_an_error_naming_the_stream_schemes():
    with pytest.raises(ZoeExportError, match=r"ftp:// is not a stream scheme.*rtsp://"):
        collect_sources(["ftp://user:secret@host/clip.mp4"])
    with pytest.raises(ZoeExportError) as caught:
        collect_sources(["ftp://user:secret@host/clip.mp4"])
    assert "secret" not in str(caught.value)


def test_videos_in_folders_and_given_directly_are_video_sources(tmp_path):
    assert ".mp4" in VIDEO_SUFFIXES and all(s == s.lower() for s in VIDEO_SUFFIXES)
    clip = _touch(tmp_path / "drive.MP4")
    _touch(tmp_path / "clips" / "day" / "run.mkv")
    found, _ = collect_sources([clip, tmp_path / "clips"])
    assert [(s.kind, str(s.name)) for s in found] == [("video", "drive"), ("video", "day/run")]


# --------------------------------------------------------------------------- cameras and streams


def test_a_digit_string_is_a_camera_index():
    found, skipped = collect_sources(["0", "12"])
    assert skipped == []
    assert found == [Source("stream", "0", PurePosixPath("camera0"), None),
                     Source("stream", "12", PurePosixPath("camera12"), None)]
    assert all(source.is_live for source in found)


def test_a_path_object_is_always_a_path_never_a_camera(tmp_path):
    with pytest.raises(ZoeExportError, match="does not exist"):
        collect_sources([Path("0")])


@pytest.mark.parametrize("url, name", [
    ("http://127.0.0.1:8000/live", "stream_127.0.0.1_8000_live"),
    ("rtsp://admin:secret@Cam.Local:554/h264/ch1?subtype=0", "stream_cam.local_554_h264_ch1"),
    ("RTSP://cam/x y", "stream_cam_x_y"),
    ("udp://@:1234", "stream_1234"),
])
def test_a_stream_url_is_named_after_host_port_and_path_without_credentials(url, name):
    (source,), _ = collect_sources([url])
    assert source.kind == "stream" and source.path is None and source.location == url
    assert str(source.name) == name


def test_stream_names_are_at_most_80_characters():
    (source,), _ = collect_sources(["https://example.com/" + "a/" * 100])
    assert len(str(source.name)) <= 80 and str(source.name).startswith("stream_example.com_a_a")
    assert set(STREAM_SCHEMES) >= {"rtsp", "http", "https", "udp", "srt"}


# --------------------------------------------------------------------------- read once, unique names


def test_a_file_reached_twice_is_read_once_where_it_first_appears(tree):
    found, skipped = collect_sources([f"{tree}/a/../a/z.png", tree, str(tree) + "/", tree / "a"])
    assert _names(found) == ["z", "a/b/c", "a-b", "b"] and skipped == []
    assert found[0].location == f"{tree}/a/../a/z.png"  # as typed


def test_a_camera_or_stream_given_twice_is_read_once():
    found, _ = collect_sources(["0", "00", "http://h/x", "http://h/x"])
    assert _names(found) == ["camera0", "stream_h_x"]


def test_sources_sharing_a_name_get_their_suffix_appended(tmp_path):
    folder = tmp_path / "shots"
    for name in ["a.jpg", "a.png", "b.jpg", "sub/a.jpg"]:
        _touch(folder / name)
    found, _ = collect_sources([folder])
    assert _names(found) == ["a_jpg", "a_png", "b", "sub/a"]


def test_a_file_named_like_a_camera_is_renamed_not_the_camera(tmp_path):
    image = _touch(tmp_path / "camera0.jpg")
    found, _ = collect_sources(["0", image])
    assert _names(found) == ["camera0", "camera0_jpg"]


def test_names_that_still_collide_are_an_error_naming_both(tmp_path):
    for folder in ("x", "y"):
        _touch(tmp_path / folder / "1.jpg")
    with pytest.raises(ZoeExportError) as caught:
        collect_sources([tmp_path / "x", tmp_path / "y"])
    message = str(caught.value)
    assert str(tmp_path / "x" / "1.jpg") in message and str(tmp_path / "y" / "1.jpg") in message
    assert "run them separately" in message and "output=" in message
    with command_line(), pytest.raises(ZoeExportError, match="different --output folders"):
        collect_sources([tmp_path / "x", tmp_path / "y"])


@pytest.mark.timeout(60)
def test_listing_an_image_folder_does_not_import_cv2(tree):
    code = ("import sys; from zoe_export.io.sources import collect_sources; "
            f"found, _ = collect_sources([{str(tree)!r}]); assert len(found) == 4; print('cv2' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------- reading images


def test_an_image_is_one_rgb_frame(tmp_path):
    (source,), _ = collect_sources([_image(tmp_path / "red.png", colour=(200, 10, 30))])
    with open_source(source) as reader:
        assert reader.info == StreamInfo(frames=1, fps=None, size=None)
        frames = list(reader)
    assert len(frames) == 1 and frames[0][0] == 0
    rgb = frames[0][1]
    assert rgb.dtype == np.uint8 and rgb.shape == (6, 8, 3) and rgb.flags["C_CONTIGUOUS"]
    assert (rgb == (200, 10, 30)).all()
    assert reader.frames_read == 1 and not reader.truncated


def test_a_corrupt_image_raises_the_user_error(tmp_path):
    (source,), _ = collect_sources([_touch(tmp_path / "broken.png", b"not a png at all")])
    with pytest.raises(ZoeExportError, match="broken.png"):
        with open_source(source) as reader:
            list(reader)


# --------------------------------------------------------------------------- reading videos


@pytest.mark.timeout(60)
@pytest.mark.parametrize("file, fourcc", [("clip.mp4", "mp4v"), ("clip.avi", "MJPG")])
def test_video_frames_come_in_order_as_rgb(cv2, tmp_path, file, fourcc):
    (source,), _ = collect_sources([_video(cv2, tmp_path / file, fourcc)])
    assert source.kind == "video" and str(source.name) == "clip"
    with open_source(source) as reader:
        assert reader.info == StreamInfo(frames=len(COLOURS), fps=FPS, size=(HEIGHT, WIDTH))
        frames = list(reader)
    _assert_colours(frames)
    assert reader.frames_read == len(COLOURS) and not reader.truncated
    assert video_fps_for_output(reader.info) == FPS


@pytest.mark.timeout(60)
def test_a_corrupt_video_raises_a_user_error_naming_the_fix(cv2, tmp_path):
    garbage = _touch(tmp_path / "broken.mp4", np.random.default_rng(0).bytes(5000))
    (source,), _ = collect_sources([garbage])
    with pytest.raises(ZoeExportError) as caught:
        open_source(source)
    message = str(caught.value)
    assert message.startswith(f"OpenCV cannot open video {garbage}: the file is damaged, or its codec is missing")
    assert "Video I/O backends here: FFMPEG: " in message and f"ffmpeg -i {garbage} -c:v libx264" in message
    assert "[video]" in message and "\n" not in message


@pytest.mark.timeout(60)
def test_a_truncated_video_ends_early_without_raising_and_says_so(cv2, tmp_path):
    whole = _video(cv2, tmp_path / "whole.mkv", "MJPG")
    cut = tmp_path / "cut.mkv"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    (source,), _ = collect_sources([cut])
    with open_source(source) as reader:
        frames = list(reader)
    assert 0 < reader.frames_read < len(COLOURS) and len(frames) == reader.frames_read
    _assert_colours(frames, COLOURS[: reader.frames_read])
    if reader.info.frames == len(COLOURS):  # measured: OpenCV 5.0 reports the container's full count
        assert reader.truncated


@pytest.mark.timeout(60)
def test_a_video_is_released_when_the_reading_fails(cv2, tmp_path):
    (source,), _ = collect_sources([_video(cv2, tmp_path / "clip.avi")])
    with pytest.raises(KeyboardInterrupt):
        with open_source(source) as reader:
            for index, _ in reader:
                raise KeyboardInterrupt
    assert list(reader) == [] and reader.frames_read == 1 and not reader.truncated


@pytest.mark.timeout(60)
def test_a_missing_codec_library_names_the_video_extra(tmp_path, monkeypatch):
    (source,), _ = collect_sources([_touch(tmp_path / "clip.mp4")])
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    with pytest.raises(ZoeExportError, match=r"cv2 is not installed \(reading videos and streams needs it\).*video"):
        open_source(source)


# --------------------------------------------------------------------------- live streams


@pytest.fixture
def http_folder(tmp_path):
    """(folder, base URL): ``folder`` served over HTTP on 127.0.0.1 while the test runs."""
    with served(tmp_path) as base:
        yield tmp_path, base


@pytest.mark.timeout(60)
def test_a_stream_url_is_read_to_its_end(cv2, http_folder):
    folder, base = http_folder
    _video(cv2, folder / "clip.avi", "MJPG")
    (source,), _ = collect_sources([f"{base}/clip.avi"])
    assert source.kind == "stream" and source.is_live and source.path is None
    assert str(source.name) == f"stream_127.0.0.1_{base.rsplit(':', 1)[1]}_clip.avi"
    with open_source(source) as reader:
        assert reader.info.frames is None and reader.info.size == (HEIGHT, WIDTH)
        frames = list(reader)
    _assert_colours(frames)
    assert not reader.truncated and reader.frames_read == len(COLOURS)
    assert count_frames([source]) is None


@pytest.mark.timeout(60)
def test_a_stream_that_does_not_answer_raises_a_user_error(cv2, http_folder):
    _, base = http_folder
    (source,), _ = collect_sources([f"{base.replace('http://', 'http://user:secret@')}/missing.avi"])
    with pytest.raises(ZoeExportError, match=r"^OpenCV cannot open stream http://user:\*\*\*@127\.0\.0\.1:.*URL"):
        open_source(source)


@pytest.mark.timeout(60)
def test_a_camera_that_is_not_there_raises_a_user_error(cv2):
    (source,), _ = collect_sources(["987"])
    with pytest.raises(ZoeExportError, match=r"^OpenCV cannot open camera 987: check the device"):
        open_source(source)


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs a character device")
def test_a_character_device_is_a_stream():
    (source,), _ = collect_sources(["/dev/null"])
    assert source.kind == "stream" and str(source.name) == "stream_dev_null" and source.path is None


# --------------------------------------------------------------------------- counts and output fps


@pytest.mark.timeout(60)
def test_count_frames_sums_images_and_video_counts(cv2, tmp_path):
    _image(tmp_path / "in" / "a.png")
    _video(cv2, tmp_path / "in" / "clip.avi")
    _touch(tmp_path / "in" / "broken.mp4", b"garbage")
    found, _ = collect_sources([tmp_path / "in"])
    assert _names(found) == ["a", "broken", "clip"]
    assert count_frames(found) == 1 + 0 + len(COLOURS)  # a video OpenCV cannot open counts 0: opening it says why
    assert count_frames([]) == 0
    assert count_frames([*found, *collect_sources(["0"])[0]]) is None


def test_output_fps_is_the_sources_or_the_default():
    assert video_fps_for_output(StreamInfo(frames=10, fps=25.0, size=None)) == 25.0
    assert video_fps_for_output(StreamInfo(frames=10, fps=None, size=None)) == DEFAULT_VIDEO_FPS == 30.0
    assert video_fps_for_output(StreamInfo(frames=None, fps=0.0, size=None)) == 30.0
