"""The generated inputs of this benchmark: 64 photos of the demo room and a 64-frame camera pan, 480x640.

    python benchmarks/cpu_m12-n_predict/make_inputs.py OUT_DIR      # OUT_DIR/frames/*.png, OUT_DIR/pan.mp4
"""
import sys
from pathlib import Path

import cv2
import numpy as np

from zoe_export.io import images, synthetic

FRAMES, HEIGHT, WIDTH, FPS = 64, 480, 640, 15.0


def main(out: Path) -> None:
    room = synthetic.demo_scene(600, 1000)
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(out / "pan.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i in range(FRAMES):
        left = round(i * (room.shape[1] - WIDTH) / (FRAMES - 1))  # the camera pans left to right
        top = (room.shape[0] - HEIGHT) // 2
        frame = room[top:top + HEIGHT, left:left + WIDTH]
        noisy = np.clip(frame + rng.normal(0, 2.0, frame.shape), 0, 255).astype(np.uint8)  # sensor noise
        images.write_image(out / "frames" / f"frame_{i:03d}.png", noisy)
        writer.write(np.ascontiguousarray(noisy[..., ::-1]))
    writer.release()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
