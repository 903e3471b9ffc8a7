"""Precision stage: FP16 graphs with FP32 islands, INT8 Q/DQ graphs, measured against FP32.

Precision is decided in the ONNX graph (TensorRT 11 builds it strongly typed), so everything here
runs and is measured with ONNX Runtime on a CPU. :func:`export_and_convert` goes from the PyTorch
model (exported to FP32 in a temporary folder, its outputs the reference); importing it needs no torch.
"""
from .budget import SearchResult, search_budget
from .convert import PrecisionOptions, convert_precision, default_precision_output, parity_inputs
from .fp16 import PrecisionPlan, convert_fp16, emulate_fp16, plan_fp16
from .int8 import DEFAULT_KEEP, GROUP_RULES, Int8Selection, calibrate, layer_group, quantize_qdq, select_int8
from .islands import FP16_ISLANDS, Island
from .pipeline import convert_graph, export_and_convert

__all__ = [
    "DEFAULT_KEEP", "FP16_ISLANDS", "GROUP_RULES", "Int8Selection", "Island", "PrecisionOptions", "PrecisionPlan",
    "SearchResult", "calibrate", "convert_fp16", "convert_precision", "default_precision_output", "emulate_fp16",
    "convert_graph", "export_and_convert", "layer_group", "parity_inputs", "plan_fp16", "quantize_qdq", "search_budget", "select_int8",
]
