"""Runners: one interface over PyTorch and ONNX Runtime (TensorRT joins with the engine stage)."""
from .base import Runner, TensorSpec
from .onnxrt_runner import OnnxrtRunner, import_onnxruntime
from .torch_runner import TorchRunner

__all__ = ["OnnxrtRunner", "Runner", "TensorSpec", "TorchRunner", "import_onnxruntime"]
