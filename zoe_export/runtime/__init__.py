"""Runners: one interface over PyTorch, ONNX Runtime and TensorRT; DepthEngine for apps on top of any.

TensorRT and cuda-python are imported when a TensorRT runner activates, never at import time.
"""
from ..tensors import TensorSpec
from .base import Runner
from .depth_engine import DepthEngine, FramePlan, PreparedFrame, card_from_runner, open_runner
from .device_arrays import DeviceArray, DeviceView, as_device_view
from .onnxrt_runner import OnnxrtRunner, import_onnxruntime
from .torch_runner import TorchRunner
from .trt_runner import TrtRunner

__all__ = [
    "DepthEngine", "DeviceArray", "DeviceView", "FramePlan", "PreparedFrame", "OnnxrtRunner", "Runner", "TensorSpec",
    "TorchRunner", "TrtRunner", "as_device_view", "card_from_runner", "import_onnxruntime", "open_runner",
]
