"""Depth -> points, edges, coloured clouds and meshes, checked on planes whose geometry is known exactly."""
from __future__ import annotations

import math

import numpy as np
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.geometry import (
    Camera,
    Mesh,
    PointCloud,
    depth_edges,
    depth_mesh,
    depth_to_points,
    point_cloud,
    points_grid,
)

#: float32 points from float64 geometry: a few float32 roundings (eps 6e-8) of values of a few metres
RELATIVE_FLOAT32 = 1e-5


def _step(height: int = 5, width: int = 8, near: float = 2.0, far: float = 3.0) -> np.ndarray:
    """Depth ``near`` metres in the left half, ``far`` in the right half (the step between columns 3 and 4 at W=8)."""
    depth = np.full((height, width), near, dtype=np.float32)
    depth[:, width // 2:] = far
    return depth


def _pixel_colours(height: int, width: int) -> np.ndarray:
    """An RGB image whose colour says where it is: red = column, green = row, blue = 7."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.arange(width)[None, :]
    rgb[..., 1] = np.arange(height)[:, None]
    rgb[..., 2] = 7
    return rgb


# --------------------------------------------------------------------------- planes


def test_a_fronto_parallel_plane_spans_the_field_of_view():
    height, width, z = 6, 8, 2.5
    camera = Camera.from_fov(height, width)  # 55 degrees across, principal point (4, 3)
    points = points_grid(np.full((height, width), z, dtype=np.float32), camera)
    assert points.shape == (height, width, 3) and points.dtype == np.float32
    np.testing.assert_array_equal(points[..., 2], z)
    half_width = z * math.tan(math.radians(27.5))  # the left border u = 0 is W/2 pixels from cx: half the view
    np.testing.assert_allclose(points[:, 0, 0], -half_width, rtol=RELATIVE_FLOAT32)
    np.testing.assert_allclose(points[:, -1, 0], half_width * (width / 2 - 1) / (width / 2), rtol=RELATIVE_FLOAT32)
    np.testing.assert_allclose(points[0, :, 1], -half_width * (height / 2) / (width / 2), rtol=RELATIVE_FLOAT32)
    assert np.all(np.diff(points[..., 0], axis=1) > 0)  # x to the right
    assert np.all(np.diff(points[..., 1], axis=0) > 0)  # y down
    np.testing.assert_array_equal(points[3, 4, :2], 0.0)  # the principal point looks straight ahead


def test_a_tilted_plane_is_a_plane():
    height, width = 40, 60
    camera = Camera(fx=50.0, fy=55.0, cx=30.0, cy=20.0)
    normal = np.array([0.2, -0.3, 1.0]) / np.linalg.norm([0.2, -0.3, 1.0])
    distance = 3.0
    u, v = np.meshgrid(np.arange(width), np.arange(height))
    rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(camera.matrix).T  # K^-1 [u, v, 1]: z = 1
    depth = (distance / (rays @ normal)).astype(np.float32)
    assert depth.min() > 0 and depth.max() / depth.min() > 1.3  # in front of the camera, and really tilted

    points = points_grid(depth, camera)
    np.testing.assert_allclose(points.astype(np.float64) @ normal, distance, rtol=RELATIVE_FLOAT32)
    np.testing.assert_array_equal(points[20, 30, :2], 0.0)
    assert points[20, 30, 2] == pytest.approx(distance / normal[2], rel=RELATIVE_FLOAT32)
    np.testing.assert_array_equal(points[..., 2], depth)  # depth is z, not the ray's length


def test_points_use_the_camera_fitted_to_the_depths_size():
    camera = Camera(600, 600, 320, 240, width=640, height=480)
    depth = np.random.default_rng(0).uniform(1, 5, (24, 32)).astype(np.float32)
    expected = points_grid(depth, Camera(30, 30, 16, 12))  # the same camera for a 20 times smaller image
    np.testing.assert_allclose(points_grid(depth, camera), expected, rtol=1e-6)
    with pytest.raises(ZoeExportError, match="contradict the 24x48 image"):
        points_grid(np.ones((24, 48), np.float32), camera)


@pytest.mark.parametrize("depth, match", [
    (np.ones((1, 4, 5), np.float32), r"HxW depth map in metres, got shape \(1, 4, 5\)"),
    (np.ones(5, np.float32), r"got shape \(5,\)"),
    (np.ones((4, 5), np.uint16), "dtype uint16: pass float metres"),
    (np.ones((0, 5), np.float32), "empty"),
])
def test_depth_that_is_not_an_hxw_float_map_is_refused(depth, match):
    with pytest.raises(ZoeExportError, match=match):
        points_grid(depth, Camera(5, 5, 2, 2))


# --------------------------------------------------------------------------- edges


def test_a_one_metre_step_marks_the_two_columns_beside_it():
    edges = depth_edges(_step())
    assert edges.dtype == bool and edges.shape == (5, 8)
    expected = np.zeros((5, 8), dtype=bool)
    expected[:, [3, 4]] = True  # central differences: (3 - 2) / 2 m per pixel on both sides of the step
    np.testing.assert_array_equal(edges, expected)
    np.testing.assert_array_equal(depth_edges(_step().T), expected.T)  # along rows as along columns


def test_the_edge_threshold_is_metres_per_pixel():
    ramp = np.tile(np.arange(6, dtype=np.float32) * 0.04 + 1.0, (4, 1))  # 4 cm per pixel
    assert not depth_edges(ramp).any()
    assert depth_edges(ramp, threshold=0.03).all()
    assert depth_edges(ramp * 1.5, threshold=0.05).all()  # 6 cm per pixel
    with pytest.raises(ZoeExportError, match="edge_threshold=-1"):
        depth_edges(ramp, threshold=-1)


def test_non_finite_depth_is_an_edge_and_so_are_its_neighbours():
    depth = np.full((5, 5), 2.0, dtype=np.float32)
    depth[2, 2] = np.nan
    depth[0, 4] = np.inf
    edges = depth_edges(depth)
    assert edges[2, 2] and edges[0, 4]
    assert edges[1, 2] and edges[2, 1] and edges[3, 2] and edges[2, 3]
    assert not edges[4, 0] and not edges[2, 0]  # untouched corner and the row's border


def test_edges_of_a_single_row():
    np.testing.assert_array_equal(depth_edges(np.array([[1.0, 1.0, 2.0, 2.0]])), [[False, True, True, False]])


# --------------------------------------------------------------------------- points and clouds


def test_depth_to_points_keeps_valid_pixels_in_row_major_order():
    depth = np.full((3, 4), 2.0, dtype=np.float32)
    depth[0, 1], depth[1, 2], depth[2, 0], depth[2, 3] = np.nan, 0.0, -1.0, np.inf
    camera = Camera(4, 4, 2, 1.5)
    points = depth_to_points(depth, camera)
    keep = np.ones((3, 4), dtype=bool)
    keep[0, 1] = keep[1, 2] = keep[2, 0] = keep[2, 3] = False
    assert points.dtype == np.float32 and points.shape == (8, 3)
    np.testing.assert_array_equal(points, points_grid(depth, camera)[keep])


def test_drop_edges_removes_exactly_the_points_beside_the_step():
    depth, camera = _step(), Camera.from_fov(5, 8)
    every = depth_to_points(depth, camera)
    assert len(every) == 40
    kept = depth_to_points(depth, camera, drop_edges=True)
    np.testing.assert_array_equal(kept, points_grid(depth, camera)[:, [0, 1, 2, 5, 6, 7]].reshape(-1, 3))
    assert len(depth_to_points(depth, camera, drop_edges=True, edge_threshold=0.6)) == 40  # 0.5 m/px is no edge then


def test_max_depth_keeps_points_up_to_it():
    depth, camera = _step(), Camera.from_fov(5, 8)
    near = depth_to_points(depth, camera, max_depth=2.5)
    assert len(near) == 20 and np.all(near[:, 2] == 2.0)
    assert len(depth_to_points(depth, camera, max_depth=3.0)) == 40  # at most: 3 m is kept
    with pytest.raises(ZoeExportError, match="max_depth= 0"):
        depth_to_points(depth, camera, max_depth=0)


def test_a_point_cloud_takes_each_points_colour_from_its_pixel():
    depth = _step()
    depth[1, 6] = np.nan
    camera = Camera.from_fov(5, 8)
    cloud = point_cloud(depth, _pixel_colours(5, 8), camera, drop_edges=True)
    assert isinstance(cloud, PointCloud) and cloud.colors.dtype == np.uint8
    grid = points_grid(depth, camera)
    columns, rows = cloud.colors[:, 0].astype(int), cloud.colors[:, 1].astype(int)
    np.testing.assert_array_equal(cloud.points, grid[rows, columns])
    dropped = {(row, column) for row in range(5) for column in (3, 4)} | {(1, 6), (0, 6), (2, 6), (1, 5), (1, 7)}
    assert set(zip(rows, columns)) == {(row, column) for row in range(5) for column in range(8)} - dropped
    assert len(cloud) == 40 - len(dropped) and np.all(cloud.colors[:, 2] == 7)


def test_a_point_cloud_without_colours():
    cloud = point_cloud(_step(), None, Camera.from_fov(5, 8), max_depth=2.0)
    assert cloud.colors is None and len(cloud) == 20


@pytest.mark.parametrize("rgb, match", [
    (np.zeros((10, 16, 3), np.uint8), "a 10x16 RGB image for a 5x8 depth map"),
    (np.zeros((5, 8, 3), np.float32), "dtype float32: pass uint8"),
    (np.zeros((5, 8), np.uint8), r"HxWx3 RGB image .* got shape \(5, 8\)"),
])
def test_colours_must_match_the_depth(rgb, match):
    with pytest.raises(ZoeExportError, match=match):
        point_cloud(_step(), rgb, Camera.from_fov(5, 8))


# --------------------------------------------------------------------------- meshes


def test_a_flat_depth_map_makes_two_triangles_per_cell_in_the_demos_order():
    height, width = 4, 5
    mesh = depth_mesh(np.full((height, width), 2.0, np.float32), _pixel_colours(height, width),
                      Camera.from_fov(height, width))
    assert isinstance(mesh, Mesh)
    assert mesh.vertices.shape == (20, 3) and mesh.vertices.dtype == np.float32
    assert mesh.faces.shape == (2 * 3 * 4, 3) and mesh.faces.dtype == np.int32
    np.testing.assert_array_equal(mesh.faces[:4], [[0, 5, 1], [6, 1, 5], [1, 6, 2], [7, 2, 6]])
    np.testing.assert_array_equal(mesh.faces[-2:], [[13, 18, 14], [19, 14, 18]])
    assert mesh.faces.min() == 0 and mesh.faces.max() == 19
    np.testing.assert_array_equal(mesh.colors, _pixel_colours(height, width).reshape(-1, 3))


def test_mesh_faces_look_at_the_camera():
    mesh = depth_mesh(np.full((3, 3), 2.0, np.float32), None, Camera.from_fov(3, 3))
    a, b, c = (mesh.vertices[mesh.faces[:, k]] for k in range(3))
    normals = np.cross(b - a, c - a)
    assert np.all(normals[:, 2] < 0)  # towards the camera at the origin, looking along +z
    assert mesh.colors is None


def test_cut_edges_drops_exactly_the_faces_that_touch_the_step():
    height, width = 5, 8
    depth, camera = _step(height, width), Camera.from_fov(height, width)
    whole = depth_mesh(depth, None, camera, cut_edges=False)
    assert len(whole.faces) == 2 * (height - 1) * (width - 1)
    cut = depth_mesh(depth, None, camera)
    touches_step = np.isin(whole.faces % width, [3, 4]).any(axis=1)
    np.testing.assert_array_equal(cut.faces, whole.faces[~touches_step])
    assert len(cut.faces) == 2 * (height - 1) * (width - 1 - 3)  # cells 2-3, 3-4 and 4-5 of each row go
    np.testing.assert_array_equal(cut.vertices, whole.vertices)  # one vertex per pixel either way


def test_faces_on_invalid_depth_are_dropped_even_without_cutting_edges():
    depth = np.full((4, 4), 2.0, dtype=np.float32)
    depth[1, 1], depth[3, 3] = np.nan, 9.0
    mesh = depth_mesh(depth, None, Camera.from_fov(4, 4), cut_edges=False, max_depth=5.0)
    assert not np.isin(mesh.faces, [5, 15]).any()
    assert len(mesh.faces) == 2 * 9 - 6 - 1  # 6 triangles use the nan vertex, 1 the far corner
    assert np.all(np.isfinite(mesh.vertices)) and np.all(mesh.vertices[5] == 0.0)
