"""PLY files: binary little-endian, the types viewers expect, all-or-nothing writes, and reading them back."""
from __future__ import annotations

import numpy as np
import plyfile
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.geometry import Camera, Mesh, PointCloud, depth_mesh, read_ply, write_mesh, write_point_cloud
from zoe_export.geometry.ply import AXES_COMMENT


def _cloud(count: int = 50, colours: bool = True) -> PointCloud:
    rng = np.random.default_rng(1)
    points = rng.uniform(-3, 8, (count, 3)).astype(np.float32)
    return PointCloud(points, rng.integers(0, 256, (count, 3), dtype=np.uint8) if colours else None)


def _mesh() -> Mesh:
    depth = np.full((4, 6), 2.0, dtype=np.float32)
    depth[:, 3:] = 3.0
    rgb = np.random.default_rng(2).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    return depth_mesh(depth, rgb, Camera.from_fov(4, 6))


def test_a_point_cloud_is_binary_little_endian_float32_and_uchar(tmp_path):
    cloud, path = _cloud(), tmp_path / "cloud.ply"
    write_point_cloud(path, cloud)
    data = plyfile.PlyData.read(str(path))
    assert not data.text and data.byte_order == "<"
    assert [element.name for element in data.elements] == ["vertex"]
    assert AXES_COMMENT in data.comments
    vertex = data["vertex"].data
    assert vertex.dtype.names == ("x", "y", "z", "red", "green", "blue")
    assert all(vertex.dtype[axis] == np.dtype("<f4") for axis in "xyz")
    assert all(vertex.dtype[channel] == np.uint8 for channel in ("red", "green", "blue"))
    np.testing.assert_array_equal(np.stack([vertex[axis] for axis in "xyz"], axis=1), cloud.points)
    np.testing.assert_array_equal(np.stack([vertex[c] for c in ("red", "green", "blue")], axis=1), cloud.colors)
    assert path.read_bytes().startswith(b"ply\nformat binary_little_endian 1.0\n")


def test_a_point_cloud_reads_back_the_same(tmp_path):
    for colours in (True, False):
        cloud, path = _cloud(colours=colours), tmp_path / f"cloud_{colours}.ply"
        write_point_cloud(path, cloud)
        back = read_ply(path)
        assert isinstance(back, PointCloud) and back.points.dtype == np.float32
        np.testing.assert_array_equal(back.points, cloud.points)
        if colours:
            assert back.colors.dtype == np.uint8
            np.testing.assert_array_equal(back.colors, cloud.colors)
        else:
            assert back.colors is None
            assert "red" not in plyfile.PlyData.read(str(path))["vertex"].data.dtype.names


def test_an_empty_cloud_is_a_valid_ply(tmp_path):
    path = tmp_path / "empty.ply"
    write_point_cloud(path, PointCloud(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8)))
    assert plyfile.PlyData.read(str(path))["vertex"].count == 0
    back = read_ply(path)
    assert len(back) == 0 and back.points.shape == (0, 3) and back.colors.shape == (0, 3)


def test_a_mesh_has_a_face_element_of_uchar_counted_int_triangles(tmp_path):
    mesh, path = _mesh(), tmp_path / "mesh.ply"
    assert 0 < len(mesh.faces) < 2 * 3 * 5  # the step cut some
    write_mesh(path, mesh)
    data = plyfile.PlyData.read(str(path))
    assert not data.text and data.byte_order == "<"
    assert [element.name for element in data.elements] == ["vertex", "face"]
    prop = data["face"].properties[0]
    assert prop.name == "vertex_indices" and prop.len_dtype == "u1" and prop.val_dtype == "i4"
    np.testing.assert_array_equal(np.stack(list(data["face"]["vertex_indices"])), mesh.faces)
    vertex = data["vertex"].data
    np.testing.assert_array_equal(np.stack([vertex[axis] for axis in "xyz"], axis=1), mesh.vertices)

    back = read_ply(path)
    assert isinstance(back, Mesh) and back.faces.dtype == np.int32 and back.vertices.dtype == np.float32
    np.testing.assert_array_equal(back.faces, mesh.faces)
    np.testing.assert_array_equal(back.vertices, mesh.vertices)
    np.testing.assert_array_equal(back.colors, mesh.colors)


def test_a_mesh_without_faces_reads_back_as_a_mesh(tmp_path):
    path = tmp_path / "bare.ply"
    write_mesh(path, Mesh(np.ones((2, 3), np.float32), np.zeros((0, 3), np.int32)))
    back = read_ply(path)
    assert isinstance(back, Mesh) and back.faces.shape == (0, 3) and back.colors is None


def test_an_ascii_ply_of_triangles_is_read(tmp_path):
    path = tmp_path / "ascii.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                    "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
                    "0 0 1\n1 0 1\n0 1 1\n3 0 2 1\n")
    back = read_ply(path)
    assert isinstance(back, Mesh)
    np.testing.assert_array_equal(back.vertices, [[0, 0, 1], [1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(back.faces, [[0, 2, 1]])


def test_polygons_other_than_triangles_are_refused(tmp_path):
    path = tmp_path / "quad.ply"
    quad = np.empty(1, dtype=[("vertex_indices", "O")])
    quad["vertex_indices"][0] = np.array([0, 1, 2, 3], np.int32)
    points = np.zeros(4, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4")])
    plyfile.PlyData([plyfile.PlyElement.describe(points, "vertex"), plyfile.PlyElement.describe(quad, "face")],
                    byte_order="<").write(str(path))
    with pytest.raises(ZoeExportError, match="faces of 4 vertices; read_ply reads triangle meshes"):
        read_ply(path)


def test_a_file_that_is_not_ply_is_refused(tmp_path):
    text, truncated = tmp_path / "notes.ply", tmp_path / "truncated.ply"
    text.write_text("these are not the points you are looking for\n")
    with pytest.raises(ZoeExportError, match=r"notes.ply is not a PLY file .*pass a .ply point cloud or mesh"):
        read_ply(text)
    write_point_cloud(truncated, _cloud())
    truncated.write_bytes(truncated.read_bytes()[:-7])
    with pytest.raises(ZoeExportError, match=r"truncated.ply is truncated or corrupt \(element 'vertex'.*end-of-file"):
        read_ply(truncated)
    with pytest.raises(ZoeExportError, match="missing.ply does not exist"):
        read_ply(tmp_path / "missing.ply")


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(self, stream):
        stream.write(b"ply\nhalf a header")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plyfile.PlyData, "write", fail)
    with pytest.raises(ZoeExportError, match="cannot write .*cloud.ply: No space left on device"):
        write_point_cloud(tmp_path / "out" / "cloud.ply", _cloud())
    assert not any(tmp_path.iterdir())  # neither the file, nor its temporary, nor the folder made for it


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "mesh.ply"
    write_mesh(path, _mesh())
    before = path.read_bytes()
    monkeypatch.setattr(plyfile.PlyData, "write", lambda self, stream: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_mesh(path, _mesh())
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["mesh.ply"]


@pytest.mark.parametrize("cloud, match", [
    (PointCloud(np.array([[0, 0, np.nan], [1, 1, 1]], np.float32)), "1 points that are not finite"),
    (PointCloud(np.zeros((4, 2), np.float32)), r"points of shape \(4, 2\)"),
    (PointCloud(np.zeros((4, 3), np.float32), np.zeros((3, 3), np.uint8)),
     r"colours of shape \(3, 3\) .* for 4 points"),
    (PointCloud(np.zeros((4, 3), np.float32), np.zeros((4, 3), np.float32)), "dtype float32 .* uint8 RGB"),
])
def test_clouds_that_cannot_be_written_are_refused_before_anything_is_written(tmp_path, cloud, match):
    with pytest.raises(ZoeExportError, match=match):
        write_point_cloud(tmp_path / "cloud.ply", cloud)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("faces, match", [
    (np.array([[0, 1, 4]]), r"index vertices 0..4, but the mesh has 4 vertices"),
    (np.array([[0, -1, 2]]), "index vertices -1..2"),
    (np.array([[0, 1, 2, 3]]), r"faces of shape \(1, 4\)"),
    (np.array([[0.0, 1.0, 2.0]]), "dtype float64: expected .* integer"),
])
def test_meshes_with_bad_faces_are_refused(tmp_path, faces, match):
    with pytest.raises(ZoeExportError, match=match):
        write_mesh(tmp_path / "mesh.ply", Mesh(np.zeros((4, 3), np.float32), faces))
    assert not any(tmp_path.iterdir())
