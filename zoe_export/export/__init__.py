"""Export stage: PyTorch reference -> verified, TensorRT-ready ONNX."""
from .graph_checks import check_tensorrt_support, graph_summary, tensorrt_problems
from .metadata import load_onnx, read_metadata
from .onnx_export import INPUT_FORMATS, ExportOptions, ExportWrapper, default_output, export_onnx, preflight

__all__ = [
    "INPUT_FORMATS", "ExportOptions", "ExportWrapper", "check_tensorrt_support", "default_output",
    "export_onnx", "graph_summary", "load_onnx", "preflight", "read_metadata", "tensorrt_problems",
]
