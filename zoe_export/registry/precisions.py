"""The precision registry: each precision with its parity tolerance, converter, TensorRT build mode and flag.

    get_precision("fp16").tolerance      # Tolerance(max_rel=2e-3, min_delta1=0.9999, ...)
    list_precisions()                    # ["fp32", "fp16", "int8"]: what a graph is stored in
    list_precisions(inference=True)      # and bf16: what a runtime computes an FP32 graph in (OpenVINO)

A new precision is a converter module plus one :func:`register_precision` call. The converter is
``"module:function"`` with the signature of :func:`zoe_export.precision.convert.fp16_stage`; it is
imported only when a graph is converted.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..compare.tolerance import Tolerance
from ._entries import Entries


@dataclass(frozen=True)
class Precision:
    name: str  # as the CLI and the card spell it: fp16
    label: str  # FP16
    #: the parity bound a graph or engine of this precision must meet against FP32 (each bound's reason below)
    tolerance: Tolerance
    #: "module:function" converting an FP32 graph to this precision; None: the export's own precision
    converter: str | None
    #: TensorRT: the builder flag of --legacy-precision (None: no flag); strongly typed builds need none
    builder_flag: str | None
    #: the zoe-export trt flag that asks for it (None: the graph's own precision, no flag), and its help
    trt_flag: str | None
    needs_calibration: bool = False
    #: the tolerance's REL bound is the user's --max-rel-drift recorded in the card, not a constant
    budget_from_card: bool = False
    #: a precision a runtime computes an FP32 graph in (OpenVINO's bf16 inference hint), never one a graph is stored in
    inference_only: bool = False
    help: str = ""  # how zoe-export onnx --precision describes it
    trt_help: str = ""


_PRECISIONS: Entries[Precision] = Entries("precision")
register_precision = _PRECISIONS.register
unregister_precision = _PRECISIONS.unregister
registered = _PRECISIONS.registered
get_precision = _PRECISIONS.get


def list_precisions(converted: bool = False, inference: bool = False) -> list[str]:
    """The names of the precisions a graph is stored in; ``converted``: only those an FP32 graph is converted to;
    ``inference``: also those only a runtime computes in (bf16)."""
    return [p.name for p in _PRECISIONS.all()
            if (not converted or p.converter is not None) and (inference or not p.inference_only)]


# FP32: a different summation order lands at REL ~1e-7; 1e-5 leaves room for kernel choices (ONNX Runtime fuses
# and re-orders) and still catches any formula change (>= 1e-4 here).
register_precision(Precision(
    "fp32", "FP32", Tolerance(max_rel=1e-5, min_delta1=1.0, max_logit_rel=1e-4), converter=None, builder_flag=None,
    trt_flag=None, help="fp32 (default)"))
# FP16 (measured on the emulation, FP32 islands): the storage rounding of BEiT-L's activations lands near REL
# 1e-4..1e-3; 2e-3 and delta1 0.9999 are the targets this toolkit promises.
register_precision(Precision(
    "fp16", "FP16", Tolerance(max_rel=2e-3, min_delta1=0.9999, max_logit_rel=1e-2),
    converter="zoe_export.precision.convert:fp16_stage", builder_flag="FP16", trt_flag="--fp16",
    help="fp16 with FP32 islands", trt_help="FP16 with FP32 islands (an FP32 graph is converted first)"))
# INT8: REL is the budget the user asks for (--max-rel-drift, recorded in the card); the router must still agree.
register_precision(Precision(
    "int8", "INT8", Tolerance(max_rel=float("inf"), min_delta1=0.0, max_logit_rel=5e-2),
    converter="zoe_export.precision.convert:int8_stage", builder_flag="INT8", trt_flag="--int8",
    needs_calibration=True, budget_from_card=True, help="int8 Q/DQ (needs --calib)",
    trt_help="INT8 Q/DQ, FP16 elsewhere (an FP32 graph is calibrated and converted first: needs --calib)"))
# BF16 (an FP32 graph computed in bfloat16: OpenVINO's inference precision hint on a CPU with AVX-512 BF16 or AMX). Its
# 8-bit mantissa rounds each activation 8x coarser than FP16 does, but OpenVINO keeps FP32 accumulators and FP32
# softmax/normalisation: M12-N at 384x512 lands near mean REL 6e-4 (the OpenVINO benchmark). It gets FP16's bounds,
# no looser: a user switching FP16 for BF16 must not lose accuracy silently.
register_precision(Precision(
    "bf16", "BF16", Tolerance(max_rel=2e-3, min_delta1=0.9999, max_logit_rel=1e-2), converter=None,
    builder_flag=None, trt_flag=None, inference_only=True,
    help="bf16 (a runtime's inference precision: zoe-bench --openvino M.onnx --ov-precision bf16)"))
