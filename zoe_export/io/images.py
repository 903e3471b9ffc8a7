"""Image files: list and read RGB photos, write PNGs, 16-bit depth PNGs, colourised depth and comparisons."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from .._files import atomic_output, existing_file
from ..errors import ZoeExportError

PathLike = str | os.PathLike

#: the photo formats every image folder is read for (calibration sets, benchmarks)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")

# Anchor colours (RGB, 0-255) spaced evenly over [0, 1]; linearly interpolated in between.
_COLORMAPS: dict[str, np.ndarray] = {
    # blue -> cyan -> green -> yellow -> red, a close approximation of Google's Turbo
    "turbo": np.array(
        [
            [48, 18, 59],
            [71, 90, 222],
            [46, 158, 245],
            [38, 214, 196],
            [78, 248, 131],
            [150, 250, 80],
            [222, 220, 50],
            [254, 163, 35],
            [242, 92, 23],
            [184, 32, 8],
            [122, 4, 3],
        ],
        dtype=np.float64,
    ),
    "gray": np.array([[0, 0, 0], [255, 255, 255]], dtype=np.float64),
}

_GAP = 4  # white pixels between side-by-side panels


# --------------------------------------------------------------------------- RGB images


def list_images(folder: PathLike, suffixes: frozenset[str] = IMAGE_SUFFIXES, *, recursive: bool = True) -> list[Path]:
    """The image files in ``folder`` (and its subfolders), sorted; hidden files and folders skipped.

    A suffix matches case-insensitively. A folder that does not exist has no images: callers say so.
    """
    root = Path(folder)
    if not root.is_dir():
        return []
    candidates = root.rglob("*") if recursive else root.iterdir()
    return sorted(path for path in candidates
                  if path.suffix.lower() in suffixes and path.is_file()
                  and not any(part.startswith(".") for part in path.relative_to(root).parts))


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as uint8 HxWx3 RGB, honouring the EXIF orientation."""
    source = existing_file(path, "image", "pass the path of an image file.")
    try:
        with Image.open(source) as opened:
            upright = ImageOps.exif_transpose(opened)
            return np.asarray(_to_rgb(upright), dtype=np.uint8).copy()
    except Image.DecompressionBombError as exc:  # Pillow's guard against decompression bombs
        raise ZoeExportError(
            f"{source} is too large to decode safely ({str(exc).rstrip('.')}). Resize it: the model runs at a "
            "few hundred pixels a side."
        ) from exc
    except UnidentifiedImageError as exc:
        raise ZoeExportError(
            f"{source} is not an image Pillow can read; pass a PNG, JPEG or other image file."
        ) from exc
    except OSError as exc:
        raise ZoeExportError(f"cannot read image {source}: {exc}. Check the file is not truncated.") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any Pillow image to RGB; 16/32-bit grayscale is scaled down rather than clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        gray = np.clip(np.round(values * (255.0 / peak)), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=2))
    return image.convert("RGB")


def _as_uint8_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate an HxWx3 uint8 or float-in-[0,1] array and return it as uint8."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ZoeExportError(f"expected an HxWx3 RGB array, got shape {rgb.shape}.")
    if rgb.dtype == np.uint8:
        return rgb
    if np.issubdtype(rgb.dtype, np.floating):
        if not np.all(np.isfinite(rgb)) or rgb.min() < -1e-6 or rgb.max() > 1 + 1e-6:
            raise ZoeExportError("float RGB values must be finite and in [0, 1]; scale them first.")
        return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ZoeExportError(f"unsupported RGB dtype {rgb.dtype}; pass uint8 or float in [0, 1].")


#: zlib level of PNGs written frame after frame (zoe-export predict): OpenCV's default, level 1, compresses 1.6-1.9x
#: faster than Pillow's 6 (480x640 depth and panel pictures on this CPU), files about 40 % larger
FAST_PNG = 1


def _save_png(path: PathLike, image: Image.Image, compress_level: int = 6) -> None:
    """Save a Pillow image as PNG atomically."""
    with atomic_output(path) as tmp:
        image.save(tmp, format="PNG", compress_level=compress_level)


def write_image(path: PathLike, rgb: np.ndarray, compress_level: int = 6) -> None:
    """Write an HxWx3 uint8 (or float in [0, 1]) RGB array as a PNG (zlib ``compress_level`` 0-9)."""
    _save_png(path, Image.fromarray(np.ascontiguousarray(_as_uint8_rgb(rgb))), compress_level)


# --------------------------------------------------------------------------- 16-bit depth


def _depth_2d(depth: np.ndarray) -> np.ndarray:
    """Return depth as a float64 HxW array, accepting (1, H, W) and (1, 1, H, W) too."""
    depth = np.asarray(depth, dtype=np.float64)
    while depth.ndim > 2 and depth.shape[0] == 1:
        depth = depth[0]
    if depth.ndim != 2:
        raise ZoeExportError(f"expected an HxW depth map, got shape {depth.shape}.")
    return depth


def write_depth_png16(path: PathLike, depth_m: np.ndarray, scale: float = 1000.0, compress_level: int = 6) -> None:
    """Write depth in metres as a 16-bit PNG of round(depth * scale) (millimetres by default)."""
    if not scale > 0:
        raise ZoeExportError(f"depth scale must be positive, got {scale}.")
    depth = _depth_2d(depth_m)
    valid = np.isfinite(depth) & (depth > 0)
    units = np.where(valid, np.round(np.where(valid, depth, 0.0) * scale), 0.0)
    encoded = np.clip(units, 0, 65535).astype(np.uint16)
    _save_png(path, Image.fromarray(encoded), compress_level)


def read_depth_png16(path: PathLike, scale: float = 1000.0, units: str = "millimetres") -> np.ndarray:
    """Read a single-channel 16-bit depth PNG as float32 metres: value / ``scale`` (0 stays 0 = no depth).

    ``units`` names what the stored values are, for the error on an 8-bit or colour image.
    """
    if not scale > 0:
        raise ZoeExportError(f"depth scale must be positive, got {scale}.")
    source = existing_file(path, "depth PNG", "pass a 16-bit single-channel depth PNG.")
    try:
        with Image.open(source) as opened:
            mode = opened.mode
            values = np.asarray(opened) if mode in _SIXTEEN_BIT_MODES else None
    except (UnidentifiedImageError, OSError) as exc:
        raise ZoeExportError(f"cannot read depth PNG {source}: {exc}. Check the file is a PNG.") from exc
    if values is None or values.ndim != 2 or values.dtype.kind not in "ui":
        raise ZoeExportError(
            f"depth map {source} is a {mode} image, not a 16-bit single-channel PNG; depth PNGs hold integer "
            f"{units} (as write_depth_png16 and the datasets' originals store them): 8-bit or colour copies lose "
            "the depth."
        )
    return (values.astype(np.float64) / scale).astype(np.float32)


# --------------------------------------------------------------------------- colourised depth


def _colormap(name: str) -> np.ndarray:
    """Look up a colormap's anchor table."""
    try:
        return _COLORMAPS[name]
    except KeyError:
        raise ZoeExportError(
            f"unknown colormap {name!r}; choose one of: {', '.join(sorted(_COLORMAPS))}."
        ) from None


def _apply_colormap(values: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] through linearly interpolated anchor colours to float RGB."""
    positions = np.linspace(0.0, 1.0, len(anchors))
    channels = [np.interp(values, positions, anchors[:, c]) for c in range(3)]
    return np.stack(channels, axis=-1)


def _depth_range(depth: np.ndarray, vmin: float | None, vmax: float | None) -> tuple[float, float]:
    """Resolve vmin/vmax, defaulting to the 2nd/98th percentiles of the finite values."""
    finite = depth[np.isfinite(depth)]
    if vmin is None:
        vmin = float(np.percentile(finite, 2)) if finite.size else 0.0
    if vmax is None:
        vmax = float(np.percentile(finite, 98)) if finite.size else 1.0
    return float(vmin), float(vmax)


def colorize_depth(
    depth: np.ndarray, vmin: float | None = None, vmax: float | None = None, cmap: str = "turbo"
) -> np.ndarray:
    """Colour a depth map as uint8 HxWx3: near is warm/bright, far is cold/dark."""
    anchors = _colormap(cmap)
    depth = _depth_2d(depth)
    low, high = _depth_range(depth, vmin, vmax)
    span = high - low if high > low else 1e-12
    normalised = np.clip((np.nan_to_num(depth, nan=low) - low) / span, 0.0, 1.0)
    rgb = _apply_colormap(1.0 - normalised, anchors)
    rgb[~np.isfinite(depth)] = 0.0  # unknown depth is black
    return np.round(rgb).astype(np.uint8)


def colorize_error(relative_error: np.ndarray, floor: float = 1e-8, ceil: float = 1e-2, cmap: str = "turbo") -> np.ndarray:
    """Colour a relative-error map on a log scale: ``floor`` and below dark blue, ``ceil`` and above red."""
    anchors = _colormap(cmap)
    error = _depth_2d(relative_error)
    logs = np.log10(np.clip(np.nan_to_num(error, nan=ceil, posinf=ceil), floor, ceil))
    normalised = (logs - np.log10(floor)) / (np.log10(ceil) - np.log10(floor))
    return np.round(_apply_colormap(normalised, anchors)).astype(np.uint8)


def write_depth_color(
    path: PathLike,
    depth: np.ndarray,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str = "turbo",
) -> None:
    """Write :func:`colorize_depth` output as a PNG."""
    write_image(path, colorize_depth(depth, vmin=vmin, vmax=vmax, cmap=cmap))


# --------------------------------------------------------------------------- comparisons


def _resize_to_height(panel: np.ndarray, height: int) -> np.ndarray:
    """Resize a uint8 RGB panel to ``height`` keeping its aspect (bilinear)."""
    rows, cols = panel.shape[:2]
    if rows == height:
        return panel
    width = max(1, round(cols * height / rows))
    return np.asarray(Image.fromarray(panel).resize((width, height), Image.Resampling.BILINEAR))


def _draw_label(panel: np.ndarray, label: str) -> np.ndarray:
    """Draw ``label`` in the panel's top-left corner on a small dark box."""
    image = Image.fromarray(panel)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((4, 4), label, font=font)
    draw.rectangle((left - 3, top - 3, right + 3, bottom + 3), fill=(20, 20, 20))
    draw.text((4, 4), label, fill=(255, 255, 255), font=font)
    return np.asarray(image)


def side_by_side(images: list[np.ndarray], labels: list[str] | None = None) -> np.ndarray:
    """Join uint8 RGB panels horizontally at the first panel's height, 4 px white gaps between."""
    if not images:
        raise ZoeExportError("side_by_side needs at least one image.")
    if labels is not None and len(labels) != len(images):
        raise ZoeExportError(f"got {len(labels)} labels for {len(images)} images; pass one per image.")
    panels = [np.ascontiguousarray(_as_uint8_rgb(image)) for image in images]
    height = panels[0].shape[0]
    panels = [_resize_to_height(panel, height) for panel in panels]
    if labels is not None:
        panels = [_draw_label(panel, label) if label else panel for panel, label in zip(panels, labels)]
    gap = np.full((height, _GAP, 3), 255, dtype=np.uint8)
    pieces: list[np.ndarray] = []
    for index, panel in enumerate(panels):
        if index:
            pieces.append(gap)
        pieces.append(panel)
    return np.concatenate(pieces, axis=1)


def _log_label(value: float) -> str:
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def parity_panel(
    rgb: np.ndarray,
    reference: np.ndarray,
    depth: np.ndarray,
    labels: tuple[str, str, str] = ("input", "reference", "backend"),
    error_range: tuple[float, float] = (1e-6, 1e-1),
) -> np.ndarray:
    """input | reference depth | depth | relative error, side by side (uint8 HxWx3).

    Both depth maps are coloured on the reference's finite range; |depth - reference| / |reference| on a
    log scale over ``error_range``, which the fourth label states. Depth maps may be (H,W), (1,H,W) or (1,1,H,W).
    """
    if len(labels) != 3:
        raise ZoeExportError(f"parity_panel takes 3 labels (input, reference, depth), got {len(labels)}.")
    reference, depth = _depth_2d(reference), _depth_2d(depth)
    if reference.shape != depth.shape:
        raise ZoeExportError(f"depth of shape {depth.shape} against a reference of shape {reference.shape}.")
    finite = reference[np.isfinite(reference)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    relative = np.abs(depth - reference) / np.maximum(np.abs(reference), 1e-12)
    floor, ceil = error_range
    return side_by_side(
        [rgb, colorize_depth(reference, low, high), colorize_depth(depth, low, high),
         colorize_error(relative, floor, ceil)],
        [*labels, f"relative error, log {_log_label(floor)}..{_log_label(ceil)}"],
    )
