"""What ``zoe-export predict INPUT...`` reads: image files, folders, video files, cameras and live streams.

:func:`collect_sources` turns the inputs into :class:`Source` items (and :class:`Skipped` ones, with the
reason), reading nothing but folder listings; :func:`open_source` opens one for its frames. OpenCV is
imported only when a video or stream is opened or counted, so listing image folders never needs it.

An input is, in this order:

- a camera index when it is a string of digits (``0``: the first camera); a file named like a number is
  ``./0``. :class:`~pathlib.Path` inputs are always paths.
- a stream when it is a URL with a scheme in :data:`STREAM_SCHEMES` (``rtsp://cam.local/live``).
- a character device (``/dev/video0``): a stream, read through OpenCV like a camera.
- a folder: every image and video below it, recursively, sorted by relative path; hidden files and
  folders (a name starting with ``.``) are left out. ``glob`` keeps only matching files: a pattern
  without ``/`` matches the file name at any depth (``*.png``), one with ``/`` the path relative to the
  folder (``scenes/*/img_*.jpg``), where ``*`` also crosses ``/`` and ``**/`` also matches no folder at
  all. Matching is case-sensitive where the file system is. Other matching files come back as
  :class:`Skipped` (``unsupported file type .txt``), and so does a folder with no image or video.
- an image or video file (``glob`` does not apply to files given directly); any other file is skipped.

A path that does not exist is an error, raised before anything is read. A file reached twice (given
directly and inside a folder, or a folder given twice; compared by resolved path) is read once, where
it first appears; so is a camera or stream URL given twice.

Output names. Every source has a ``name``: the output stem, a POSIX path without suffix, that mirrors
the input tree. A file given directly is named after its stem (``drive.mp4`` -> ``drive``); a file
found in a folder after its path relative to that folder (``data/scenes/kitchen/img_001.jpg`` with
``data`` given -> ``scenes/kitchen/img_001``); a camera ``camera<index>``; a stream ``stream_`` plus
its host, port and path with every run of characters outside ``[A-Za-z0-9._-]`` replaced by ``_``
(``http://127.0.0.1:8000/live`` -> ``stream_127.0.0.1_8000_live``, at most 80 characters; user names
and passwords in the URL never appear in it). When several sources share a name, each of them that
is a file gets its suffix appended (``a.jpg`` and ``a.png`` -> ``a_jpg`` and ``a_png``); names that
still collide (the same relative file in two folders given together) are an error that names both:
run them separately, or into different output folders.
"""
from __future__ import annotations

import math
import os
import re
import shlex
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from fnmatch import translate
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from .._files import existing_file
from .._lazy import require
from .._log import log
from ..errors import ZoeExportError, option
from .images import IMAGE_SUFFIXES, read_image

#: video containers read through OpenCV (compared in lower case)
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts",
                            ".mts", ".m2ts"})
#: URL schemes read as live streams (through OpenCV's FFMPEG or GStreamer backend)
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
#: the frame rate a depth video is written at when its source reports none
DEFAULT_VIDEO_FPS = 30.0

_NAME_LENGTH = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CASE_INSENSITIVE = os.path.normcase("A") == "a"  # Windows: file names match whatever their case


@dataclass(frozen=True)
class Source:
    """One thing to read frames from."""

    kind: str  # "image" | "video" | "stream"
    location: str  # what the user typed, or the path of a file found in a folder
    name: PurePosixPath  # the output stem (see the module docstring)
    path: Path | None  # the file; None for a camera or stream URL

    @property
    def is_live(self) -> bool:
        """A camera or stream: no frame count, and it may never end."""
        return self.kind == "stream"


@dataclass(frozen=True)
class Skipped:
    """An input (or a file in a folder) that is not read, and why, in one line."""

    location: str
    reason: str


# --------------------------------------------------------------------------- collecting inputs


def collect_sources(inputs: Sequence[str | Path], glob: str | None = None) -> tuple[list[Source], list[Skipped]]:
    """The sources ``inputs`` name, in input order (folders sorted), and what was skipped.

    Raises ZoeExportError for a path that does not exist (before reading any folder) and for output names
    that cannot be made unique; see the module docstring for the rules.
    """
    classified = [_classify(item) for item in inputs]  # every input checked before any folder is listed
    sources: list[Source] = []
    skipped: list[Skipped] = []
    seen: set = set()

    def add(source: Source, key) -> None:
        if key in seen:
            log.debug("%s is already an input; reading it once", source.location)
        else:
            seen.add(key)
            sources.append(source)

    for item in classified:
        if isinstance(item, Source):
            add(item, _stream_key(item))
        elif item[1].is_dir():
            _add_folder(*item, glob, add, skipped)
        else:
            _add_file(*item, add, skipped)
    return _unique_names(sources), skipped


def _classify(item: str | Path) -> Source | tuple[str, Path]:
    """A stream Source for a camera index, stream URL or character device; otherwise (as typed, existing path)."""
    if isinstance(item, str):
        if item.isdigit() and item.isascii():
            return Source("stream", item, PurePosixPath(f"camera{int(item)}"), None)
        url = _URL.match(item)
        if url and url.group(1).lower() in STREAM_SCHEMES:
            return Source("stream", item, PurePosixPath(_stream_name(item)), None)
    flag = option("INPUT", "input")
    if not str(item):
        raise ZoeExportError(f"an empty {flag}; pass image files, folders, videos, a camera index or a stream URL.")
    path = Path(item).expanduser()
    if not path.exists():
        url = _URL.match(item) if isinstance(item, str) else None
        if url:
            raise ZoeExportError(f"{flag} {_redact(item)}: {url.group(1)}:// is not a stream scheme read here; stream "
                                 f"URLs start with {', '.join(s + '://' for s in STREAM_SCHEMES)}.")
        raise ZoeExportError(f"{flag} {item} does not exist; pass image files, folders, videos, a camera index or a "
                             "stream URL.")
    if _is_char_device(path):
        return Source("stream", str(item), PurePosixPath(_safe_name("stream_", str(path))), None)
    return str(item), path


def _is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(path.stat().st_mode)
    except OSError:
        return False


def _safe_name(prefix: str, text: str) -> str:
    return (prefix + _UNSAFE.sub("_", text).strip("_"))[:_NAME_LENGTH].rstrip("_")


def _stream_name(url: str) -> str:
    """``stream_`` + host, port and path, made safe for a file name (never the URL's user name or password)."""
    parts = urlsplit(url)
    try:
        host = f"{parts.hostname or ''}:{parts.port}" if parts.port is not None else parts.hostname or ""
    except ValueError:  # a port that is not a number
        host = parts.netloc.rpartition("@")[2]
    return _safe_name("stream_", host + parts.path)


def _redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{userinfo.partition(':')[0]}:***@{hostport}"))


def _stream_key(source: Source):
    return ("camera", int(source.location)) if source.location.isdigit() else ("stream", source.location)


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


def _unsupported(path: Path) -> str:
    return f"unsupported file type {path.suffix or '(no suffix)'}"


def _add_file(typed: str, path: Path, add, skipped: list[Skipped]) -> None:
    kind = _kind(path) if path.is_file() else None
    if kind is None:
        reason = _unsupported(path) if path.is_file() else "not a regular file"
        skipped.append(Skipped(typed, f"{reason}; pass images ({', '.join(sorted(IMAGE_SUFFIXES))}) or videos "
                                          f"({', '.join(sorted(VIDEO_SUFFIXES))})"))
        return
    add(Source(kind, typed, PurePosixPath(path.stem), path), path.resolve())


def _add_folder(typed: str, folder: Path, glob: str | None, add, skipped: list[Skipped]) -> None:
    matches = _glob_matcher(glob)
    found = 0
    for relative, path in _list_folder(folder, skipped):
        if matches is not None and not matches(relative):
            continue
        kind = _kind(path)
        if kind is None:
            skipped.append(Skipped(str(path), _unsupported(path)))
            continue
        if not path.is_file():
            skipped.append(Skipped(str(path), "broken symbolic link" if path.is_symlink() else "not a regular file"))
            continue
        found += 1
        add(Source(kind, str(path), relative.with_suffix(""), path), path.resolve())
    if not found:
        matching = f" matching {option('--glob', 'glob=')} {glob!r}" if glob is not None else ""
        skipped.append(Skipped(typed, f"folder has no images or videos{matching}"))


def _list_folder(folder: Path, skipped: list[Skipped]) -> list[tuple[PurePosixPath, Path]]:
    """(relative path, path) of every non-hidden file below ``folder``, sorted by relative path.

    Symbolic links to folders are followed, each folder listed once (no loops); unreadable folders are skipped.
    """
    found: list[tuple[PurePosixPath, Path]] = []
    visited: set[tuple[int, int]] = set()

    def unreadable(error: OSError) -> None:
        skipped.append(Skipped(str(error.filename), f"cannot list folder: {error.strerror or error}"))

    for top, folders, files in os.walk(folder, onerror=unreadable, followlinks=True):
        try:
            status = os.stat(top)
        except OSError as error:
            unreadable(error)
            folders[:] = []
            continue
        if (status.st_dev, status.st_ino) in visited:
            folders[:] = []
            continue
        visited.add((status.st_dev, status.st_ino))
        folders[:] = sorted(name for name in folders if not name.startswith("."))  # sorted: a deterministic walk
        base = PurePosixPath(*Path(top).relative_to(folder).parts)
        found += [(base / name, Path(top) / name) for name in files if not name.startswith(".")]
    return sorted(found, key=lambda entry: entry[0].parts)


def _glob_matcher(glob: str | None):
    """A test of a relative path against ``glob`` (see the module docstring); None for no glob."""
    if glob is None:
        return None
    pattern = glob.removeprefix("./")
    on_path = "/" in pattern
    pieces = [translate(piece).removeprefix("(?s:").removesuffix(r")\Z") for piece in pattern.split("**/")]
    regex = re.compile(r"(?s:" + "(?:.*/)?".join(pieces) + r")\Z", re.IGNORECASE if _CASE_INSENSITIVE else 0)
    return lambda relative: regex.match(relative.as_posix() if on_path else relative.name) is not None


def _unique_names(sources: list[Source]) -> list[Source]:
    """Append the suffix to every file whose name another source shares; an error if names still collide."""
    counts = Counter(source.name for source in sources)
    renamed = [replace(source, name=source.name.with_name(f"{source.name.name}_{source.path.suffix[1:]}"))
               if counts[source.name] > 1 and source.path is not None and source.path.suffix else source
               for source in sources]
    owners: dict[PurePosixPath, Source] = {}
    for source in renamed:
        other = owners.setdefault(source.name, source)
        if other is not source:
            raise ZoeExportError(
                f"{other.location} and {source.location} would both write outputs named {source.name}: rename one, "
                f"or run them separately or into different {option('--output', 'output=')} folders.")
    return renamed


# --------------------------------------------------------------------------- reading frames


@dataclass(frozen=True)
class StreamInfo:
    """What is known about a source before its frames are read."""

    frames: int | None  # 1 for an image; the container's count for a video (may be approximate); None if live/unknown
    fps: float | None  # None for images and for sources that report none
    size: tuple[int, int] | None  # (height, width) for videos and streams when reported; None for images


class FrameReader:
    """A source opened for reading: iterate once for ``(index, rgb)``, rgb uint8 HxWx3 and contiguous.

    A context manager; leaving it (also on an exception or KeyboardInterrupt) releases the video or
    stream, and so does reading to the end. ``frames_read`` counts the frames delivered; ``truncated``
    is True once a video has stopped delivering frames before the count its container reported.
    """

    def __init__(self, source: Source, info: StreamInfo):
        self.source = source
        self.info = info
        self.frames_read = 0
        self.truncated = False

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        try:
            yield from self._frames()
        finally:
            self.close()

    def _frames(self) -> Iterator[tuple[int, np.ndarray]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the reader holds; iterating afterwards yields nothing."""


class _ImageReader(FrameReader):
    def __init__(self, source: Source):
        super().__init__(source, StreamInfo(frames=1, fps=None, size=None))
        self._rgb: np.ndarray | None = np.ascontiguousarray(read_image(source.path))

    def _frames(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._rgb is not None:
            rgb, self._rgb = self._rgb, None
            self.frames_read = 1
            yield 0, rgb

    def close(self) -> None:
        self._rgb = None


class _CaptureReader(FrameReader):
    def __init__(self, source: Source, cv2, capture):
        super().__init__(source, _capture_info(cv2, capture, live=source.is_live))
        self._cv2 = cv2
        self._capture = capture

    def _frames(self) -> Iterator[tuple[int, np.ndarray]]:
        while self._capture is not None:
            try:
                ok, frame = self._capture.read()
            except self._cv2.error as exc:  # a decoder failing mid-file: the frames end here
                log.debug("%s: OpenCV stopped reading: %s", self.source.location, exc)
                ok, frame = False, None
            if not ok or frame is None:
                self.truncated = self.info.frames is not None and self.frames_read < self.info.frames
                return
            index, self.frames_read = self.frames_read, self.frames_read + 1
            yield index, _rgb(self._cv2, frame)

    def close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


def open_source(source: Source) -> FrameReader:
    """Open ``source`` for its frames (an image is decoded here).

    Raises ZoeExportError when it cannot be read at all: an unreadable image, a video OpenCV cannot open,
    a camera or stream that does not answer, OpenCV missing.
    """
    if source.kind == "image":
        return _ImageReader(source)
    cv2 = _cv2()
    if source.kind == "video":
        path = existing_file(source.path, "video", "pass the path of a video file.")
        capture = _open_capture(cv2, str(path))
        if capture is None:
            raise ZoeExportError(
                f"OpenCV cannot open video {path}: the file is damaged, or its codec is missing from this OpenCV "
                f"build (Video I/O backends here: {_video_backends(cv2)}); re-encode it (e.g. ffmpeg -i "
                f"{shlex.quote(str(path))} -c:v libx264 out.mp4) or install the [video] extra "
                "(pip install 'zoe-export[video]').")
    elif source.location.isdigit():
        capture = _open_capture(cv2, int(source.location))
        if capture is None:
            raise ZoeExportError(
                f"OpenCV cannot open camera {int(source.location)}: check the device is connected and not in use "
                f"by another program (Video I/O backends here: {_video_backends(cv2)}).")
    else:
        capture = _open_capture(cv2, source.location)
        if capture is None:
            raise ZoeExportError(
                f"OpenCV cannot open stream {_redact(source.location)}: check the URL or device, and that the stream "
                f"is reachable from this machine (Video I/O backends here: {_video_backends(cv2)}).")
    try:
        return _CaptureReader(source, cv2, capture)
    except BaseException:
        capture.release()
        raise


def video_fps_for_output(info: StreamInfo) -> float:
    """The frame rate to write a depth video at: the source's, or :data:`DEFAULT_VIDEO_FPS` when it reports none."""
    return info.fps if info.fps is not None and math.isfinite(info.fps) and info.fps > 0 else DEFAULT_VIDEO_FPS


def count_frames(sources: Sequence[Source]) -> int | None:
    """The frames all ``sources`` hold (a progress bar's total): None with a live stream or a video of unknown length.

    Videos are opened only for their reported count; one OpenCV cannot open counts 0 (opening it reports why).
    """
    if any(source.is_live for source in sources):
        return None
    total = 0
    for source in sources:
        if source.kind == "image":
            total += 1
            continue
        cv2 = _cv2()
        capture = _open_capture(cv2, str(source.path))
        if capture is None:
            continue
        try:
            frames = _capture_info(cv2, capture, live=False).frames
        finally:
            capture.release()
        if frames is None:
            return None
        total += frames
    return total


def _cv2():
    return require("cv2", "reading videos and streams")


def _open_capture(cv2, target: str | int):
    """An opened cv2.VideoCapture, or None (released) when OpenCV cannot open ``target``."""
    capture = cv2.VideoCapture(target)
    if capture.isOpened():
        return capture
    capture.release()
    return None


def _capture_info(cv2, capture, live: bool) -> StreamInfo:
    frames = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    fps = capture.get(cv2.CAP_PROP_FPS)
    height, width = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    return StreamInfo(
        frames=None if live or not math.isfinite(frames) or frames <= 0 else int(frames),
        fps=float(fps) if math.isfinite(fps) and fps > 0 else None,
        size=(height, width) if height > 0 and width > 0 else None,
    )


def _rgb(cv2, frame: np.ndarray) -> np.ndarray:
    """An OpenCV frame (BGR, or gray / BGRA from some cameras) as contiguous uint8 RGB."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _video_backends(cv2) -> str:
    """The FFMPEG and GStreamer lines of OpenCV's build information: ``FFMPEG: YES, GStreamer: NO``."""
    section = cv2.getBuildInformation().partition("Video I/O:")[2].strip("\n").split("\n\n")[0]
    found = [" ".join(line.split()) for line in section.splitlines()
             if line.strip().startswith(("FFMPEG:", "GStreamer:"))]
    return ", ".join(found) or "neither FFMPEG nor GStreamer"
