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
