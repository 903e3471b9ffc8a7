"""The inputs every export and conversion is verified on: a structured scene and noise (no torch needed)."""
from __future__ import annotations

import numpy as np


def verification_inputs(h: int, w: int, input_format: str, batch: int | None) -> dict[str, np.ndarray]:
    """Structured and random inputs, as named batches the exported graph takes."""
    from ..io.synthetic import demo_scene
    from ..preprocess import resize_bilinear, to_uint8

    scene = resize_bilinear(demo_scene().astype(np.float32) / 255.0, (h, w))
    noise = np.random.default_rng([0, h, w]).random((h, w, 3)).astype(np.float32)
    images = [scene, noise]
    if input_format == "uint8-nhwc":
        images = [to_uint8(img, "hwc") for img in images]
    else:
        images = [np.ascontiguousarray(img.transpose(2, 0, 1)) for img in images]
    if batch is None:  # dynamic: one batch of both, and a single one
        return {"batch": np.stack(images), "single": images[0][None]}
    return {f"input{i}": np.stack([img] * batch) for i, img in enumerate(images)}
