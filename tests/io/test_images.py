"""Tests for zoe_export.io.images and zoe_export.io.synthetic."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoe_export.errors import ZoeExportError
from zoe_export.io.images import (
    IMAGE_SUFFIXES,
    colorize_depth,
    colorize_error,
    list_images,
    parity_panel,
    read_depth_png16,
    read_image,
    side_by_side,
    write_depth_color,
    write_depth_png16,
    write_image,
)
from zoe_export.io.synthetic import demo_scene


def _ramp_depth(height: int = 20, width: int = 30) -> np.ndarray:
    """Depth growing from 0.5 m on the left to 8 m on the right."""
    return np.tile(np.linspace(0.5, 8.0, width, dtype=np.float32), (height, 1))


# --------------------------------------------------------------------------- 16-bit depth


def test_png16_round_trip_within_half_a_millimetre(tmp_path):
    depth = np.random.default_rng(0).uniform(0.1, 60.0, (17, 23)).astype(np.float32)
    path = tmp_path / "depth.png"
    write_depth_png16(path, depth)
    with Image.open(path) as image:
        assert image.mode.startswith("I") and image.format == "PNG"
    restored = read_depth_png16(path)
    assert restored.dtype == np.float32 and restored.shape == depth.shape
    assert np.abs(restored - depth).max() <= 0.0005 + 1e-6


def test_png16_invalid_depth_becomes_zero_and_large_is_clipped(tmp_path):
    depth = np.array([[-1.0, np.nan, np.inf, 2.0, 100.0]], dtype=np.float32)
    path = tmp_path / "depth.png"
    write_depth_png16(path, depth)
    np.testing.assert_allclose(read_depth_png16(path), [[0.0, 0.0, 0.0, 2.0, 65.535]], atol=1e-6)


def test_png16_reader_scale_and_refusals_name_the_file(tmp_path):
    path = tmp_path / "kitti.png"
    Image.fromarray(np.array([[0, 256, 512]], np.uint16)).save(path)
    np.testing.assert_array_equal(read_depth_png16(path, scale=256.0), [[0.0, 1.0, 2.0]])
    with pytest.raises(ZoeExportError, match="scale must be positive"):
        read_depth_png16(path, scale=0)
    eight_bit, colour, broken = tmp_path / "8bit.png", tmp_path / "colour.png", tmp_path / "broken.png"
    Image.fromarray(np.full((4, 4), 20, np.uint8)).save(eight_bit)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(colour)
    broken.write_bytes(b"\x89PNG not really")
    for bad in (eight_bit, colour):
        with pytest.raises(ZoeExportError, match=f"{bad.name} is a (L|RGB) image, not a 16-bit .*metres x 256"):
            read_depth_png16(bad, 256.0, "metres x 256")
    with pytest.raises(ZoeExportError, match="cannot read depth PNG .*broken.png"):
        read_depth_png16(broken)
    with pytest.raises(ZoeExportError, match="absent.png does not exist"):
        read_depth_png16(tmp_path / "absent.png")


# --------------------------------------------------------------------------- colourised depth


@pytest.mark.parametrize("cmap", ["turbo", "gray"])
def test_colorize_shape_and_dtype(cmap):
    colours = colorize_depth(_ramp_depth(), cmap=cmap)
    assert colours.shape == (20, 30, 3) and colours.dtype == np.uint8


def test_colorize_near_is_warmer_than_far():
    colours = colorize_depth(_ramp_depth()).astype(int)
    near, far = colours[:, 0], colours[:, -1]
    assert np.all(near[:, 0] > far[:, 0] + 50)  # more red
    assert np.all(near[:, 2] < far[:, 2])  # less blue


def test_colorize_gray_near_is_bright_and_constant_depth_is_safe():
    colours = colorize_depth(_ramp_depth(), cmap="gray")
    assert colours[0, 0, 0] == 255 and colours[0, -1, 0] == 0
    flat = colorize_depth(np.full((4, 4), 3.0), cmap="turbo")
    assert flat.shape == (4, 4, 3) and len(np.unique(flat.reshape(-1, 3), axis=0)) == 1


def test_colorize_unknown_cmap_lists_choices():
    with pytest.raises(ZoeExportError, match="turbo"):
        colorize_depth(_ramp_depth(), cmap="viridis")


def test_write_depth_color_writes_rgb_png(tmp_path):
    path = tmp_path / "out" / "color.png"
    write_depth_color(path, _ramp_depth(), vmin=0.5, vmax=8.0)
    assert read_image(path).shape == (20, 30, 3)


# --------------------------------------------------------------------------- RGB images


def test_write_and_read_image_round_trip(tmp_path):
    scene = demo_scene(24, 32)
    path = tmp_path / "scene.png"
    write_image(path, scene)
    np.testing.assert_array_equal(read_image(path), scene)
    write_image(path, scene / 255.0)  # float in [0, 1] is converted
    np.testing.assert_array_equal(read_image(path), scene)


def test_read_image_applies_exif_orientation(tmp_path):
    image = Image.fromarray(demo_scene(10, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert read_image(path).shape == (20, 10, 3)


def test_read_image_missing_file(tmp_path):
    with pytest.raises(ZoeExportError, match="does not exist"):
        read_image(tmp_path / "nope.png")


def test_read_image_not_an_image(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not an image")
    with pytest.raises(ZoeExportError, match="not an image"):
        read_image(path)


@pytest.mark.parametrize(
    "write",
    [
        lambda path: write_image(path, demo_scene(8, 8)),
        lambda path: write_depth_png16(path, _ramp_depth()),
        lambda path: write_depth_color(path, _ramp_depth()),
    ],
)
def test_failed_write_leaves_no_file(tmp_path, monkeypatch, write):
    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- side by side


def test_side_by_side_width_and_height():
    panels = [np.zeros((40, 50, 3), np.uint8), np.zeros((20, 30, 3), np.uint8), np.zeros((40, 10, 3), np.uint8)]
    joined = side_by_side(panels, labels=["rgb", "depth", ""])
    assert joined.dtype == np.uint8 and joined.shape == (40, 50 + 4 + 60 + 4 + 10, 3)
    assert np.all(joined[:, 50:54] == 255)  # white gap
    assert joined[:15, :30].max() > 0  # the label was drawn in the first panel


def test_side_by_side_label_count_must_match():
    with pytest.raises(ZoeExportError, match="one per image"):
        side_by_side([np.zeros((4, 4, 3), np.uint8)], labels=["a", "b"])


def test_parity_panel_colours_both_depths_on_the_reference_range_and_states_the_error_range():
    reference = _ramp_depth()
    depth = reference * 2  # far beyond the reference's range: clipped to its far colour, not rescaled
    rgb = np.zeros((20, 30, 3), np.uint8)
    panel = parity_panel(rgb, reference[None, None], depth, ("input", "ref", "got"), error_range=(1e-8, 1e-2))
    plain = side_by_side(
        [rgb, colorize_depth(reference, 0.5, 8.0), colorize_depth(depth, 0.5, 8.0),
         colorize_error(np.abs(depth - reference) / reference, 1e-8, 1e-2)],
        ["input", "ref", "got", "relative error, log 1e-8..1e-2"])
    np.testing.assert_array_equal(panel, plain)
    default = parity_panel(rgb, reference, depth)
    assert default.shape == panel.shape and not np.array_equal(default, panel)  # label "log 1e-6..1e-1"
    with pytest.raises(ZoeExportError, match="3 labels"):
        parity_panel(rgb, reference, depth, ("a", "b"))
    with pytest.raises(ZoeExportError, match="shape"):
        parity_panel(rgb, reference, depth[:, :5])


# --------------------------------------------------------------------------- image folders


def test_list_images_is_sorted_recursive_and_skips_hidden_and_other_files(tmp_path):
    for name in ["b.JPG", "a.png", "sub/c.webp", "sub/.hidden.png", ".thumbs/d.png", "notes.txt", "dir.png/e.bmp"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == ["a.png", "b.JPG", "dir.png/e.bmp", "sub/c.webp"]  # a folder named *.png is no image
    assert [p.name for p in list_images(tmp_path, frozenset({".png"}), recursive=False)] == ["a.png"]
    assert list_images(tmp_path / "absent") == [] and ".tiff" in IMAGE_SUFFIXES


# --------------------------------------------------------------------------- synthetic scene


def test_demo_scene_is_deterministic_rgb():
    first, second = demo_scene(), demo_scene()
    assert first.shape == (480, 640, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, second)
    assert demo_scene(37, 53).shape == (37, 53, 3)
    assert first.std() > 20  # has structure, not a flat fill
