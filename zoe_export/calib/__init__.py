"""Calibration sets: images (and video frames) preprocessed exactly as a model input, on disk.

    zoe-export calib --images photos/ --variant M12-N --output calib/indoor
    for feed in CalibrationSet("calib/indoor"):   # {"image": (1, 3, 384, 512) float32}
        ...
"""
from .dataset import (
    CalibrationSet,
    SetSpec,
    build_calibration_set,
    check_counts,
    check_output,
    estimate_calibration_seconds,
)

__all__ = ["CalibrationSet", "SetSpec", "build_calibration_set", "check_counts", "check_output",
           "estimate_calibration_seconds"]
