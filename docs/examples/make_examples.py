"""The README's "Use it" pictures: zoe-export predict on the built-in scene, folder -> depth maps, video -> depth
video, photo -> point cloud, each rendered to one PNG here.

    python docs/examples/make_examples.py GRAPH.onnx WORK_DIR      # about 4 minutes on 2 cores for M12-N

GRAPH.onnx is any zoe-export graph (the README's pictures: M12-N, seeded random weights, as `make demo` makes it
without a checkpoint: the formats are real, the depth is not the trained model's).
"""
import subprocess
import sys
from pathlib import Path

import numpy as np

from zoe_export.geometry import read_ply
from zoe_export.io import images, synthetic

HERE = Path(__file__).resolve().parent
HEIGHT, WIDTH = 240, 320


def _inputs(work: Path) -> None:
    import cv2

    room = synthetic.demo_scene(300, 560)
    for i, left in enumerate((0, 120, 240)):  # three photos of the room from further left to further right
        images.write_image(work / "photos" / f"room_{i}.png", room[30:30 + HEIGHT, left:left + WIDTH])
    writer = cv2.VideoWriter(str(work / "pan.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 8.0, (WIDTH, HEIGHT))
    for left in np.linspace(0, room.shape[1] - WIDTH, 12).round().astype(int):
        writer.write(np.ascontiguousarray(room[30:30 + HEIGHT, left:left + WIDTH, ::-1]))
    writer.release()


def _jpeg(path: Path, rgb: np.ndarray) -> None:
    """Contact sheets as JPEG: a fifth of the PNG's size for a README picture."""
    from PIL import Image

    Image.fromarray(rgb).save(path, quality=88)


def _predict(*argv: str) -> None:
    subprocess.run(["zoe-export", "predict", *argv, "--no-progress"], check=True)


def _cloud_picture(ply: Path, out: Path) -> None:
    """The point cloud from above and behind the camera (matplotlib 3D scatter, every 4th point)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cloud = read_ply(ply)
    points, colours = cloud.points[::4], cloud.colors[::4] / 255.0
    figure = plt.figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.add_subplot(projection="3d")
    # camera axes x right, y down, z forward: plotted with z into the page and y up
    axes.scatter(points[:, 0], points[:, 2], -points[:, 1], c=colours, s=0.6, linewidths=0)
    axes.set_xlabel("x (m)")
    axes.set_ylabel("z (m)")
    axes.set_zlabel("-y (m)")
    axes.view_init(elev=20, azim=-60)
    axes.set_title(f"{ply.name}: {len(cloud)} points, camera at the origin")
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)


def main(graph: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    _inputs(work)
    _predict(str(work / "photos"), "--onnx", str(graph), "--output", str(work / "depth"))
    panels = [images.read_image(work / "depth" / f"room_{i}_panel.png") for i in range(3)]
    _jpeg(HERE / "folder_panels.jpg", np.concatenate(panels, axis=0))
    _predict(str(work / "pan.mp4"), "--onnx", str(graph), "--output", str(work / "video"), "--save", "video,color")
    frames = [images.read_image(work / "video" / "pan" / f"frame_{i:06d}_depth.png") for i in (0, 4, 8, 11)]
    _jpeg(HERE / "video_frames.jpg", images.side_by_side(frames, ["frame 0", "4", "8", "11"]))
    (HERE / "pan_depth.mp4").write_bytes((work / "video" / "pan_depth.mp4").read_bytes())
    _predict(str(work / "photos" / "room_1.png"), "--onnx", str(graph), "--output", str(work / "cloud"),
             "--save", "ply,color", "--fov", "60", "--ply-drop-edges")
    _cloud_picture(work / "cloud" / "room_1.ply", HERE / "point_cloud.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
