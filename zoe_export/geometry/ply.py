"""PLY files of point clouds and meshes, through plyfile: binary little-endian, written atomically.

The vertex element holds float32 ``x, y, z`` (metres, the camera frame :mod:`zoe_export.geometry.points`
describes) and, when there are colours, uchar ``red, green, blue``; a mesh adds a ``face`` element with
``property list uchar int vertex_indices`` (triangles). MeshLab, CloudCompare, Open3D and Blender read these.
An empty cloud or a mesh without faces is written as a valid PLY with 0 elements.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._files import atomic_output, existing_file
from .._lazy import require
from ..errors import ZoeExportError
from .points import Mesh, PointCloud

#: the header comment that says what the numbers mean
AXES_COMMENT = "zoe-export: metres, camera frame x right, y down, z forward (OpenCV), camera at the origin"

_FACE_PROPERTIES = ("vertex_indices", "vertex_index")  # the usual name, and the one some writers use


def write_point_cloud(path: str | os.PathLike, cloud: PointCloud) -> None:
    """Write ``cloud`` as a binary PLY of vertices (with colours when it has them); all or nothing."""
    points, colors = _checked_vertices(cloud.points, cloud.colors, "point cloud", "points")
    plyfile = require("plyfile", "writing PLY files")
    _write(plyfile, path, [_vertex_element(plyfile, points, colors)])


def write_mesh(path: str | os.PathLike, mesh: Mesh) -> None:
    """Write ``mesh`` as a binary PLY of vertices (with colours when it has them) and triangles; all or nothing."""
    vertices, colors = _checked_vertices(mesh.vertices, mesh.colors, "mesh", "vertices")
    faces = np.asarray(mesh.faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or not (np.issubdtype(faces.dtype, np.integer) or faces.size == 0):
        raise ZoeExportError(f"mesh faces of shape {faces.shape} and dtype {faces.dtype}: expected (F, 3) integer "
                             "vertex indices (triangles).")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ZoeExportError(f"mesh faces index vertices {faces.min()}..{faces.max()}, but the mesh has "
                             f"{len(vertices)} vertices; every index must be in 0..{len(vertices) - 1}.")
    plyfile = require("plyfile", "writing PLY files")
    table = np.empty(len(faces), dtype=[("vertex_indices", "<i4", (3,))])
    table["vertex_indices"] = faces
    face = plyfile.PlyElement.describe(table, "face", len_types={"vertex_indices": "u1"})
    _write(plyfile, path, [_vertex_element(plyfile, vertices, colors), face])


def read_ply(path: str | os.PathLike) -> PointCloud | Mesh:
    """Read a PLY file (binary or ASCII): a :class:`Mesh` when it has a ``face`` element, else a :class:`PointCloud`.

    Points are float32, colours (``red, green, blue``) uint8 when present, faces (F, 3) int32 triangles.
    """
    plyfile = require("plyfile", "reading PLY files")
    source = existing_file(path, "PLY file", "pass the path of a .ply file.")
    data = _read(plyfile, source)
    names = [element.name for element in data.elements]
    if "vertex" not in names:
        raise ZoeExportError(f"PLY file {source} has no vertex element (it has {', '.join(names) or 'none'}); "
                             "pass a point cloud or mesh.")
    vertex = data["vertex"]
    fields = vertex.data.dtype.names or ()
    missing = [axis for axis in "xyz" if axis not in fields]
    if missing:
        raise ZoeExportError(f"PLY file {source}: its vertices have no {', '.join(missing)}; pass a point cloud or "
                             "mesh with x, y, z vertices.")
    points = np.stack([np.asarray(vertex[axis], dtype=np.float32) for axis in "xyz"], axis=1)
    colors = None
    if all(channel in fields for channel in ("red", "green", "blue")):
        colors = np.stack([_channel(vertex[channel], channel, source) for channel in ("red", "green", "blue")], axis=1)
    if "face" not in names:
        return PointCloud(points, colors)
    return Mesh(points, _faces(data["face"], len(points), source), colors)


# --------------------------------------------------------------------------- writing


def _checked_vertices(points, colors, what: str, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(N, 3) finite float32 positions and (N, 3) uint8 colours (or None), or an error that says what is wrong."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3 or not (np.issubdtype(points.dtype, np.number) or points.size == 0):
        raise ZoeExportError(f"{what} {name} of shape {points.shape} and dtype {points.dtype}: expected (N, 3) "
                             "numbers (metres).")
    points = points.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(points).all(axis=1)))
    if bad:
        raise ZoeExportError(f"the {what} has {bad} {name} that are not finite (in float32); drop them first "
                             "(point_cloud and depth_mesh never make any).")
    if colors is not None:
        colors = np.asarray(colors)
        if colors.shape != points.shape or colors.dtype != np.uint8:
            raise ZoeExportError(f"{what} colours of shape {colors.shape} and dtype {colors.dtype} for {len(points)} "
                                 f"{name}: expected ({len(points)}, 3) uint8 RGB, or None.")
    return points, colors


def _vertex_element(plyfile, points: np.ndarray, colors: np.ndarray | None):
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colors is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    table = np.empty(len(points), dtype=fields)
    for index, axis in enumerate("xyz"):
        table[axis] = points[:, index]
    if colors is not None:
        for index, channel in enumerate(("red", "green", "blue")):
            table[channel] = colors[:, index]
    return plyfile.PlyElement.describe(table, "vertex")


def _write(plyfile, path: str | os.PathLike, elements: list) -> None:
    """Binary little-endian PLY through a temporary file renamed when complete."""
    data = plyfile.PlyData(elements, text=False, byte_order="<", comments=[AXES_COMMENT])
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as stream:
            data.write(stream)
    except OSError as exc:
        raise ZoeExportError(f"cannot write {path}: {exc.strerror or exc}. Choose an output path in a writable "
                             "folder with free space.") from exc


# --------------------------------------------------------------------------- reading


def _read(plyfile, source: Path):
    """The parsed file; triangle faces of binary files are memory-mapped (fast), anything else read row by row."""
    triangles = {"face": {name: 3 for name in _FACE_PROPERTIES}}
    try:
        try:
            return plyfile.PlyData.read(str(source), known_list_len=triangles)
        except plyfile.PlyElementParseError as exc:
            if "unexpected list length" not in str(exc):
                raise
            return plyfile.PlyData.read(str(source), mmap=False)  # polygons other than triangles: _faces says so
    except plyfile.PlyHeaderParseError as exc:
        raise ZoeExportError(f"{source} is not a PLY file ({exc}); pass a .ply point cloud or mesh.") from None
    except plyfile.PlyParseError as exc:
        raise ZoeExportError(f"PLY file {source} is truncated or corrupt ({exc}); write it again.") from None
    except (ValueError, EOFError) as exc:
        raise ZoeExportError(f"{source} is not a valid PLY file ({exc}); pass a .ply point cloud or mesh.") from None
    except OSError as exc:
        raise ZoeExportError(f"cannot read PLY file {source}: {exc.strerror or exc}.") from exc


def _channel(values: np.ndarray, name: str, source: Path) -> np.ndarray:
    """A colour channel as uint8: integer values 0..255 (uchar, or a wider integer type holding them)."""
    values = np.asarray(values)
    if values.dtype == np.uint8:
        return values
    if np.issubdtype(values.dtype, np.integer) and (values.size == 0 or (values.min() >= 0 and values.max() <= 255)):
        return values.astype(np.uint8)
    raise ZoeExportError(f"PLY file {source}: vertex {name} is {values.dtype}, not 0..255 integers; read_ply reads "
                         "uchar colours.")


def _faces(face, vertex_count: int, source: Path) -> np.ndarray:
    """(F, 3) int32 triangles of the face element, checked against the vertex count."""
    fields = face.data.dtype.names or ()
    name = next((name for name in _FACE_PROPERTIES if name in fields), None)
    if name is None:
        raise ZoeExportError(f"PLY file {source}: its faces have no vertex_indices; pass a triangle mesh.")
    column = face[name]
    if column.dtype == object:  # read row by row: one array per face
        sizes = {len(row) for row in column}
        if sizes - {3}:
            raise ZoeExportError(f"PLY file {source} has faces of {', '.join(map(str, sorted(sizes - {3})))} "
                                 "vertices; read_ply reads triangle meshes (triangulate it first).")
        column = np.stack(list(column)) if len(column) else np.zeros((0, 3), dtype=np.int64)
    faces = np.asarray(column).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= vertex_count):
        raise ZoeExportError(f"PLY file {source}: faces index vertices {faces.min()}..{faces.max()}, but it has "
                             f"{vertex_count} vertices; the file is corrupt.")
    return faces.astype(np.int32)
