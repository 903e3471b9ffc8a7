"""The OpenVINO stage: our ONNX graphs as OpenVINO IR, and what this CPU can compute in.

    export_ir("zoed_m12_n_int8.onnx", "zoed_m12_n_int8.xml")     # zoe-export openvino: verified, atomic
    read_card("zoed_m12_n_int8.xml")                               # the card in the IR's runtime info
    check_precision("bf16")                                        # refused, with what the CPU reports

OpenVINO is imported on first use (``pip install 'zoe-export[openvino]'``); reading an IR's card needs
only the XML.
"""
from .device import INFERENCE_PRECISIONS, PERFORMANCE_HINTS, CpuInfo, check_precision, cpu_info, import_openvino
from .ir import ir_path, read_card, read_ir_card, write_ir_card

#: the conversion (it reads ONNX graphs: onnx loads with it, on first use)
_LAZY = {"export_ir": "zoe_export.openvino.export", "ir_from_onnx": "zoe_export.openvino.export"}

__all__ = ["INFERENCE_PRECISIONS", "PERFORMANCE_HINTS", "CpuInfo", "check_precision", "cpu_info", "import_openvino",
           "ir_path", "read_card", "read_ir_card", "write_ir_card", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zoe_export.openvino' has no attribute {name!r}")
