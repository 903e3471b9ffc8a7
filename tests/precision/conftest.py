"""Tiny FP32 exports and a tiny calibration set, made once per test session."""
import pytest

from helpers import write_images
from zoe_export.calib import SetSpec, build_calibration_set
from zoe_export.export import export_onnx
from zoe_export.models import load_model


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory):
    """variant -> the verified FP32 export of its seeded random weights (64x96, batch 1)."""
    folder = tmp_path_factory.mktemp("fp32")
    made = {}

    def get(variant: str):
        if variant not in made:
            made[variant] = folder / f"{variant}.onnx"
            export_onnx(load_model(variant, weights="random"), made[variant])
        return made[variant]

    return get


@pytest.fixture(scope="session")
def tiny_calib(tmp_path_factory):
    """A 10-sample float-nchw calibration set for the 64x96 test variants."""
    root = tmp_path_factory.mktemp("calib")
    images = write_images(root / "images", 10)
    build_calibration_set(root / "set", SetSpec(64, 96), images=images, count=10, min_count=2, progress=False)
    return root / "set"


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
