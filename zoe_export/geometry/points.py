"""Metric depth + a pinhole camera -> 3D points, coloured point clouds and triangle meshes.

Axes: the OpenCV / ROS optical camera frame, in metres, with the camera at the origin: x to the right, y down,
z forward along the optical axis. A pixel (u, v) with depth Z lands at

    X = (u - cx) / fx * Z,    Y = (v - cy) / fy * Z,    Z = depth

Depth is the distance along the optical axis (z), not along the pixel's ray: ZoeDepth predicts z. The official
ZoeDepth 3D demo shows its points in PyTorch3D's axes (x left, y up, z forward): x and y negated.

Valid depth is finite, more than 0 and, when ``max_depth`` is given, at most ``max_depth`` metres. A depth edge
(:func:`depth_edges`) is the official demo's rule: where the depth changes by more than ``edge_threshold`` metres
per pixel (numpy.gradient along rows and columns), the two sides of a silhouette that points or faces would
otherwise join with a wall of stretched geometry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ZoeExportError, option
from .camera import Camera

#: metres of depth change per pixel above which the official demo cuts the mesh
DEFAULT_EDGE_THRESHOLD = 0.05


@dataclass
class PointCloud:
    """``points``: (N, 3) float32 metres in the camera frame; ``colors``: (N, 3) uint8 RGB, or None."""

    points: np.ndarray
    colors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.points)


@dataclass
class Mesh:
    """``vertices``: (V, 3) float32 metres in the camera frame; ``faces``: (F, 3) int32 vertex indices, counter-
    clockwise as the camera sees them (right-hand normals point at it); ``colors``: (V, 3) uint8 per vertex, or None."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None


# --------------------------------------------------------------------------- points


def points_grid(depth: np.ndarray, camera: Camera) -> np.ndarray:
    """Every pixel's 3D point: (H, W, 3) float32 metres for an HxW depth map (non-finite depth gives non-finite
    points). ``camera`` is fitted to the depth's size first (:meth:`Camera.for_image`)."""
    depth = _depth_map(depth)
    height, width = depth.shape
    intrinsics = camera.for_image(height, width)
    z = depth.astype(np.float64)
    with np.errstate(invalid="ignore"):  # 0 * inf at the principal point's row or column is nan, as it should be
        x = ((np.arange(width) - intrinsics.cx) / intrinsics.fx)[None, :] * z
        y = ((np.arange(height) - intrinsics.cy) / intrinsics.fy)[:, None] * z
    return np.stack([x, y, z], axis=-1).astype(np.float32)


def depth_edges(depth: np.ndarray, threshold: float = DEFAULT_EDGE_THRESHOLD) -> np.ndarray:
    """Where depth jumps: bool (H, W), True where the magnitude of numpy.gradient along rows and columns (metres per
    pixel, central differences inside, one-sided at the border) exceeds ``threshold`` metres.

    Non-finite depth is an edge, and so is a pixel next to one (its gradient is unknown).
    """
    depth = _depth_map(depth).astype(np.float64)
    threshold = _edge_threshold(threshold)
    with np.errstate(invalid="ignore", over="ignore"):
        rows, cols = (np.gradient(depth, axis=axis) if depth.shape[axis] > 1 else np.zeros_like(depth)
                      for axis in (0, 1))
        magnitude = np.hypot(rows, cols)
        return ~(magnitude <= threshold) | ~np.isfinite(depth)


def depth_to_points(depth: np.ndarray, camera: Camera, *, max_depth: float | None = None, drop_edges: bool = False,
                    edge_threshold: float = DEFAULT_EDGE_THRESHOLD) -> np.ndarray:
    """The valid pixels' 3D points, (N, 3) float32 metres in row-major pixel order.

    Valid: finite depth, more than 0, at most ``max_depth`` when given, and with ``drop_edges`` not on a depth
    edge (:func:`depth_edges` with ``edge_threshold``).
    """
    depth = _depth_map(depth)
    keep = _kept_pixels(depth, max_depth, drop_edges, edge_threshold)
    return points_grid(depth, camera)[keep]


def point_cloud(depth: np.ndarray, rgb: np.ndarray | None, camera: Camera, *, max_depth: float | None = None,
                drop_edges: bool = False, edge_threshold: float = DEFAULT_EDGE_THRESHOLD) -> PointCloud:
    """:func:`depth_to_points` with each point's colour from ``rgb`` (HxWx3 uint8 at the depth's size; None: no
    colours)."""
    depth = _depth_map(depth)
    colors = None if rgb is None else _rgb_for(rgb, depth.shape)
    keep = _kept_pixels(depth, max_depth, drop_edges, edge_threshold)
    return PointCloud(points_grid(depth, camera)[keep], None if colors is None else colors[keep])


# --------------------------------------------------------------------------- meshes


def depth_mesh(depth: np.ndarray, rgb: np.ndarray | None, camera: Camera, *, cut_edges: bool = True,
               edge_threshold: float = DEFAULT_EDGE_THRESHOLD, max_depth: float | None = None) -> Mesh:
    """A triangle mesh over the pixel grid: one vertex per pixel (index v * W + u), two triangles per 2x2 cell.

    For the cell with top-left vertex tl, top-right tr = tl + 1, bottom-left bl = tl + W and bottom-right
    br = bl + 1 the triangles are (tl, bl, tr) and (br, tr, bl), cells in row-major order (the official demo's
    order): counter-clockwise in the image, so they face the camera (right-hand normals point at it). A face is
    dropped when one of its vertices has invalid depth (non-finite, 0 or less, beyond ``max_depth``) and, with
    ``cut_edges``, when one lies on a depth edge (:func:`depth_edges` with ``edge_threshold``). Vertices whose
    depth is not finite are placed at the origin (no face uses them). ``rgb``: HxWx3 uint8 vertex colours at the
    depth's size, or None.
    """
    depth = _depth_map(depth)
    height, width = depth.shape
    if height * width > np.iinfo(np.int32).max:
        raise ZoeExportError(f"a {height}x{width} depth map has more vertices than int32 face indices can address; "
                             "resize it first.")
    colors = None if rgb is None else _rgb_for(rgb, depth.shape).reshape(-1, 3)
    usable = _kept_pixels(depth, max_depth, cut_edges, edge_threshold).reshape(-1)
    faces = _grid_triangles(height, width)
    faces = faces[usable[faces].all(axis=1)]
    vertices = points_grid(depth, camera).reshape(-1, 3)
    vertices[~np.isfinite(depth.reshape(-1))] = 0.0
    return Mesh(vertices, faces.astype(np.int32), colors)


def _grid_triangles(height: int, width: int) -> np.ndarray:
    """All 2 * (H-1) * (W-1) triangles of the grid, (tl, bl, tr) and (br, tr, bl) per cell, int64."""
    tl = (np.arange(height - 1)[:, None] * width + np.arange(width - 1)[None, :]).reshape(-1)
    tr, bl = tl + 1, tl + width
    br = bl + 1
    return np.stack([tl, bl, tr, br, tr, bl], axis=1).reshape(-1, 3)


# --------------------------------------------------------------------------- checks


def _depth_map(depth) -> np.ndarray:
    """An HxW floating-point depth map in metres, or an error that says what was passed."""
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ZoeExportError(f"expected an HxW depth map in metres, got shape {depth.shape}; DepthEngine.predict "
                             "returns one (squeeze batch and channel axes first).")
    if not np.issubdtype(depth.dtype, np.floating):
        raise ZoeExportError(f"depth map of dtype {depth.dtype}: pass float metres (read_depth_png16 converts "
                             "16-bit PNGs of millimetres).")
    if depth.size == 0:
        raise ZoeExportError(f"the depth map of shape {depth.shape} is empty; pass at least one pixel.")
    return depth


def _edge_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(threshold) < np.inf:
        raise ZoeExportError(f"edge_threshold={threshold!r}: give metres of depth "
                             f"change per pixel, 0 or more (the official demo uses {DEFAULT_EDGE_THRESHOLD}).")
    return float(threshold)


def _valid_depth(depth: np.ndarray, max_depth: float | None) -> np.ndarray:
    """Finite, more than 0 and at most ``max_depth`` (when given)."""
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(
            max_depth, (int, float, np.integer, np.floating)) or not float(max_depth) > 0):
        raise ZoeExportError(f"{option('--ply-max-depth', 'max_depth=')} {max_depth!r}: give metres, more than 0.")
    valid = np.isfinite(depth) & (depth > 0)
    if max_depth is not None:
        valid &= depth <= max_depth
    return valid


def _kept_pixels(depth: np.ndarray, max_depth: float | None, drop_edges: bool, edge_threshold: float) -> np.ndarray:
    """Valid depth, and off the depth edges when ``drop_edges``."""
    edges = depth_edges(depth, edge_threshold)  # checks the threshold even when unused
    keep = _valid_depth(depth, max_depth)
    return keep & ~edges if drop_edges else keep


def _rgb_for(rgb, shape: tuple[int, int]) -> np.ndarray:
    """``rgb`` as HxWx3 uint8 at the depth's size, or an error that names both sizes."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ZoeExportError(f"expected an HxWx3 RGB image for the colours, got shape {rgb.shape}.")
    if rgb.dtype != np.uint8:
        raise ZoeExportError(f"RGB image of dtype {rgb.dtype}: pass uint8 colours (read_image returns them).")
    if rgb.shape[:2] != shape:
        raise ZoeExportError(f"a {rgb.shape[0]}x{rgb.shape[1]} RGB image for a {shape[0]}x{shape[1]} depth map: "
                             "pass the image the depth was predicted from (DepthEngine.predict returns depth at the "
                             f"image's size), or resize it to {shape[0]}x{shape[1]}.")
    return rgb
