"""NVIDIA Model Optimizer (``nvidia-modelopt``) as the converter, where it is installed.

ModelOpt is NVIDIA's route to TensorRT 11 precision: AutoCast for FP16, its INT8 quantizer for
Q/DQ placement that TensorRT fuses. It gets our decisions as its inputs -- the FP16 islands as
AutoCast's exclusions, our INT8 node selection, and the activation ranges of our streaming
calibration as a TensorRT calibration cache -- so both backends make the same model; what
ModelOpt decides on top (AutoCast keeps large-valued nodes in FP32) is read back from its output,
so the emulation that measures the graph follows what ModelOpt actually wrote.

Install it without its ``[onnx]`` extra (that pulls onnxruntime-gpu beside onnxruntime and
downgrades onnx): ``pip install 'zoe-export[modelopt]'``.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import struct
import tempfile
from collections.abc import Iterable
from pathlib import Path

import onnx

from ..errors import ZoeExportError, option
from .fp16 import PrecisionPlan
from .graph import FLOAT, FLOAT16, restore_shapes, tensor_types
from .int8 import QUANTIZED_OPS, Int8Selection, fold_weight_quantization

INSTALL = ("pip install 'zoe-export[modelopt]' (nvidia-modelopt without its [onnx] extra, plus onnx-graphsurgeon, "
           "onnxconverter-common, ml_dtypes, onnxslim, polygraphy, lief, cppimport)")
#: first line of a TensorRT calibration cache (the format ModelOpt imports activation scales from)
_CACHE_HEADER = "TRT-8501-EntropyCalibration2"


def modelopt_version() -> str | None:
    """ModelOpt's version when its ONNX tools import, else None."""
    try:
        import modelopt
        import modelopt.onnx.autocast  # noqa: F401
        import modelopt.onnx.quantization  # noqa: F401
    except Exception:  # ImportError, or a broken install of one of its many dependencies
        return None
    return getattr(modelopt, "__version__", "unknown")


#: peak host memory of ModelOpt's conversion per byte of FP32 weights, measured on M12-N at 384x512
#: (1.31 GB of weights): AutoCast 11.5 GB, the INT8 quantizer 21.2 GB (this process included)
MEMORY_PER_WEIGHT_BYTE = {"fp16": 8.8, "int8": 16.2}


def _total_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def modelopt_fits(precision: str, source: Path) -> tuple[bool, str]:
    """Whether ModelOpt's conversion of ``source`` fits in 80 % of this machine's memory, and why not."""
    weights = sum(p.stat().st_size for p in (source, source.with_name(source.name + ".data")) if p.is_file())
    # a precision not measured yet is assumed to need as much as the most a measured one does
    needed = MEMORY_PER_WEIGHT_BYTE.get(precision, max(MEMORY_PER_WEIGHT_BYTE.values())) * weights
    total = _total_memory_bytes()
    if total is None or needed <= 0.8 * total:
        return True, ""
    return False, (f"ModelOpt's {precision.upper()} conversion of {source.name} needs about {needed / 1e9:.0f} GB of "
                   f"memory, this machine has {total / 1e9:.0f} GB")


def _import(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise ZoeExportError(f"{option('--backend modelopt', 'backend=modelopt')}: NVIDIA Model Optimizer cannot be "
                             f"imported ({exc}); {INSTALL}") from exc


@contextlib.contextmanager
def _quiet():
    """ModelOpt logs every step at INFO (on its own handlers) and prints; keep our log readable."""
    names = ["modelopt", *(n for n in logging.root.manager.loggerDict if n.startswith("modelopt"))]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _exact(names: Iterable[str]) -> list[str]:
    return [f"^{re.escape(name)}$" for name in names]


def autocast_fp16(source: Path, plan: PrecisionPlan, fp32: onnx.ModelProto | None = None) -> onnx.ModelProto:
    """AutoCast to FP16 with our FP32 islands as its exclusions; FP32 inputs and outputs.

    AutoCast's own magnitude check (``data_max``) runs the model with every intermediate tensor as
    an output -- more than 20 GB for BEiT-L at 384x512 -- so it is off: overflow is what our FP16
    emulation measures, on real inputs. Its weight check (``init_max``) stays. The shapes it
    re-infers are declared again as in ``fp32`` (the graph at ``source``, read again when not given;
    see :func:`~.graph.restore_shapes`): a dynamic-size graph would not run otherwise.
    """
    import numpy as np

    autocast = _import("modelopt.onnx.autocast")
    with _quiet():
        model = autocast.convert_to_mixed_precision(
            str(source), low_precision_type="fp16", nodes_to_exclude=_exact(plan.fp32_nodes), keep_io_types=True,
            data_max=np.inf,
        )
    restore_shapes(model, _graph(source, fp32))
    return model


def _graph(source: Path, fp32: onnx.ModelProto | None) -> onnx.ModelProto:
    """The source graph's declarations (without its weights when it has to be read)."""
    return fp32 if fp32 is not None else onnx.load(str(source), load_external_data=False)


def plan_of(converted: onnx.ModelProto, planned: PrecisionPlan) -> PrecisionPlan:
    """The plan a converter actually carried out: nodes whose float outputs it made FP16."""
    types = tensor_types(converted)
    fp16, fp32 = set(), dict(planned.fp32_nodes)
    for node in converted.graph.node:
        kinds = {types.get(out) for out in node.output if types.get(out) in (FLOAT, FLOAT16)}
        if node.name in planned.fp16_nodes:
            if kinds == {FLOAT16}:
                fp16.add(node.name)
            else:
                fp32[node.name] = "kept FP32 by ModelOpt AutoCast"
    return PrecisionPlan(fp16, fp32, planned.islands)


def write_calibration_cache(ranges: dict[str, tuple[float, float]], path: Path) -> None:
    """Symmetric INT8 scales (amax / 127) of our calibrated ranges, in TensorRT's cache format."""
    lines = [_CACHE_HEADER]
    for name, (low, high) in ranges.items():
        scale = max(abs(low), abs(high), 1e-12) / 127.0
        lines.append(f"{name}: {struct.pack('!f', scale).hex()}")
    path.write_text("\n".join(lines) + "\n")


def modelopt_qdq(source: Path, selection: Int8Selection, ranges: dict[str, tuple[float, float]],
                 method: str, fp32: onnx.ModelProto | None = None,
                 input_shape: tuple[str, tuple[int, ...]] | None = None) -> onnx.ModelProto:
    """ModelOpt's INT8 Q/DQ of the selected nodes (FP32 elsewhere), with our activation scales.

    ``fp32``: the graph at ``source`` (read again when not given), whose shape declarations the
    result gets back (see :func:`~.graph.restore_shapes`). ``input_shape``: (input name, shape) of
    the one forward ModelOpt runs on random data to size the attention it may leave alone; ModelOpt
    makes a free dimension 1 there, too small for the model, so a dynamic graph needs it (the
    calibration size); None: the graph's own, fixed, shape.
    """
    quantization = _import("modelopt.onnx.quantization")
    shapes = None if input_shape is None else f"{input_shape[0]}:{'x'.join(map(str, input_shape[1]))}"
    with tempfile.TemporaryDirectory(prefix="zoe-modelopt-") as tmp:
        cache, output = Path(tmp) / "calibration.cache", Path(tmp) / "qdq.onnx"
        write_calibration_cache(ranges, cache)
        with _quiet():
            quantization.quantize(
                str(source), quantize_mode="int8", calibration_method=method, calibration_cache_path=str(cache),
                calibration_eps=["cpu"], calibration_shapes=shapes, op_types_to_quantize=list(QUANTIZED_OPS),
                nodes_to_quantize=_exact(selection.quantize), high_precision_dtype="fp32",
                output_path=str(output), log_level="ERROR",
            )
        model = onnx.load(str(output))
    fold_weight_quantization(model)
    restore_shapes(model, _graph(source, fp32))
    return model
