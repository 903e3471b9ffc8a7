"""Pinhole camera intrinsics in pixels: from a field of view, from a camera file, fitted to an image's size.

Pixel (u, v) sits at integer coordinates: u = 0 .. W-1 left to right, v = 0 .. H-1 top to bottom. ``fx``,
``fy`` are the focal lengths and ``cx``, ``cy`` the principal point, all in pixels; the camera matrix is
``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``. Lens distortion is not modelled: undistort images first.

Camera files (:meth:`Camera.from_file`) are JSON or YAML with

* flat keys ``fx, fy, cx, cy`` (optional ``width``, ``height``: the image size they were calibrated for), or
* an OpenCV-style 3x3 ``K`` / ``k`` / ``camera_matrix`` (nested lists, 9 numbers row by row, or a
  ``{rows: 3, cols: 3, data: [...]}`` mapping as ROS ``camera_info`` and OpenCV's ``FileStorage`` write it),
  with the size in ``image_width`` / ``image_height`` (or ``width`` / ``height``).
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._files import existing_file
from .._lazy import require
from .._log import log
from ..errors import ZoeExportError, option

#: horizontal field of view (degrees) the official ZoeDepth 3D demo assumes when nothing is known of the camera
DEFAULT_FOV_DEG = 55.0

#: a resized image keeps its aspect ratio: both sides' scale factors agree within this fraction
RESIZE_TOLERANCE = 0.01

_MATRIX_KEYS = ("K", "k", "camera_matrix")
_DISTORTION_KEYS = ("D", "d", "distortion_coefficients", "dist_coeffs")
_FILE_FIX = "pass a JSON or YAML file with fx, fy, cx, cy in pixels (or a 3x3 camera matrix K)."


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics in pixels; ``width`` x ``height``: the image size they were calibrated for, when known."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int | None = None
    height: int | None = None

    def __post_init__(self):
        for name in ("fx", "fy", "cx", "cy"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ZoeExportError(f"camera {name} {value!r} is not a number; give the intrinsics in pixels.")
            object.__setattr__(self, name, float(value))
        if (self.width is None) != (self.height is None):
            raise ZoeExportError(f"camera with width {self.width} and height {self.height}: give both the image "
                                 "size the intrinsics were calibrated for, or neither.")
        if self.width is not None:
            object.__setattr__(self, "width", _side(self.width, "camera width"))
            object.__setattr__(self, "height", _side(self.height, "camera height"))

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_fov(cls, height: int, width: int, fov_deg: float = DEFAULT_FOV_DEG) -> "Camera":
        """The official ZoeDepth 3D demo's camera for an ``height`` x ``width`` image: ``fov_deg`` is the horizontal
        field of view, ``fx = fy = 0.5 * W / tan(0.5 * fov)``, principal point ``(W / 2, H / 2)``."""
        height, width = _side(height, "image height"), _side(width, "image width")
        if (isinstance(fov_deg, bool) or not isinstance(fov_deg, (int, float, np.integer, np.floating))
                or not 0.0 < float(fov_deg) < 180.0):
            raise ZoeExportError(f"{option('--fov', 'fov_deg=')} {fov_deg!r}: give the horizontal field of view in "
                                 "degrees, more than 0 and less than 180 (ZoeDepth's demo assumes "
                                 f"{DEFAULT_FOV_DEG:g}).")
        focal = 0.5 * width / math.tan(0.5 * math.radians(float(fov_deg)))
        return cls(focal, focal, 0.5 * width, 0.5 * height, width=width, height=height)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Camera":
        """Read intrinsics from a ``.json``, ``.yaml`` or ``.yml`` camera file (the module docstring lists the keys)."""
        source = existing_file(path, "camera file", _FILE_FIX)
        suffix = source.suffix.lower()
        if suffix not in (".json", ".yaml", ".yml"):
            raise ZoeExportError(f"camera file {source}: unknown suffix {source.suffix or '(none)'!r}; give a .json, "
                                 ".yaml or .yml file with fx, fy, cx, cy (or a 3x3 camera matrix K).")
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ZoeExportError(f"camera file {source} is not a text file; {_FILE_FIX}") from None
        except OSError as exc:
            raise ZoeExportError(f"cannot read camera file {source}: {exc.strerror or exc}.") from exc
        content = _parse_json(text, source) if suffix == ".json" else _parse_yaml(text, source)
        if not isinstance(content, dict):
            raise ZoeExportError(f"camera file {source} holds a {type(content).__name__}, not a mapping of keys; "
                                 f"{_FILE_FIX}")
        return _camera_from_mapping(content, source)

    # -- use ---------------------------------------------------------------------------------------
    def for_image(self, height: int, width: int) -> "Camera":
        """These intrinsics for an ``height`` x ``width`` image, with ``width`` and ``height`` set.

        A camera calibrated for another size of the same aspect ratio (a resized image: both sides scale by the same
        factor within 1 %) is scaled: ``fx``, ``cx`` by W'/W and ``fy``, ``cy`` by H'/H. Another aspect ratio, a
        principal point outside the image or a focal length that is not a positive number is an error.
        """
        height, width = _side(height, "image height"), _side(width, "image width")
        for name, value in (("fx", self.fx), ("fy", self.fy)):
            if not (math.isfinite(value) and value > 0):
                raise ZoeExportError(f"camera {name} = {value:g}: focal lengths are positive numbers of pixels; "
                                     "fix the intrinsics.")
        for name, value in (("cx", self.cx), ("cy", self.cy)):
            if not math.isfinite(value):
                raise ZoeExportError(f"camera {name} = {value:g}: the principal point is a finite pixel position; "
                                     "fix the intrinsics.")
        fx, fy, cx, cy = self.fx, self.fy, self.cx, self.cy
        if self.width is not None and (self.width, self.height) != (width, height):
            scale_x, scale_y = width / self.width, height / self.height
            if abs(scale_x / scale_y - 1.0) > RESIZE_TOLERANCE:
                raise ZoeExportError(
                    f"camera intrinsics for a {self.height}x{self.width} (HxW) image contradict the {height}x{width} "
                    "image: another aspect ratio is not a resized copy. Use the intrinsics calibrated for "
                    f"{height}x{width}, or resize the image to {self.height}x{self.width} first.")
            fx, cx, fy, cy = fx * scale_x, cx * scale_x, fy * scale_y, cy * scale_y
        if not (0.0 <= cx <= width and 0.0 <= cy <= height):
            raise ZoeExportError(
                f"camera principal point ({cx:g}, {cy:g}) lies outside the {height}x{width} (HxW) image: the "
                "intrinsics contradict the image size. Use the intrinsics calibrated for this image (cx, cy are "
                "pixels, about half the width and height).")
        return Camera(fx, fy, cx, cy, width=width, height=height)

    def as_dict(self) -> dict:
        """``{fx, fy, cx, cy}`` plus ``width``, ``height`` when known: what :meth:`from_file` reads back from JSON."""
        values: dict = {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}
        if self.width is not None:
            values.update(width=self.width, height=self.height)
        return values

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 camera matrix ``K`` (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=np.float64)


# --------------------------------------------------------------------------- checks


def _side(value, name: str) -> int:
    """An image side: a whole number of pixels, 1 or more."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not float(value).is_integer() or value < 1:
        raise ZoeExportError(f"{name} {value!r}: give a whole number of pixels, 1 or more.")
    return int(value)


# --------------------------------------------------------------------------- camera files


def _parse_json(text: str, source: Path):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ZoeExportError(f"camera file {source} is not valid JSON ({exc}); {_FILE_FIX}") from None


def _parse_yaml(text: str, source: Path):
    yaml = require("yaml", "reading YAML camera files", install="pip install pyyaml",
                   instead="write the camera as JSON")

    class Loader(yaml.SafeLoader):
        """Safe YAML that also reads OpenCV FileStorage files (a ``%YAML:1.0`` line, ``!!opencv-matrix`` tags)."""

    def opencv_matrix(loader, node):
        return loader.construct_mapping(node, deep=True)

    Loader.add_constructor("tag:yaml.org,2002:opencv-matrix", opencv_matrix)
    text = re.sub(r"\A%YAML:1\.0[^\n]*\n", "", text)  # OpenCV's directive is not YAML's
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ZoeExportError(f"camera file {source} is not valid YAML{line}; {_FILE_FIX}") from None


def _camera_from_mapping(content: dict, source: Path) -> Camera:
    """fx, fy, cx, cy from the flat keys or the camera matrix (both, when both are given and agree)."""
    flat = [key for key in ("fx", "fy", "cx", "cy") if key in content]
    matrix_key = next((key for key in _MATRIX_KEYS if key in content), None)
    if not flat and matrix_key is None:
        raise ZoeExportError(f"camera file {source} has neither fx, fy, cx, cy nor a camera matrix "
                             f"({', '.join(_MATRIX_KEYS)}); {_FILE_FIX}")
    values = None
    if flat:
        missing = [key for key in ("fx", "fy", "cx", "cy") if key not in content]
        if missing and matrix_key is None:
            raise ZoeExportError(f"camera file {source} lacks {', '.join(missing)}; give all of fx, fy, cx, cy in "
                                 "pixels (or a 3x3 camera matrix K).")
        if not missing:
            values = tuple(_number(content[key], key, source) for key in ("fx", "fy", "cx", "cy"))
    if matrix_key is not None:
        from_matrix = _intrinsics_from_matrix(content[matrix_key], matrix_key, source)
        if values is not None and not np.allclose(values, from_matrix, rtol=1e-6, atol=1e-9):
            raise ZoeExportError(f"camera file {source}: fx, fy, cx, cy {values} contradict {matrix_key} "
                                 f"{from_matrix}; keep one of them.")
        values = from_matrix
    fx, fy, cx, cy = values
    for name, value in (("fx", fx), ("fy", fy)):
        if not value > 0:
            raise ZoeExportError(f"camera file {source}: {name} = {value:g}; focal lengths are positive numbers of "
                                 "pixels.")
    width, height = _image_size(content, source)
    _warn_about_distortion(content, source)
    return Camera(fx, fy, cx, cy, width=width, height=height)


def _number(value, name: str, source: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ZoeExportError(f"camera file {source}: {name} is {value!r}, not a number; {_FILE_FIX}")
    if not math.isfinite(value):
        raise ZoeExportError(f"camera file {source}: {name} is {value!r}; give a finite number of pixels.")
    return float(value)


def _intrinsics_from_matrix(value, key: str, source: Path) -> tuple[float, float, float, float]:
    """fx, fy, cx, cy of a 3x3 camera matrix, given as nested lists, 9 numbers, or {rows, cols, data}."""
    shape = (3, 3)
    if isinstance(value, dict):
        if "data" not in value:
            raise ZoeExportError(f"camera file {source}: {key} is a mapping without data; give {key} as "
                                 "{rows: 3, cols: 3, data: [9 numbers]} or as a 3x3 list.")
        shape = (value.get("rows", 3), value.get("cols", 3))
        value = value["data"]
    if not isinstance(value, list):
        raise ZoeExportError(f"camera file {source}: {key} is {value!r}; give a 3x3 camera matrix.")
    rows = value if value and all(isinstance(row, list) for row in value) else [value]
    numbers = [_number(x, key, source) for row in rows for x in (row if isinstance(row, list) else [row])]
    if shape != (3, 3) or len(numbers) != 9 or (len(rows) > 1 and [len(row) for row in rows] != [3, 3, 3]):
        raise ZoeExportError(f"camera file {source}: {key} is not 3x3; give the camera matrix "
                             "[[fx, 0, cx], [0, fy, cy], [0, 0, 1]].")
    k = np.array(numbers, dtype=np.float64).reshape(3, 3)
    fx, fy = k[0, 0], k[1, 1]
    if not np.allclose(k[2], [0.0, 0.0, 1.0]) or abs(k[1, 0]) > 1e-6 * max(abs(fy), 1.0):
        raise ZoeExportError(f"camera file {source}: {key} {k.tolist()} is not a camera matrix (its last row must be "
                             "0, 0, 1; is it transposed?); give [[fx, 0, cx], [0, fy, cy], [0, 0, 1]].")
    if abs(k[0, 1]) > 1e-6 * max(abs(fx), 1.0):
        raise ZoeExportError(f"camera file {source}: {key} has skew {k[0, 1]:g}; only cameras without skew "
                             "(K[0][1] = 0) are supported.")
    return float(fx), float(fy), float(k[0, 2]), float(k[1, 2])


def _image_size(content: dict, source: Path) -> tuple[int | None, int | None]:
    """The calibrated image size from width/height or image_width/image_height, when the file gives it."""
    width = content.get("width", content.get("image_width"))
    height = content.get("height", content.get("image_height"))
    if width is None and height is None:
        return None, None
    if width is None or height is None:
        raise ZoeExportError(f"camera file {source} gives only the image {'height' if width is None else 'width'}; "
                             "give both width and height of the calibrated image, or neither.")
    try:
        return _side(width, "width"), _side(height, "height")
    except ZoeExportError as exc:
        raise ZoeExportError(f"camera file {source}: {exc}") from None


def _warn_about_distortion(content: dict, source: Path) -> None:
    """Lens distortion is not modelled: say so when the file has non-zero coefficients."""
    for key in _DISTORTION_KEYS:
        value = content.get(key)
        if isinstance(value, dict):
            value = value.get("data")
        if isinstance(value, list):
            flat = [x for row in value for x in (row if isinstance(row, list) else [row])]
            if any(isinstance(x, (int, float)) and x != 0 for x in flat):
                log.warning("camera file %s: the distortion coefficients (%s) are ignored; undistort the images "
                            "first for accurate geometry.", source, key)
            return
