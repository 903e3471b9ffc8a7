"""Preprocessing shared by every backend: any image -> fixed-size model input, and depth back.

The exported models take float32 NCHW RGB in [0, 1] at a fixed (H, W), both multiples of 32, and
normalise inside. This module reproduces the official ZoeDepth ``infer()`` recipe around them
(reflection padding, resize, horizontal-flip averaging, bicubic upsampling, un-padding) in numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ZoeExportError

#: "stretch": to the model size; "letterbox": keep aspect inside it; "minimal": the official keep-aspect size
#: (``size`` is then the net size and the model runs at :func:`minimal_size` of the padded image)
FITS = ("stretch", "letterbox", "minimal")
INTERPOLATIONS = ("bicubic", "bilinear")
_CUBIC_A = -0.75  # PyTorch's cubic convolution coefficient


# --------------------------------------------------------------------------- input conversion


def to_float_rgb(image: np.ndarray) -> np.ndarray:
    """Convert an HxWx3 uint8 / uint16 / float-in-[0,1] image to float32 HxWx3 in [0, 1]."""
    image = np.asarray(image)
    _check_rgb_shape(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255.0)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535.0)
    if np.issubdtype(image.dtype, np.floating):
        return _checked_unit_float(image)
    raise ZoeExportError(
        f"unsupported image dtype {image.dtype}; pass uint8 (0-255), uint16 (0-65535) "
        "or float values already scaled to [0, 1]."
    )


def _check_rgb_shape(image: np.ndarray) -> None:
    """Raise unless ``image`` is HxWx3 with non-empty spatial dimensions."""
    shape = image.shape
    if image.ndim == 3 and shape[2] == 4:
        raise ZoeExportError(
            f"image has shape {shape} (RGBA); convert it to RGB first, e.g. "
            "Image.open(path).convert('RGB') or image[..., :3]."
        )
    if image.ndim == 3 and shape[0] in (1, 3) and shape[2] not in (1, 3):
        raise ZoeExportError(
            f"image has shape {shape}, which looks channels-first (CHW); expected HxWx3 RGB, "
            "use image.transpose(1, 2, 0)."
        )
    if image.ndim == 2 or (image.ndim == 3 and shape[2] == 1):
        raise ZoeExportError(
            f"image has shape {shape} (grayscale); expected HxWx3 RGB, "
            "e.g. np.repeat(image[..., None], 3, axis=2)."
        )
    if image.ndim != 3 or shape[2] != 3:
        raise ZoeExportError(f"image has shape {shape}; expected an HxWx3 RGB array.")
    if shape[0] < 1 or shape[1] < 1:
        raise ZoeExportError(f"image has shape {shape}; it must be at least 1x1 pixels.")


def _checked_unit_float(image: np.ndarray) -> np.ndarray:
    """Return a float image as float32, rejecting values outside [0, 1] (beyond 1e-6)."""
    if not np.all(np.isfinite(image)):
        raise ZoeExportError("float image contains NaN or inf; pass finite values in [0, 1].")
    low, high = float(image.min()), float(image.max())
    if low < -1e-6 or high > 1.0 + 1e-6:
        raise ZoeExportError(
            f"float image values span [{low:g}, {high:g}] but must lie in [0, 1]; "
            "divide 0-255 data by 255 (or pass it as uint8)."
        )
    return np.clip(image, 0.0, 1.0).astype(np.float32)


_UINT8_LAYOUTS = {"nchw": (4, 1), "chw": (3, 0), "nhwc": (4, 3), "hwc": (3, 2)}  # (ndim, channel axis)


def to_uint8(array: np.ndarray, layout: str = "nchw") -> np.ndarray:
    """Float RGB in [0, 1] -> uint8 channels-last (NCHW -> NHWC, CHW -> HWC): clipped, rounded.

    ``layout`` is the input's; uint8 input is only moved to channels-last.
    """
    array = np.asarray(array)
    if layout not in _UINT8_LAYOUTS:
        raise ZoeExportError(f"unknown layout {layout!r}; choose one of: {', '.join(_UINT8_LAYOUTS)}.")
    ndim, channels = _UINT8_LAYOUTS[layout]
    if array.ndim != ndim or array.shape[channels] != 3:
        raise ZoeExportError(f"expected a {layout.upper()} RGB array, got shape {array.shape}.")
    if layout in ("nchw", "chw"):
        array = np.moveaxis(array, -3, -1)
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise ZoeExportError(f"unsupported dtype {array.dtype}; pass float RGB in [0, 1] or uint8.")
    return np.ascontiguousarray(np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------- size policies


def minimal_size(
    height: int, width: int, target: tuple[int, int] = (384, 512), multiple_of: int = 32
) -> tuple[int, int]:
    """MiDaS "minimal" keep-aspect policy: scale as little as possible, snap to ``multiple_of``."""
    scale_h = target[0] / height
    scale_w = target[1] / width
    if abs(1 - scale_w) < abs(1 - scale_h):
        scale_h = scale_w
    else:
        scale_w = scale_h
    new_h = round(scale_h * height / multiple_of) * multiple_of
    new_w = round(scale_w * width / multiple_of) * multiple_of
    return int(new_h), int(new_w)


def reflect_padding(height: int, width: int, pad_factor: float = 3.0) -> tuple[int, int]:
    """Rows and columns of reflection padding per side used by the official ``infer()``."""
    return int(math.sqrt(height / 2) * pad_factor), int(math.sqrt(width / 2) * pad_factor)


def official_model_size(height: int, width: int, net_size: tuple[int, int]) -> tuple[int, int]:
    """The model size the official ``infer()`` runs a ``height`` x ``width`` frame at.

    The frame is reflect-padded first; the padded size is then fitted to ``net_size`` (the variant's
    native size) with the keep-aspect "minimal" policy, in float64 as the official code computes it.
    """
    pad_h, pad_w = reflect_padding(height, width)
    return minimal_size(height + 2 * pad_h, width + 2 * pad_w, net_size)


# --------------------------------------------------------------------------- resizing


def _bilinear_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(out x in) bilinear weights with align_corners=True."""
    scale = np.float32((size_in - 1) / (size_out - 1) if size_out > 1 else 0.0)
    src = np.arange(size_out, dtype=np.float32) * scale  # float32 index maths, as PyTorch
    i0 = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    frac = src - i0
    rows = np.arange(size_out)
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    np.add.at(matrix, (rows, i0), 1.0 - frac)
    np.add.at(matrix, (rows, i1), frac)
    return matrix


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """Cubic convolution weights (A = -0.75) for taps at offsets -1, 0, 1, 2; shape (n, 4).

    ``t`` is float32. The tap distances are formed in float32 as PyTorch forms them (t + 1, 1 - t,
    2 - t as (1 - t) + 1); the polynomials are then evaluated in float64.
    """
    a = _CUBIC_A
    one = np.float32(1.0)
    back = one - t
    dist = [d.astype(np.float64) for d in (t + one, t, back, back + one)]

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(dist[0]), near(dist[1]), near(dist[2]), far(dist[3])], axis=1)


def _bicubic_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(out x in) bicubic weights with align_corners=False, as PyTorch's upsample_bicubic2d."""
    scale = np.float64(np.float32(size_in / size_out))
    # float32 source index rounded once, as PyTorch's fused multiply-add computes it; not clamped
    src = ((np.arange(size_out) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(src)
    weights = _cubic_weights((src - i0).astype(np.float32))
    taps = np.clip(i0.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :], 0, size_in - 1)
    rows = np.repeat(np.arange(size_out), 4)
    matrix = np.zeros((size_out, size_in), dtype=np.float64)
    np.add.at(matrix, (rows, taps.ravel()), weights.ravel())
    return matrix


def _apply_separable(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Apply (out_h x in_h) and (out_w x in_w) matrices to an HxW or HxWxC image."""
    data = np.asarray(image, dtype=np.float64)
    if data.ndim == 2:
        out = rows @ data @ cols.T
    elif data.ndim == 3:
        out = np.einsum("oh,hwc,pw->opc", rows, data, cols, optimize=True)
    else:
        raise ZoeExportError(f"cannot resize an array of shape {data.shape}; expected HxW or HxWxC.")
    return np.ascontiguousarray(out, dtype=np.float32)


def _check_resize(image: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """Validate a resize request and return the output (height, width)."""
    out_h, out_w = (int(s) for s in size)
    if out_h < 1 or out_w < 1:
        raise ZoeExportError(f"resize target {size} must be positive (height, width).")
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ZoeExportError(f"cannot resize an array of shape {image.shape}; expected HxW or HxWxC.")
    return out_h, out_w


def resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (align_corners=True) of an HxW or HxWxC array to ``size`` = (h, w)."""
    image = np.asarray(image)
    out_h, out_w = _check_resize(image, size)
    rows = _bilinear_matrix(image.shape[0], out_h)
    cols = _bilinear_matrix(image.shape[1], out_w)
    return _apply_separable(image, rows, cols)


def resize_bicubic(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bicubic resize (align_corners=False, A=-0.75, no antialias) like torch F.interpolate."""
    image = np.asarray(image)
    out_h, out_w = _check_resize(image, size)
    rows = _bicubic_matrix(image.shape[0], out_h)
    cols = _bicubic_matrix(image.shape[1], out_w)
    return _apply_separable(image, rows, cols)


# --------------------------------------------------------------------------- prepare / restore


@dataclass(frozen=True)
class Prepared:
    """A model-ready batch plus what :func:`restore` needs to map depth back to the image."""

    batch: np.ndarray  # (1, 3, H, W) float32
    original_size: tuple[int, int]  # (h, w) of the input image
    padding: tuple[int, int]  # (pad_h, pad_w) reflected on each side
    content_box: tuple[int, int, int, int]  # (top, left, height, width) inside the model input
    fit: str


def _check_model_size(size: tuple[int, int]) -> tuple[int, int]:
    """Return ``size`` as two ints, or raise unless both are positive multiples of 32."""
    try:
        height, width = size
        ok = all(isinstance(v, (int, np.integer)) and v > 0 and v % 32 == 0 for v in (height, width))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ZoeExportError(
            f"model input size {size!r} is invalid; pass (height, width) as two positive integers "
            "that are multiples of 32, e.g. (384, 512)."
        )
    return int(height), int(width)


def _reflect_pad(image: np.ndarray, pad_factor: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflect-pad an HxWxC image as the official ``infer()`` does; return it and the padding."""
    height, width = image.shape[:2]
    pad_h, pad_w = reflect_padding(height, width, pad_factor)
    if pad_h >= height or pad_w >= width:
        raise ZoeExportError(
            f"image of {height}x{width} pixels is too small for reflection padding of "
            f"{pad_h}x{pad_w}; pass pad_input=False (or a smaller pad_factor), or use a larger image."
        )
    padded = np.pad(image, ((pad_h, pad_h), (pad_w, pad_w), (0, 0)), mode="reflect")
    return padded, (pad_h, pad_w)


def _minimal_model_size(height: int, width: int, net_size: tuple[int, int]) -> tuple[int, int]:
    """:func:`minimal_size` of a (padded) image, refusing a side that rounds to nothing."""
    model_size = minimal_size(height, width, net_size)
    if min(model_size) < 32:
        raise ZoeExportError(
            f"a {height}x{width} image (after padding) is too elongated for fit='minimal' at {net_size[0]}x"
            f"{net_size[1]}: its keep-aspect size is {model_size[0]}x{model_size[1]}; crop it, or use fit='stretch'."
        )
    return model_size


def _letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Keep-aspect resize into ``size``, centred, with the border filled by reflecting content."""
    height, width = size
    src_h, src_w = image.shape[:2]
    scale = min(height / src_h, width / src_w)
    new_h = min(height, max(1, round(src_h * scale)))
    new_w = min(width, max(1, round(src_w * scale)))
    content = resize_bilinear(image, (new_h, new_w))
    top, left = (height - new_h) // 2, (width - new_w) // 2
    pads = ((top, height - new_h - top), (left, width - new_w - left), (0, 0))
    reflect_fits = max(pads[0]) <= new_h - 1 and max(pads[1]) <= new_w - 1
    filled = np.pad(content, pads, mode="reflect" if reflect_fits else "edge")
    return filled, (top, left, new_h, new_w)


def prepare(
    image: np.ndarray,
    size: tuple[int, int],
    *,
    fit: str = "stretch",
    pad_input: bool = False,
    pad_factor: float = 3.0,
) -> Prepared:
    """Turn an RGB image of any size into a (1, 3, H, W) float32 model input.

    (H, W) is ``size``, except with ``fit="minimal"``: ``size`` is then the net size (the variant's
    native size) and (H, W) the official keep-aspect size of the (padded) image, :func:`minimal_size`;
    with ``pad_input`` that is :func:`official_model_size` of the image, as the official ``infer()``.
    """
    model_size = _check_model_size(size)
    if fit not in FITS:
        raise ZoeExportError(f"unknown fit {fit!r}; choose one of: {', '.join(FITS)}.")
    rgb = to_float_rgb(image)
    original_size = (rgb.shape[0], rgb.shape[1])
    padding = (0, 0)
    if pad_input:
        rgb, padding = _reflect_pad(rgb, pad_factor)
    if fit == "minimal":
        model_size = _minimal_model_size(rgb.shape[0], rgb.shape[1], model_size)
    if fit in ("stretch", "minimal"):
        fitted = resize_bilinear(rgb, model_size)
        content_box = (0, 0, *model_size)
    else:
        fitted, content_box = _letterbox(rgb, model_size)
    batch = np.ascontiguousarray(fitted.transpose(2, 0, 1)[None], dtype=np.float32)
    return Prepared(batch, original_size, padding, content_box, fit)


def _depth_2d(depth: np.ndarray, expected: tuple[int, int]) -> np.ndarray:
    """Squeeze (H,W), (1,H,W) or (1,1,H,W) depth to (H,W), checking it matches the model size."""
    depth = np.asarray(depth)
    if depth.ndim in (3, 4) and all(d == 1 for d in depth.shape[:-2]):
        depth = depth.reshape(depth.shape[-2:])
    if depth.ndim != 2 or depth.shape != expected:
        raise ZoeExportError(
            f"depth has shape {depth.shape} but the prepared input is {expected[0]}x{expected[1]}; "
            "pass the depth the model returned for this Prepared batch, as (H,W), (1,H,W) or (1,1,H,W)."
        )
    return depth.astype(np.float32, copy=False)


def restore(depth: np.ndarray, prepared: Prepared, interpolation: str = "bicubic") -> np.ndarray:
    """Map model-size depth back to the original image size as (h, w) float32."""
    if interpolation not in INTERPOLATIONS:
        raise ZoeExportError(
            f"unknown interpolation {interpolation!r}; choose one of: {', '.join(INTERPOLATIONS)}."
        )
    depth = _depth_2d(depth, tuple(prepared.batch.shape[-2:]))
    top, left, box_h, box_w = prepared.content_box
    content = depth[top : top + box_h, left : left + box_w]
    (height, width), (pad_h, pad_w) = prepared.original_size, prepared.padding
    resize = resize_bicubic if interpolation == "bicubic" else resize_bilinear
    padded = resize(content, (height + 2 * pad_h, width + 2 * pad_w))
    return np.ascontiguousarray(padded[pad_h : pad_h + height, pad_w : pad_w + width])


def _run(fn: Callable[[np.ndarray], np.ndarray], batch: np.ndarray) -> np.ndarray:
    """Call the backend and check it returned (B, 1, H, W) depth."""
    out = np.asarray(fn(batch), dtype=np.float32)
    expected = (batch.shape[0], 1, *batch.shape[2:])
    if out.shape != expected:
        raise ZoeExportError(
            f"backend returned depth of shape {out.shape}, expected {expected}; the callable must "
            "map a (B,3,H,W) float32 array to (B,1,H,W) metric depth."
        )
    return out


def flip_average(fn: Callable[[np.ndarray], np.ndarray], batch: np.ndarray) -> np.ndarray:
    """(B, 1, H, W) depth of ``batch`` averaged with that of its mirror image (flipped back); one call of ``fn``."""
    return mirror_average(_run(fn, np.ascontiguousarray(np.concatenate([batch, batch[..., ::-1]], axis=0))))


def mirror_average(depth: np.ndarray) -> np.ndarray:
    """(2B, 1, H, W) depth of B images followed by their mirror images -> (B, 1, H, W): each averaged with its
    mirror's, flipped back."""
    count = len(depth) // 2
    return (depth[:count] + depth[count:][..., ::-1]) / 2


def predict(
    fn: Callable[[np.ndarray], np.ndarray],
    image: np.ndarray,
    size: tuple[int, int],
    *,
    fit: str = "stretch",
    pad_input: bool = True,
    flip: bool = True,
    pad_factor: float = 3.0,
) -> np.ndarray:
    """Official ``infer()`` recipe for any backend: returns (h, w) float32 depth in metres.

    ``fn`` gets one batch: (1, 3, H, W), or with ``flip`` (2, 3, H, W), the image and its mirror image,
    at the model size :func:`prepare` chooses (with ``fit="minimal"``, ``size`` is the net size and
    (H, W) the official keep-aspect size of the padded image). The flip average is taken at the model
    size, before the bicubic resize and the crop; the official ``infer()`` averages after them. Both
    steps are linear and mirror-symmetric, so the orders agree up to float32 rounding (about 1e-7).
    """
    prepared = prepare(image, size, fit=fit, pad_input=pad_input, pad_factor=pad_factor)
    depth = flip_average(fn, prepared.batch) if flip else _run(fn, prepared.batch)
    return restore(depth[0], prepared)
