"""Calibration sets: images (and video frames) preprocessed exactly as a model input, on disk.

    zoe-export calib --images photos/ --variant M12-N --output calib/indoor
    for feed in CalibrationSet("calib/indoor"):   # {"image": (1, 3, 384, 512) float32}
        ...
    open_calibration(["calib/indoor_384x512", "calib/indoor_384x672"])  # a mix of sizes (dynamic-size graphs)
"""
from .dataset import (
    CalibrationMix,
    CalibrationSet,
    SetSpec,
    build_calibration_set,
    check_counts,
    check_output,
    estimate_calibration_seconds,
    open_calibration,
)

__all__ = ["CalibrationMix", "CalibrationSet", "SetSpec", "build_calibration_set", "check_counts", "check_output",
           "estimate_calibration_seconds", "open_calibration"]
