"""Point clouds and meshes from metric depth and a pinhole camera, and the PLY files that hold them.

    from zoe_export.geometry import Camera, point_cloud, write_point_cloud
    from zoe_export.io.images import read_image
    from zoe_export.runtime import DepthEngine

    rgb = read_image("room.jpg")
    with DepthEngine("zoe_m12_nk.onnx") as engine:
        depth = engine.predict(rgb)                            # HxW float32 metres
    camera = Camera.from_fov(*depth.shape)                     # the demo's 55 degrees; or Camera.from_file("cam.yaml")
    cloud = point_cloud(depth, rgb, camera, drop_edges=True)   # (N, 3) float32 points, (N, 3) uint8 colours
    write_point_cloud("room.ply", cloud)

Points are metres in the OpenCV / ROS optical camera frame: x right, y down, z forward, the camera at the origin
(:mod:`.points` says more). Only numpy is imported here; plyfile and PyYAML load when a file is written or read.
"""
from __future__ import annotations

from .camera import DEFAULT_FOV_DEG, Camera
from .ply import read_ply, write_mesh, write_point_cloud
from .points import Mesh, PointCloud, depth_edges, depth_mesh, depth_to_points, point_cloud, points_grid

__all__ = [
    "Camera", "DEFAULT_FOV_DEG", "Mesh", "PointCloud", "depth_edges", "depth_mesh", "depth_to_points", "point_cloud",
    "points_grid", "read_ply", "write_mesh", "write_point_cloud",
]
