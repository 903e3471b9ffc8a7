"""A deterministic, procedurally rendered indoor scene for demos and smoke tests (numpy only).

The scene is ray-cast through a pinhole camera: a room (floor, ceiling, back wall, two side walls)
with two boxes and a ball, Lambertian shading, a checker floor and striped walls, so that a depth
model sees real perspective and occlusion structure.
"""
from __future__ import annotations

import numpy as np

# Room planes (camera at the origin looking down +z, y up), in metres.
_FLOOR_Y, _CEILING_Y = -1.5, 1.6
_LEFT_X, _RIGHT_X = -2.6, 3.0
_BACK_Z = 9.0
# Axis-aligned boxes: (min corner, max corner, base colour).
_BOXES = (
    ((-1.9, -1.5, 3.4), (-0.6, -0.55, 4.6), (0.80, 0.45, 0.20)),
    ((0.9, -1.5, 5.2), (2.2, 0.3, 6.3), (0.25, 0.45, 0.75)),
)
_BALL_CENTRE, _BALL_RADIUS, _BALL_COLOUR = (0.2, -1.0, 3.0), 0.5, (0.85, 0.85, 0.30)
_LIGHT = np.array([0.35, 0.8, -0.5]) / np.linalg.norm([0.35, 0.8, -0.5])


def _rays(height: int, width: int) -> np.ndarray:
    """Unnormalised ray directions (H, W, 3) for a camera with a ~65 degree horizontal view."""
    focal = 0.78 * width
    cols = (np.arange(width) + 0.5 - width / 2) / focal
    rows = -(np.arange(height) + 0.5 - height / 2) / focal
    x, y = np.meshgrid(cols, rows)
    return np.stack([x, y, np.ones_like(x)], axis=-1)


def _plane_hits(rays: np.ndarray, axis: int, value: float) -> np.ndarray:
    """Ray parameter t where each ray meets the plane coordinate[axis] == value (inf if never)."""
    component = rays[..., axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = value / component
    return np.where(t > 0, t, np.inf)


def _box_hits(rays: np.ndarray, low, high) -> tuple[np.ndarray, np.ndarray]:
    """Slab-method hit parameter and hit-face axis (0, 1, 2) of rays against a box."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.asarray(low) / rays
        t2 = np.asarray(high) / rays
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_enter, t_exit = near.max(axis=-1), far.min(axis=-1)
    hit = (t_enter <= t_exit) & (t_enter > 0)
    return np.where(hit, t_enter, np.inf), near.argmax(axis=-1)


def _ball_hits(rays: np.ndarray) -> np.ndarray:
    """Ray parameter of the nearest intersection with the ball (inf if missed)."""
    centre = np.asarray(_BALL_CENTRE)
    a = np.sum(rays * rays, axis=-1)
    b = -2.0 * rays @ centre
    c = centre @ centre - _BALL_RADIUS**2
    disc = b * b - 4 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * a)
    return np.where((disc >= 0) & (t > 0), t, np.inf)


def _shade(normal: np.ndarray, colour: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Lambert shading with ambient light and a gentle fall-off with distance."""
    lambert = np.clip(normal @ _LIGHT, 0.0, 1.0)[..., None]
    falloff = (1.0 / (1.0 + 0.04 * distance))[..., None]
    return colour * (0.35 + 0.65 * lambert) * falloff


def _room_colour(points: np.ndarray, surface: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Textured base colour and normal for room surfaces (0 floor, 1 ceiling, 2 back, 3 left, 4 right)."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    checker = (np.floor(x * 1.5) + np.floor(z * 1.5)) % 2
    floor = np.stack([0.55 + 0.25 * checker, 0.50 + 0.20 * checker, 0.42 + 0.15 * checker], -1)
    ceiling = np.full(points.shape, 0.92)
    stripes = 0.5 + 0.5 * np.sin(x * 6.0)
    back = np.stack([0.70 + 0.15 * stripes, 0.72 + 0.10 * stripes, 0.65 + 0.05 * stripes], -1)
    panels = 0.5 + 0.5 * np.sin(z * 4.0) * np.sin(y * 3.0)
    left = np.stack([0.45 + 0.20 * panels, 0.62 + 0.15 * panels, 0.50 + 0.10 * panels], -1)
    right = np.stack([0.68 + 0.10 * panels, 0.55 + 0.10 * panels, 0.60 + 0.15 * panels], -1)
    colours = np.choose(surface[..., None], [floor, ceiling, back, left, right])
    normals = np.array([[0, 1, 0], [0, -1, 0], [0, 0, -1], [1, 0, 0], [-1, 0, 0]], dtype=np.float64)
    return colours, normals[surface]


def demo_scene(height: int = 480, width: int = 640) -> np.ndarray:
    """Render the demo room as uint8 HxWx3 RGB; identical output on every call."""
    rays = _rays(height, width)
    room_t = np.stack(
        [
            _plane_hits(rays, 1, _FLOOR_Y),
            _plane_hits(rays, 1, _CEILING_Y),
            _plane_hits(rays, 2, _BACK_Z),
            _plane_hits(rays, 0, _LEFT_X),
            _plane_hits(rays, 0, _RIGHT_X),
        ],
        axis=-1,
    )
    surface = room_t.argmin(axis=-1)
    t = room_t.min(axis=-1)
    colour, normal = _room_colour(rays * t[..., None], surface)
    for low, high, base in _BOXES:
        box_t, axis = _box_hits(rays, low, high)
        closer = box_t < t
        face_normal = np.eye(3)[axis] * -np.sign(np.take_along_axis(rays, axis[..., None], -1))
        hit_points = rays * np.where(closer, box_t, 0.0)[..., None]
        grain = 0.9 + 0.1 * np.sin(hit_points.sum(-1) * 25.0)[..., None]
        colour = np.where(closer[..., None], np.asarray(base) * grain, colour)
        normal = np.where(closer[..., None], face_normal, normal)
        t = np.where(closer, box_t, t)
    ball_t = _ball_hits(rays)
    closer = ball_t < t
    ball_points = rays * np.where(closer, ball_t, 0.0)[..., None]
    ball_normal = (ball_points - np.asarray(_BALL_CENTRE)) / _BALL_RADIUS
    colour = np.where(closer[..., None], np.asarray(_BALL_COLOUR), colour)
    normal = np.where(closer[..., None], ball_normal, normal)
    t = np.where(closer, ball_t, t)
    distance = t * np.linalg.norm(rays, axis=-1)
    rgb = _shade(normal, colour, distance)
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def scene_variants(count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` varied photos of the demo room (size, crop, mirror, exposure, white balance, noise).

    Structured inputs for smoke runs when no real images are given (``zoe-export calib
    --synthetic``); deterministic for a seed. Not a substitute for the footage a model will see.
    """
    rng = np.random.default_rng([seed, count])
    scenes = []
    for _ in range(count):
        height, width = int(rng.integers(300, 600)), int(rng.integers(400, 800))
        image = demo_scene(height, width).astype(np.float32) / 255.0
        crop_h, crop_w = int(height * rng.uniform(0.7, 1.0)), int(width * rng.uniform(0.7, 1.0))
        top, left = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
        image = image[top:top + crop_h, left:left + crop_w]
        if rng.random() < 0.5:
            image = image[:, ::-1]
        image = image ** rng.uniform(0.7, 1.5) * rng.uniform(0.6, 1.3) * rng.uniform(0.9, 1.1, size=3)
        image = image + rng.normal(0.0, rng.uniform(0.0, 0.03), size=image.shape)
        scenes.append(np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8))
    return scenes
