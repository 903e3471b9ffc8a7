"""Camera intrinsics: the demo's field-of-view camera, fitting to an image's size, and camera files."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import zoe_export.geometry.camera as camera_module
from zoe_export.errors import ZoeExportError
from zoe_export.geometry import DEFAULT_FOV_DEG, Camera

# --------------------------------------------------------------------------- the demo's camera


def test_from_fov_is_the_official_demos_camera():
    camera = Camera.from_fov(480, 640)
    focal = 0.5 * 640 / math.tan(math.radians(27.5))
    assert DEFAULT_FOV_DEG == 55.0
    assert camera == Camera(focal, focal, 320.0, 240.0, width=640, height=480)
    assert camera.fx == pytest.approx(614.7142, abs=1e-4)  # 0.5 * 640 / tan(27.5 deg), worked out by hand


def test_from_fov_takes_another_horizontal_field_of_view():
    camera = Camera.from_fov(100, 200, fov_deg=90.0)
    assert camera.fx == pytest.approx(100.0) and camera.fy == pytest.approx(100.0)  # tan(45 deg) = 1
    assert (camera.cx, camera.cy) == (100.0, 50.0)


@pytest.mark.parametrize("fov", [0.0, 180.0, -10.0, 200.0, float("nan"), float("inf"), "55", True])
def test_from_fov_refuses_a_field_of_view_outside_0_to_180(fov):
    with pytest.raises(ZoeExportError, match=r"fov_deg=.*more than 0 and less than 180"):
        Camera.from_fov(480, 640, fov_deg=fov)


@pytest.mark.parametrize("height, width", [(0, 640), (480, -1), (480.5, 640), ("480", 640)])
def test_from_fov_refuses_an_image_size_that_is_not_whole_pixels(height, width):
    with pytest.raises(ZoeExportError, match="whole number of pixels"):
        Camera.from_fov(height, width)


def test_matrix_and_as_dict():
    camera = Camera(500, 510.5, 320, 241, width=640, height=480)
    np.testing.assert_array_equal(camera.matrix, [[500, 0, 320], [0, 510.5, 241], [0, 0, 1]])
    assert camera.matrix.dtype == np.float64
    assert camera.as_dict() == {"fx": 500.0, "fy": 510.5, "cx": 320.0, "cy": 241.0, "width": 640, "height": 480}
    assert Camera(1, 2, 3, 4).as_dict() == {"fx": 1.0, "fy": 2.0, "cx": 3.0, "cy": 4.0}
    assert isinstance(Camera(500, 500, 320, 240).fx, float)


def test_a_camera_gives_both_sides_of_its_image_or_neither():
    with pytest.raises(ZoeExportError, match="both"):
        Camera(500, 500, 320, 240, width=640)
    with pytest.raises(ZoeExportError, match="not a number"):
        Camera("500", 500, 320, 240)


# --------------------------------------------------------------------------- for_image


def test_for_image_of_the_calibrated_size_keeps_the_intrinsics():
    camera = Camera(600, 610, 330, 250, width=640, height=480)
    assert camera.for_image(480, 640) == camera
    assert Camera(600, 610, 330, 250).for_image(480, 640) == camera  # the size gets recorded


def test_for_image_scales_the_intrinsics_for_a_resized_image():
    fitted = Camera(600, 610, 330, 250, width=640, height=480).for_image(240, 320)
    assert fitted == Camera(300, 305, 165, 125, width=320, height=240)


def test_for_image_scales_each_axis_by_its_own_factor_within_one_percent():
    fitted = Camera(600, 600, 320, 240, width=640, height=480).for_image(241, 320)  # rounding made 240.5 -> 241
    assert fitted.fx == pytest.approx(300.0) and fitted.cx == pytest.approx(160.0)
    assert fitted.fy == pytest.approx(600 * 241 / 480) and fitted.cy == pytest.approx(240 * 241 / 480)


def test_for_image_refuses_another_aspect_ratio_naming_both_sizes():
    camera = Camera(600, 600, 320, 240, width=640, height=480)
    with pytest.raises(ZoeExportError, match=r"480x640 \(HxW\) image contradict the 360x640 image"):
        camera.for_image(360, 640)
    with pytest.raises(ZoeExportError, match="contradict"):
        camera.for_image(480, 620)  # 3 % narrower: a crop, not a resize


@pytest.mark.parametrize("cx, cy", [(700.0, 240.0), (-1.0, 240.0), (320.0, 481.0), (320.0, -0.5)])
def test_for_image_refuses_a_principal_point_outside_the_image(cx, cy):
    with pytest.raises(ZoeExportError, match=r"outside the 480x640 \(HxW\) image"):
        Camera(500, 500, cx, cy).for_image(480, 640)


def test_for_image_accepts_a_principal_point_on_the_border():
    assert Camera(500, 500, 0, 480).for_image(480, 640).cy == 480.0


@pytest.mark.parametrize("fx, fy", [(0.0, 500.0), (-500.0, 500.0), (500.0, 0.0), (float("nan"), 500.0),
                                    (float("inf"), 500.0)])
def test_for_image_refuses_focal_lengths_that_are_not_positive_numbers(fx, fy):
    with pytest.raises(ZoeExportError, match=r"f[xy] = .*positive"):
        Camera(fx, fy, 320, 240).for_image(480, 640)


# --------------------------------------------------------------------------- camera files

ROS_CAMERA_INFO = """\
image_width: 640
image_height: 480
camera_name: narrow_stereo
camera_matrix:
  rows: 3
  cols: 3
  data: [525.0, 0.0, 319.5, 0.0, 526.0, 239.5, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.0, 0.0, 0.0, 0.0, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [525.0, 0.0, 319.5, 0.0, 0.0, 526.0, 239.5, 0.0, 0.0, 0.0, 1.0, 0.0]
"""

OPENCV_FILE_STORAGE = """\
%YAML:1.0
---
image_width: 1280
image_height: 720
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 9.1e+02, 0., 6.4e+02, 0., 9.2e+02, 3.6e+02, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ 0.1, -0.2, 0., 0., 0. ]
"""


@pytest.mark.parametrize("name, text, expected", [
    ("cam.json", json.dumps({"fx": 500, "fy": 501.5, "cx": 320, "cy": 240.5}), Camera(500, 501.5, 320, 240.5)),
    ("cam.json", json.dumps({"fx": 500, "fy": 500, "cx": 320, "cy": 240, "width": 640, "height": 480}),
     Camera(500, 500, 320, 240, width=640, height=480)),
    ("cam.yaml", "fx: 500.0\nfy: 502.0\ncx: 321.0\ncy: 239.0\nwidth: 640\nheight: 480\n",
     Camera(500, 502, 321, 239, width=640, height=480)),
    ("cam.yml", ROS_CAMERA_INFO, Camera(525, 526, 319.5, 239.5, width=640, height=480)),
    ("cam.json", json.dumps({"K": [[500, 0, 320], [0, 505, 240], [0, 0, 1]]}), Camera(500, 505, 320, 240)),
    ("cam.json", json.dumps({"camera_matrix": [[500, 0, 320], [0, 505, 240], [0, 0, 1]], "image_width": 640,
                             "image_height": 480}), Camera(500, 505, 320, 240, width=640, height=480)),
    ("cam.yaml", "k: [500, 0, 320, 0, 505, 240, 0, 0, 1]\nwidth: 640\nheight: 480\n",  # ROS 2 CameraInfo
     Camera(500, 505, 320, 240, width=640, height=480)),
    ("cam.json", json.dumps({"fx": 500, "fy": 505, "cx": 320, "cy": 240,
                             "K": [[500, 0, 320], [0, 505, 240], [0, 0, 1]]}), Camera(500, 505, 320, 240)),
    ("CAM.YAML", OPENCV_FILE_STORAGE, Camera(910, 920, 640, 360, width=1280, height=720)),
])
def test_camera_files(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    assert Camera.from_file(path) == expected


def test_as_dict_written_as_json_reads_back(tmp_path):
    camera = Camera(612.25, 611.5, 318.75, 242.125, width=640, height=480)
    path = tmp_path / "camera.json"
    path.write_text(json.dumps(camera.as_dict()))
    assert Camera.from_file(path) == camera


def test_distortion_in_a_camera_file_is_reported_as_ignored(tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(camera_module.log, "warning", lambda message, *args: warnings.append(message % args))
    ros, opencv = tmp_path / "ros.yaml", tmp_path / "opencv.yaml"
    ros.write_text(ROS_CAMERA_INFO)  # all-zero coefficients: nothing to say
    opencv.write_text(OPENCV_FILE_STORAGE)
    Camera.from_file(ros)
    assert warnings == []
    Camera.from_file(opencv)
    assert len(warnings) == 1 and "distortion" in warnings[0] and str(opencv) in warnings[0]


@pytest.mark.parametrize("name, text, match", [
    ("cam.json", "{not json", "not valid JSON"),
    ("cam.yaml", "fx: [1, 2\ncx: 3\n", "not valid YAML"),
    ("cam.json", "[500, 500, 320, 240]", "not a mapping"),
    ("cam.json", json.dumps({"focal": 500}), "neither fx, fy, cx, cy nor a camera matrix"),
    ("cam.json", json.dumps({"fx": 500, "fy": 500}), "lacks cx, cy"),
    ("cam.json", json.dumps({"fx": "500", "fy": 500, "cx": 320, "cy": 240}), "fx is '500', not a number"),
    ("cam.json", json.dumps({"fx": True, "fy": 500, "cx": 320, "cy": 240}), "fx is True, not a number"),
    ("cam.json", '{"fx": NaN, "fy": 500, "cx": 320, "cy": 240}', "fx is nan; give a finite number"),
    ("cam.yaml", "fx: 500\nfy: .inf\ncx: 320\ncy: 240\n", "fy is inf; give a finite number"),
    ("cam.json", json.dumps({"fx": 0, "fy": 500, "cx": 320, "cy": 240}), "fx = 0; focal lengths are positive"),
    ("cam.json", json.dumps({"fx": 500, "fy": -500, "cx": 320, "cy": 240}), "fy = -500; focal lengths are positive"),
    ("cam.json", json.dumps({"K": [[500, 0, 320], [0, 500, 240]]}), "K is not 3x3"),
    ("cam.json", json.dumps({"K": [500, 0, 320, 0, 500, 240, 0, 0]}), "K is not 3x3"),
    ("cam.json", json.dumps({"K": [[500, 0, 0], [0, 500, 0], [320, 240, 1]]}), "is it transposed"),
    ("cam.json", json.dumps({"K": [[500, 3, 320], [0, 500, 240], [0, 0, 1]]}), "skew"),
    ("cam.json", json.dumps({"K": {"rows": 3, "cols": 4, "data": list(range(12))}}), "K is not 3x3"),
    ("cam.json", json.dumps({"fx": 500, "fy": 500, "cx": 320, "cy": 240, "K": [[400, 0, 320], [0, 500, 240],
                                                                               [0, 0, 1]]}), "contradict K"),
    ("cam.json", json.dumps({"fx": 500, "fy": 500, "cx": 320, "cy": 240, "width": 640}), "gives only the image width"),
    ("cam.json", json.dumps({"fx": 500, "fy": 500, "cx": 320, "cy": 240, "width": 640, "height": 0}),
     "height 0: give a whole number"),
    ("cam.txt", "fx 500", "unknown suffix '.txt'"),
])
def test_bad_camera_files_are_named_with_the_fix(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ZoeExportError, match=match) as caught:
        Camera.from_file(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


def test_a_missing_or_binary_camera_file(tmp_path):
    with pytest.raises(ZoeExportError, match=r"camera file .*missing.json does not exist; pass a JSON or YAML"):
        Camera.from_file(tmp_path / "missing.json")
    binary = tmp_path / "camera.json"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ZoeExportError, match="not a text file"):
        Camera.from_file(binary)
