"""What the CPU can compute in, as OpenVINO reports it, and the checks made before a model is compiled.

OpenVINO's CPU plugin picks bf16 by itself on a CPU with AVX-512 BF16 or AMX (its "default" inference
precision): a silent change of numerics. Our runner names the precision it asks for (``f32`` unless
told otherwise), refuses one the CPU cannot run with what the CPU reports, and reads back what the
compiled model runs in, so a manifest or report always says which.
"""
from __future__ import annotations

from dataclasses import dataclass

from .._lazy import require
from ..errors import ZoeExportError, option

INSTALL = "pip install 'zoe-export[openvino]'"
#: the inference precisions a runner may ask for; "default" is whatever the device picks (read back and recorded)
INFERENCE_PRECISIONS = ("f32", "bf16", "default")
PERFORMANCE_HINTS = ("latency", "throughput")
#: OpenVINO's element type names -> ours
_TYPE_NAMES = {"f32": "f32", "float32": "f32", "bf16": "bf16", "bfloat16": "bf16", "f16": "f16", "float16": "f16"}


def import_openvino(purpose: str = "the OpenVINO backend"):
    """The openvino module, or a ZoeExportError with the extra to install."""
    return require("openvino", purpose, INSTALL)


@dataclass(frozen=True)
class CpuInfo:
    name: str  # FULL_DEVICE_NAME
    capabilities: tuple[str, ...]  # OPTIMIZATION_CAPABILITIES: FP32, BF16, INT8, ...
    default_precision: str  # what the plugin computes in when not told (bf16 where the CPU has it)
    openvino_version: str

    def supports(self, precision: str) -> bool:
        return precision in ("f32", "default") or precision.upper() in self.capabilities

    def to_dict(self) -> dict:
        return {"cpu": self.name, "capabilities": list(self.capabilities), "default_precision": self.default_precision,
                "openvino": self.openvino_version}


def element_type_name(value) -> str:
    """f32 / bf16 / f16 for an OpenVINO element type (or its string)."""
    text = str(getattr(value, "get_type_name", lambda: value)()).lower()
    return _TYPE_NAMES.get(text, text)


def cpu_info(core=None) -> CpuInfo:
    ov = import_openvino()
    core = core or ov.Core()
    return CpuInfo(str(core.get_property("CPU", "FULL_DEVICE_NAME")),
                   tuple(str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")),
                   element_type_name(core.get_property("CPU", "INFERENCE_PRECISION_HINT")),
                   ov.__version__.split("-")[0])


def check_precision(precision: str, info: CpuInfo | None = None) -> CpuInfo:
    """Raise unless ``precision`` is one of ours and this CPU can compute in it; return the CPU's info."""
    flag = option("--ov-precision", "precision=")
    if precision not in INFERENCE_PRECISIONS:
        raise ZoeExportError(f"{flag} {precision!r}: choose one of {', '.join(INFERENCE_PRECISIONS)}.")
    info = info or cpu_info()
    if not info.supports(precision):
        raise ZoeExportError(
            f"{flag} {precision}: this CPU ({info.name}) cannot compute in {precision}; OpenVINO reports "
            f"{', '.join(info.capabilities) or 'no capabilities'} (bf16 needs AVX-512 BF16 or AMX). "
            f"Use {option('--ov-precision f32', 'precision=f32')}.")
    return info


def check_hint(hint: str) -> str:
    if hint not in PERFORMANCE_HINTS:
        raise ZoeExportError(f"{option('--ov-hint', 'hint=')} {hint!r}: choose one of {', '.join(PERFORMANCE_HINTS)}.")
    return hint
