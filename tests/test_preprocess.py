"""Tests for zoe_export.preprocess; torch is used only as an independent reference for resizing."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zoe_export.errors import ZoeExportError
from zoe_export.preprocess import (
    Prepared,
    flip_average,
    minimal_size,
    official_model_size,
    predict,
    prepare,
    reflect_padding,
    resize_bicubic,
    resize_bilinear,
    restore,
    to_float_rgb,
    to_uint8,
)

RESIZE_CASES = [
    ((7, 9), (13, 5)),
    ((31, 17), (64, 96)),
    ((100, 80), (33, 21)),
    ((5, 5), (1, 1)),
    ((1, 4), (3, 8)),
    ((97, 131), (301, 37)),
    ((120, 160), (96, 128)),
    ((384, 512), (480, 640)),
]


def _torch_resize(image: np.ndarray, size: tuple[int, int], mode: str, align_corners: bool) -> np.ndarray:
    """Reference resize of an HxWxC float32 array with torch."""
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None]))
    out = F.interpolate(tensor, size=size, mode=mode, align_corners=align_corners)
    return out[0].numpy().transpose(1, 2, 0)


def _smooth_image(height: int, width: int) -> np.ndarray:
    """A low-frequency uint8 RGB image, so resampling errors stay small."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 0.5 + 0.4 * np.sin(x / width * 2.0 * np.pi) * np.cos(y / height * np.pi)
    green = x / (width - 1)
    blue = y / (height - 1)
    return np.round(np.stack([red, green, blue], axis=-1) * 255).astype(np.uint8)


def _red_channel_depth(batch: np.ndarray) -> np.ndarray:
    """A stand-in backend whose 'depth' is the red channel (equivariant to resizing and flips)."""
    return batch[:, :1].copy()


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("height", "width", "target", "expected"),
    [
        (480, 640, (384, 512), (384, 512)),
        (480, 640, (384, 768), (384, 512)),
        (352, 1216, (384, 768), (384, 1312)),
    ],
)
def test_minimal_size_matches_official_policy(height, width, target, expected):
    assert minimal_size(height, width, target) == expected


def test_reflect_padding_of_vga():
    assert reflect_padding(480, 640) == (46, 53)


# --------------------------------------------------------------------------- resizing vs torch


@pytest.mark.parametrize(("in_size", "out_size"), RESIZE_CASES)
def test_resize_bilinear_matches_torch_align_corners(in_size, out_size):
    image = np.random.default_rng(0).random((*in_size, 3)).astype(np.float32)
    expected = _torch_resize(image, out_size, "bilinear", align_corners=True)
    result = resize_bilinear(image, out_size)
    assert result.dtype == np.float32 and result.shape == (*out_size, 3)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("in_size", "out_size"), RESIZE_CASES)
def test_resize_bicubic_matches_torch(in_size, out_size):
    image = (np.random.default_rng(1).random((*in_size, 3)) * 10).astype(np.float32)
    expected = _torch_resize(image, out_size, "bicubic", align_corners=False)
    result = resize_bicubic(image, out_size)
    assert result.dtype == np.float32 and result.shape == (*out_size, 3)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5)


def test_resize_accepts_two_dimensional_arrays():
    image = np.random.default_rng(2).random((11, 13)).astype(np.float32)
    np.testing.assert_allclose(resize_bicubic(image, (7, 20)), resize_bicubic(image[..., None], (7, 20))[..., 0])
    np.testing.assert_allclose(resize_bilinear(image, (7, 20)), resize_bilinear(image[..., None], (7, 20))[..., 0])


# --------------------------------------------------------------------------- input conversion


def test_to_float_rgb_scales_integer_types():
    assert to_float_rgb(np.full((2, 2, 3), 255, np.uint8)).max() == 1.0
    assert to_float_rgb(np.full((2, 2, 3), 65535, np.uint16)).max() == 1.0
    result = to_float_rgb(np.full((2, 2, 3), 0.5, np.float64))
    assert result.dtype == np.float32 and np.all(result == 0.5)


# --------------------------------------------------------------------------- prepare / restore


@pytest.mark.parametrize("fit", ["stretch", "letterbox"])
@pytest.mark.parametrize("pad_input", [False, True])
def test_prepare_layout(fit, pad_input):
    prepared = prepare(_smooth_image(90, 200), (64, 96), fit=fit, pad_input=pad_input)
    assert isinstance(prepared, Prepared)
    assert prepared.batch.shape == (1, 3, 64, 96) and prepared.batch.dtype == np.float32
    assert prepared.batch.flags["C_CONTIGUOUS"]
    assert prepared.original_size == (90, 200)
    assert prepared.padding == (reflect_padding(90, 200) if pad_input else (0, 0))
    top, left, height, width = prepared.content_box
    if fit == "stretch":
        assert prepared.content_box == (0, 0, 64, 96)
    else:  # wide image: full width, centred vertically
        assert (left, width) == (0, 96) and height < 64 and top == (64 - height) // 2


@pytest.mark.parametrize(
    ("frame", "net", "pad_input"),
    [((480, 640), (384, 512), True), ((720, 1280), (384, 512), True), ((352, 1216), (384, 768), True),
     ((352, 1216), (384, 768), False), ((90, 200), (64, 96), True)],
)
def test_prepare_minimal_runs_at_the_official_size(frame, net, pad_input):
    prepared = prepare(_smooth_image(*frame), net, fit="minimal", pad_input=pad_input)
    expected = official_model_size(*frame, net) if pad_input else minimal_size(*frame, net)
    assert prepared.batch.shape == (1, 3, *expected) and prepared.content_box == (0, 0, *expected)
    assert prepared.padding == (reflect_padding(*frame) if pad_input else (0, 0))
    assert prepared.fit == "minimal"


def test_predict_minimal_gives_fn_the_official_size_and_its_mirror():
    image = _smooth_image(90, 200)
    calls = []

    def red(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return _red_channel_depth(batch)

    depth = predict(red, image, (64, 96), fit="minimal", flip=True)
    assert calls == [(2, 3, *official_model_size(90, 200, (64, 96)))] and depth.shape == (90, 200)
    assert official_model_size(90, 200, (64, 96)) != (64, 96)  # a keep-aspect size, not the stretch


@pytest.mark.parametrize("fit", ["stretch", "letterbox", "minimal"])
def test_predict_round_trip_recovers_the_image(fit):
    image = _smooth_image(90, 200)
    depth = predict(_red_channel_depth, image, (64, 96), fit=fit)
    assert depth.shape == (90, 200) and depth.dtype == np.float32
    # The only error is resampling: bilinear (align_corners=True) down to the model size, then
    # bicubic (align_corners=False) back up, as the official recipe does. The two pixel-grid
    # conventions differ by up to about half a model pixel, and the red channel's steepest slope is
    # about 0.013 per image pixel, so the error stays near 0.016 here; 0.02 leaves a small margin.
    np.testing.assert_allclose(depth, image[..., 0] / 255.0, rtol=0, atol=0.02)


def test_restore_accepts_batched_shapes():
    prepared = prepare(_smooth_image(50, 70), (32, 64))
    depth = np.random.default_rng(3).random((32, 64)).astype(np.float32)
    expected = restore(depth, prepared)
    np.testing.assert_array_equal(restore(depth[None], prepared), expected)
    np.testing.assert_array_equal(restore(depth[None, None], prepared), expected)
    assert restore(depth, prepared, interpolation="bilinear").shape == (50, 70)


def test_flip_averaging_matches_hand_computation():
    image = _smooth_image(90, 200)
    ramp = np.linspace(1.0, 3.0, 96, dtype=np.float32)  # makes fn left-right asymmetric
    calls: list[tuple[int, ...]] = []

    def asymmetric(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return batch[:, :1] * ramp + batch[:, 1:2]

    result = predict(asymmetric, image, (64, 96), pad_input=True, flip=True)
    assert calls == [(2, 3, 64, 96)]  # one call on a batch of two

    prepared = prepare(image, (64, 96), pad_input=True)
    a = asymmetric(prepared.batch)[0]
    b = asymmetric(np.ascontiguousarray(prepared.batch[..., ::-1]))[0]
    expected = restore((a + b[..., ::-1]) / 2, prepared)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)
    without_flip = predict(asymmetric, image, (64, 96), pad_input=True, flip=False)
    assert np.abs(without_flip - result).max() > 0.01


def test_flip_average_is_one_call_on_the_batch_and_its_mirror():
    batch = np.random.default_rng(5).random((2, 3, 4, 6)).astype(np.float32)
    ramp = np.linspace(1.0, 3.0, 6, dtype=np.float32)
    calls = []

    def asymmetric(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape)
        return x[:, :1] * ramp

    averaged = flip_average(asymmetric, batch)
    assert calls == [(4, 3, 4, 6)] and averaged.shape == (2, 1, 4, 6) and averaged.dtype == np.float32
    expected = (batch[:, :1] * ramp + (batch[..., ::-1][:, :1] * ramp)[..., ::-1]) / 2
    np.testing.assert_array_equal(averaged, expected)
    with pytest.raises(ZoeExportError, match="expected \\(4, 1, 4, 6\\)"):
        flip_average(lambda x: x, batch)  # (B, 3, H, W) back is no depth


def test_to_uint8_clips_rounds_and_moves_channels_last():
    batch = np.random.default_rng(6).uniform(-0.2, 1.2, (2, 3, 5, 7)).astype(np.float32)
    batch[0, 0, 0, :3] = [0.5 / 255, 1.5 / 255, 254.4 / 255]
    out = to_uint8(batch, "nchw")
    assert out.shape == (2, 5, 7, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    # clipped, then rounded: the calibration set's formula, bit for bit
    np.testing.assert_array_equal(out, np.clip(np.round(batch.transpose(0, 2, 3, 1) * 255.0), 0, 255).astype(np.uint8))
    assert out[..., 0][batch[:, 0] > 1].min() == 255 and out[..., 0][batch[:, 0] < 0].max() == 0  # no wrap-around
    assert list(out[0, 0, :3, 0]) == [0, 2, 254]  # round half to even, as np.round
    np.testing.assert_array_equal(to_uint8(batch[1], "chw"), out[1])
    np.testing.assert_array_equal(to_uint8(batch.transpose(0, 2, 3, 1), "nhwc"), out)
    np.testing.assert_array_equal(to_uint8(out[1], "hwc"), out[1])  # uint8 stays as it is
    np.testing.assert_array_equal(to_uint8(out[1].transpose(2, 0, 1), "chw"), out[1])
    for bad, layout, word in [(batch, "hwc", "HWC"), (batch[0], "nchw", "NCHW"), (batch, "nhcw", "unknown layout"),
                              (batch.astype(np.int32), "nchw", "dtype")]:
        with pytest.raises(ZoeExportError, match=word):
            to_uint8(bad, layout)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "word"),
    [
        (lambda: prepare(_smooth_image(40, 40), (100, 96)), "multiple"),
        (lambda: prepare(_smooth_image(40, 40), (0, 32)), "multiple"),
        (lambda: prepare(_smooth_image(40, 40), (64, 64), fit="crop"), "letterbox"),
        (lambda: prepare(np.zeros((40, 40, 4), np.uint8), (64, 64)), "convert it to RGB"),
        (lambda: prepare(np.zeros((40, 40), np.uint8), (64, 64)), "HxWx3"),
        (lambda: prepare(np.zeros((3, 40, 40), np.uint8), (64, 64)), "transpose"),
        (lambda: prepare(np.full((40, 40, 3), 255.0), (64, 64)), "[0, 1]"),
        (lambda: prepare(np.zeros((4, 4, 3), np.uint8), (64, 64), pad_input=True), "pad_input=False"),
        (lambda: restore(np.zeros((32, 32)), prepare(_smooth_image(40, 40), (64, 64))), "shape"),
        (lambda: prepare(_smooth_image(10, 4000), (384, 512), fit="minimal", pad_input=True), "crop it"),
        (lambda: prepare(_smooth_image(40, 40), (384, 500), fit="minimal"), "multiple"),
    ],
)
def test_user_errors_say_how_to_fix(call, word):
    with pytest.raises(ZoeExportError) as info:
        call()
    assert word in str(info.value)
