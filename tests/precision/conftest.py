"""Calibrated ranges of a tiny export (tiny_onnx and tiny_calib live in tests/conftest.py)."""
import pytest


@pytest.fixture(scope="session")
def tiny_calibrated(tiny_onnx, tiny_calib):
    """(FP32 path, its graph, the default INT8 selection, max-calibrated ranges) of test-N."""
    import onnx

    from zoe_export.calib import CalibrationSet
    from zoe_export.precision import calibrate, select_int8
    from zoe_export.precision.int8 import activation_inputs

    source = tiny_onnx("test-N")
    model = onnx.load(source)
    selection = select_int8(model)
    ranges = calibrate(model, activation_inputs(model, selection.quantize), iter(CalibrationSet(tiny_calib)), "max",
                       progress=False)
    return source, model, selection, ranges


@pytest.fixture(scope="session")
def tiny_dynamic_size(dynamic_n):
    """test-N (seeded random weights) with height and width free over helpers.DYNAMIC_RANGE (its default size,
    64x96, is the tiny calibration set's): the session's shared export."""
    return dynamic_n


@pytest.fixture(scope="session")
def calib_at(tmp_path_factory):
    """(height, width) -> a 5-sample float-nchw calibration set at that size (made once per size)."""
    from zoe_export.calib import SetSpec, build_calibration_set

    from helpers import write_images

    root = tmp_path_factory.mktemp("calib-sizes")
    images = write_images(root / "images", 5, seed=4)
    made = {}

    def get(height: int, width: int):
        if (height, width) not in made:
            made[height, width] = root / f"set_{height}x{width}"
            build_calibration_set(made[height, width], SetSpec(height, width), images=images, count=5, min_count=2,
                                  progress=False)
        return made[height, width]

    return get
