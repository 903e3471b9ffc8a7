"""What ``zoe-export predict`` writes for a frame, and where: names that mirror the input tree.

    OUT/<name>_depth.png      colour depth ("color")          OUT/<name>.ply       point cloud ("ply")
    OUT/<name>_depth_mm.png   16-bit millimetres ("mm16")     OUT/<name>_mesh.ply  mesh from the depth grid ("mesh")
    OUT/<name>_depth.npy      float32 metres ("npy")          OUT/<name>_depth.mp4 depth video of a video ("video")
    OUT/<name>_panel.png      input | depth ("panel")

``<name>`` is the input's name (:mod:`zoe_export.io.sources`: a folder's files keep their relative path); a
video's or stream's frames are ``<name>/frame_000123``. Every file is written to a temporary file and
renamed, so an interrupted run leaves only complete files.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import geometry
from .._files import PendingFile, atomic_output
from ..errors import ZoeExportError, option
from ..io import images
from ..io.sources import Source

#: every output kind, in the order ``--save`` lists them
SAVE_KINDS = ("color", "mm16", "npy", "panel", "video", "ply", "mesh")
#: the suffix each per-frame kind adds to the frame's name
FRAME_FILES = {"color": "_depth.png", "mm16": "_depth_mm.png", "npy": "_depth.npy", "panel": "_panel.png",
               "ply": ".ply", "mesh": "_mesh.ply"}
#: what is written without ``--save``: pictures for photos, a depth video for videos and streams
DEFAULT_SAVES = {"image": ("color", "mm16", "panel"), "video": ("video",), "stream": ("video",)}
VIDEO_SUFFIX = ".mp4"


def parse_saves(text: str | None) -> tuple[str, ...] | None:
    """``"color,ply"`` -> ("color", "ply"); None: the defaults per input kind."""
    if text is None:
        return None
    kinds = tuple(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in SAVE_KINDS]
    if unknown or not kinds:
        raise ZoeExportError(f"{option('--save', 'save=')} {text!r}: choose from {','.join(SAVE_KINDS)} "
                             f"(comma-separated).")
    return kinds


@dataclass(frozen=True)
class Layout:
    """Where a run's outputs go: ``root`` and the kinds asked for (None: :data:`DEFAULT_SAVES`)."""

    root: Path
    saves: tuple[str, ...] | None = None

    def kinds(self, source: Source) -> tuple[str, ...]:
        """The kinds written for ``source`` ("video" only for videos and streams)."""
        kinds = self.saves if self.saves is not None else DEFAULT_SAVES[source.kind]
        return tuple(k for k in kinds if k != "video" or source.kind != "image")

    def frame_kinds(self, source: Source) -> tuple[str, ...]:
        return tuple(k for k in self.kinds(source) if k != "video")

    def stem(self, source: Source) -> Path:
        """OUT/<name>: an image's outputs are named after it, a video's frames go in it (a folder)."""
        return self.root / Path(*source.name.parts)

    def frame_stem(self, source: Source, index: int) -> Path:
        stem = self.stem(source)
        return stem if source.kind == "image" else stem / f"frame_{index:06d}"

    def frame_paths(self, source: Source, index: int) -> dict[str, Path]:
        stem = self.frame_stem(source, index)
        return {kind: stem.with_name(stem.name + FRAME_FILES[kind]) for kind in self.frame_kinds(source)}

    def video_path(self, source: Source) -> Path | None:
        if "video" not in self.kinds(source):
            return None
        stem = self.stem(source)
        return stem.with_name(stem.name + "_depth" + VIDEO_SUFFIX)

    def done(self, source: Source, index: int) -> bool:
        """Whether every per-frame file of this frame exists (``--skip-existing``)."""
        paths = self.frame_paths(source, index)
        return bool(paths) and all(p.is_file() for p in paths.values())


@dataclass(frozen=True)
class CloudOptions:
    """How point clouds and meshes are made: the camera (None: the official field of view, warned once) and filters."""

    camera: geometry.Camera | None = None
    fov_deg: float | None = None
    max_depth: float | None = None
    drop_edges: bool = False

    def camera_for(self, height: int, width: int) -> geometry.Camera:
        if self.camera is not None:
            return self.camera.for_image(height, width)
        return geometry.Camera.from_fov(height, width, self.fov_deg or geometry.DEFAULT_FOV_DEG)


def write_frame(paths: dict[str, Path], rgb: np.ndarray, depth: np.ndarray, cloud: CloudOptions,
                colour: np.ndarray | None = None) -> dict[str, str]:
    """Write a frame's outputs (``paths`` from :meth:`Layout.frame_paths`); returns kind -> path written.

    ``colour``: the frame's colour depth when the caller made it already (a video's, in its fixed range)."""
    written = {}
    # the camera first: intrinsics that contradict the frame fail it before any of its files is written
    camera = cloud.camera_for(*depth.shape) if {"ply", "mesh"} & set(paths) else None
    if ("color" in paths or "panel" in paths) and colour is None:
        colour = images.colorize_depth(depth)
    for kind, path in paths.items():
        if kind == "color":
            images.write_image(path, colour, images.FAST_PNG)
        elif kind == "mm16":
            images.write_depth_png16(path, depth, compress_level=images.FAST_PNG)
        elif kind == "npy":
            with atomic_output(path) as tmp, open(tmp, "wb") as f:
                np.save(f, np.asarray(depth, dtype=np.float32))
        elif kind == "panel":
            images.write_image(path, images.side_by_side([rgb, colour], ["input", "metric depth"]), images.FAST_PNG)
        elif kind == "ply":
            points = geometry.point_cloud(depth, rgb, camera, max_depth=cloud.max_depth, drop_edges=cloud.drop_edges)
            geometry.write_point_cloud(path, points)
        elif kind == "mesh":
            mesh = geometry.depth_mesh(depth, rgb, camera, cut_edges=True, max_depth=cloud.max_depth)
            geometry.write_mesh(path, mesh)
        written[kind] = str(path)
    return written


class VideoSink:
    """A depth video written frame by frame in order (frames may arrive out of order from writer threads), at the
    input's frame rate and size, in colour with one depth range for the whole video (no flicker); renamed into
    place by :meth:`close` only when complete."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps = path, fps
        self._pending: dict[int, np.ndarray] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._file: PendingFile | None = None
        self._writer = None
        self._range: tuple[float, float] | None = None
        self._range_set = threading.Event()
        self._size: tuple[int, int] | None = None
        self._black_first = 0  # failed frames before the first good one (which gives the size)
        self.frames = 0

    # the colour range: the first frame in order sets it, the others wait for it
    def set_range(self, depth: np.ndarray | None) -> None:
        if depth is not None:
            finite = depth[np.isfinite(depth)]
            if finite.size:
                self._range = (float(np.percentile(finite, 2)), float(np.percentile(finite, 98)))
        self._range_set.set()

    def colour(self, depth: np.ndarray) -> np.ndarray:
        self._range_set.wait()
        low, high = self._range if self._range is not None else (None, None)
        return images.colorize_depth(depth, vmin=low, vmax=high)

    def put(self, index: int, frame: np.ndarray | None) -> None:
        """Frame ``index`` of the video (uint8 HxWx3 RGB), or None where the frame failed (a black frame keeps the
        timing)."""
        with self._lock:
            self._pending[index] = frame
            while self._next in self._pending:
                self._write(self._pending.pop(self._next))
                self._next += 1

    def _write(self, frame: np.ndarray | None) -> None:
        if frame is None:
            if self._writer is None:
                self._black_first += 1
                return
            frame = np.zeros(self._size + (3,), np.uint8)
        if self._writer is None:
            self._open(frame.shape[:2])
            for _ in range(self._black_first):
                self._writer.write(np.zeros(frame.shape, np.uint8))
            self.frames += self._black_first
        self._writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV takes BGR
        self.frames += 1

    def _open(self, size: tuple[int, int]) -> None:
        import cv2

        self._size = size
        self._file = PendingFile(self.path, keep_suffix=True)
        self._writer = cv2.VideoWriter(str(self._file.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                       (size[1], size[0]))
        if not self._writer.isOpened():
            self._file.discard()
            raise ZoeExportError(f"OpenCV cannot write {self.path} (mp4v): this OpenCV build has no video encoder; "
                                 "install opencv-python-headless (the [video] extra), or leave video out of --save.")

    def close(self, complete: bool) -> Path | None:
        """Finish the file: renamed into place when ``complete`` and frames were written, else removed."""
        with self._lock:
            if self._writer is not None:
                self._writer.release()
            if self._file is None:
                return None
            if complete and self.frames:
                return self._file.commit()
            self._file.discard()
            return None
