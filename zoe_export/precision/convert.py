"""The precision stage: an FP32 export -> FP16 or INT8 (Q/DQ) ONNX, measured against FP32.

    convert_precision("zoed_m12_n.onnx", "zoed_m12_n_fp16.onnx", PrecisionOptions("fp16"))
    convert_precision("zoed_m12_n.onnx", "zoed_m12_n_int8.onnx",
                      PrecisionOptions("int8", calib="calib/indoor", max_rel_drift=0.01))
    convert_precision("zoed_m12_n.onnx", "zoed_m12_n_int8.onnx",                     # judged where it will run
                      PrecisionOptions("int8", calib="calib/indoor", max_rel_drift=0.01, measure_on="openvino:bf16"))

Every converted graph is measured before it is written: REL, RMSE, delta1 and max abs error
against the FP32 reference (the PyTorch model when the caller passes it, else the FP32 graph in
ONNX Runtime) on structured inputs and on held-out calibration samples. FP16 is measured on its
emulation (see :mod:`.fp16`); INT8 on the Q/DQ graph as the backend that will run it runs it
(``measure_on``): ONNX Runtime CPU (the default: an emulation of INT8 in f32) or OpenVINO CPU (real
INT8 kernels, the rest in f32 or bf16). The budget search and the judged parity run there; measured
on OpenVINO, the graph is also measured on the ONNX Runtime emulation (``parity_onnxruntime_emulation``,
for comparison), and the manifest's ``measured_on`` and the card's say where the figure holds. The
figures, the islands, the INT8 selection and the budget search land in ``<output>.json`` beside the graph.

A dynamic-size graph (card ``size_range``) stays one: the converted graph takes every size the FP32
graph takes. It is measured at its default size and, with the structured scene, at its range's ends
(``range_ends``); INT8 calibrates at the calibration set's size, which must lie in the range, or at
each size of a mix of sets (``calib=(DIR, DIR, ...)``: Q/DQ scales are per tensor, whatever the
spatial size, so ranges gathered at several sizes are simply merged). The manifest's ``sizes`` says
which sizes calibration and parity used.
"""
from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from .. import __version__
from .._files import atomic_output, check_writable, folders_removed_on_failure, refuse_folder
from .._lazy import resolve
from .._log import log, stage
from .._memory import release_memory
from ..card import Calibration, ModelCard
from ..compare.tolerance import Tolerance
from ..errors import ZoeExportError, option
from ..export.metadata import PROTOBUF_LIMIT, card_of, load_onnx, read_card, write_card
from ..registry import get_precision, list_precisions
from ..sizes import format_size
from .budget import SearchResult, search_budget
from .fp16 import PrecisionPlan, convert_fp16, emulate_fp16, plan_fp16
from .int8 import (CALIBRATION_METHODS, HIGH_PRECISIONS, Int8Selection, activation_inputs, calibrate, count_qdq,
                   dequantize_nodes, int8_nodes, keep_float_inputs, keep_rules_summary, quantize_qdq, select_int8)
from .islands import FP16_ISLANDS, Island
from .parity import (MEASURE_ON, Workbench, check_measure_on, compute_references, heldout_feeds, measure_target,
                     parity, parity_lines, parity_picture, structured_feeds)

BACKENDS = ("auto", "modelopt", "builtin")
#: FP16 Q/DQ scales need opset 19 (QuantizeLinear/DequantizeLinear with float16)
_FP16_QDQ_OPSET = 19


@dataclass(frozen=True)
class PrecisionOptions:
    precision: str = "fp16"  # fp16 | int8
    calib: str | Path | tuple[str | Path, ...] | None = None  # calibration set folder (INT8); several: a mix of sizes
    calib_method: str = "entropy"
    keep_precision: tuple[str, ...] | None = None  # None: DEFAULT_KEEP; () quantizes every Conv/MatMul/Gemm
    high_precision: str = "fp32"  # what the INT8 graph runs elsewhere: fp32 (CPU) or fp16 (TensorRT)
    max_rel_drift: float | None = None  # INT8 accuracy budget (REL on held-out samples)
    holdout: int = 2  # calibration samples held out for measuring
    verify: bool = True
    islands: tuple[Island, ...] = field(default=FP16_ISLANDS)
    histogram_bins: int = 2048
    backend: str = "auto"  # modelopt (NVIDIA Model Optimizer) when installed, else builtin
    range_ends: bool = True  # a dynamic-size graph is also measured at its range's ends (see parity.structured_feeds)
    #: where the INT8 budget search and parity are measured: onnxruntime (its emulation of INT8 in f32), openvino
    #: (= openvino:f32), openvino:f32 or openvino:bf16 (INT8 kernels, the rest in f32 or bf16); see parity.MEASURE_ON
    measure_on: str = "onnxruntime"

    def __post_init__(self):
        if self.measure_on == "openvino":
            object.__setattr__(self, "measure_on", "openvino:f32")

    def converter(self, source: Path | None = None) -> str:
        """The backend that will run: ``modelopt`` or ``builtin``.

        ``auto`` prefers ModelOpt, unless this machine's memory cannot hold what it needs for
        ``source`` (see :func:`~.modelopt_backend.modelopt_fits`), then says why it falls back.
        """
        from .modelopt_backend import INSTALL, modelopt_fits, modelopt_version

        if self.backend == "builtin":
            return "builtin"
        if modelopt_version() is None:
            if self.backend == "modelopt":
                raise ZoeExportError(f"{option('--backend modelopt', 'backend=modelopt')}: NVIDIA Model Optimizer is "
                                     f"not installed; {INSTALL}")
            return "builtin"
        if self.backend == "auto" and source is not None:
            fits, why = modelopt_fits(self.precision, source)
            if not fits:
                log.warning("%s: using the builtin converter (%s insists)", why,
                            option("--backend modelopt", "backend=modelopt"))
                return "builtin"
        return "modelopt"

    def validate(self) -> None:
        if self.precision not in list_precisions(converted=True):
            raise ZoeExportError(f"{option('--precision', 'precision=')} {self.precision!r}: choose one of "
                                 f"{', '.join(list_precisions())}.")
        if self.calib is not None and not isinstance(self.calib, (str, Path)) and not tuple(self.calib):
            raise ZoeExportError(f"{option('--calib', 'calib=')}: give a calibration set folder (or several).")
        if get_precision(self.precision).needs_calibration and self.calib is None:
            raise ZoeExportError(f"{option('--precision int8', 'precision=int8')} needs a calibration set: "
                                 f"{option('--calib DIR', 'calib=DIR')} (make one with: zoe-export calib --images DIR "
                                 "--variant ... --output DIR).")
        if self.precision == "fp16" and (self.calib is not None or self.max_rel_drift is not None
                                         or self.keep_precision is not None):
            raise ZoeExportError(f"{option('--calib', 'calib=')}, {option('--max-rel-drift', 'max_rel_drift=')} and "
                                 f"{option('--keep-precision', 'keep_precision=')} are INT8 options; FP16 needs no "
                                 "calibration (its FP32 islands are fixed).")
        if self.backend not in BACKENDS:
            raise ZoeExportError(f"{option('--backend', 'backend=')} {self.backend!r}: choose one of "
                                 f"{', '.join(BACKENDS)}.")
        if self.calib_method not in CALIBRATION_METHODS:
            raise ZoeExportError(f"{option('--calib-method', 'calib_method=')} {self.calib_method!r}: choose "
                                 f"{' or '.join(CALIBRATION_METHODS)}.")
        if self.high_precision not in HIGH_PRECISIONS:
            raise ZoeExportError(f"{option('--high-precision', 'high_precision=')} {self.high_precision!r}: choose "
                                 f"{' or '.join(HIGH_PRECISIONS)}.")
        drift = option("--max-rel-drift", "max_rel_drift=")
        if self.max_rel_drift is not None and not 0 < self.max_rel_drift < 1:
            raise ZoeExportError(f"{drift} {self.max_rel_drift}: give a REL budget between 0 and 1, e.g. 0.01.")
        if self.max_rel_drift is not None and self.holdout < 1:
            raise ZoeExportError(f"{drift} measures on held-out calibration samples: {option('--holdout', 'holdout=')} "
                                 "must be at least 1.")
        self._validate_measure_on()

    def _validate_measure_on(self) -> None:
        if self.measure_on not in MEASURE_ON:
            raise ZoeExportError(f"{option('--measure-on', 'measure_on=')} {self.measure_on!r}: choose one of "
                                 f"{', '.join(MEASURE_ON)}.")
        if self.measure_on == "onnxruntime":
            return
        flag = option(f"--measure-on {self.measure_on}", f"measure_on={self.measure_on}")
        if self.precision == "fp16":
            raise ZoeExportError(f"{flag}: FP16 is measured on its emulation in ONNX Runtime (Cast round trips, the "
                                 "numerics TensorRT's FP16 kernels have); drop "
                                 f"{option('--measure-on', 'measure_on=')} or convert to "
                                 f"{option('--precision int8', 'precision=int8')}.")
        if self.high_precision == "fp16":
            raise ZoeExportError(f"{flag} with {option('--high-precision fp16', 'high_precision=fp16')}: that INT8 "
                                 "graph is made for TensorRT and measured on its FP16 emulation; OpenVINO runs the "
                                 f"rest in f32 or bf16: use {option('--high-precision fp32', 'high_precision=fp32')}.")
        check_measure_on(self.measure_on)

    def tolerance(self) -> Tolerance | None:
        """Bounds on every input (FP16); a precision judged by the user's budget (INT8) has none here."""
        precision = get_precision(self.precision)
        return None if precision.budget_from_card else precision.tolerance


def default_precision_output(fp32_name: str | Path, precision: str) -> Path:
    path = Path(fp32_name)
    return path.with_name(f"{path.stem}_{precision}.onnx")


# ------------------------------------------------------------------------------------ FP16

def fp16_stage(bench: Workbench, options: PrecisionOptions, calib, progress: bool,
               converter: str) -> tuple[onnx.ModelProto, dict]:
    """The FP16 converter (the precision registry's ``fp16``): the graph to write and its report."""
    fp32 = bench.fp32
    with stage("planning FP16 (islands stay FP32)"):
        plan = plan_fp16(fp32, options.islands)
    if converter == "modelopt":
        from .modelopt_backend import autocast_fp16, plan_of

        with stage("converting with ModelOpt AutoCast (our islands as its exclusions)"):
            real = autocast_fp16(bench.source, plan, fp32)
            plan = plan_of(real, plan)  # what AutoCast actually made FP16
    else:
        real = convert_fp16(_copy(fp32), plan)
    with stage("measuring the FP16 emulation (Cast round trips, graph optimisations off)"):
        emulated = bench.run(emulate_fp16(fp32, plan), list(bench.feeds), "disabled")  # the last use: in place
        bench.fp32 = None
    with stage("running the FP16 graph in ONNX Runtime (for reference: the CPU computes it in FP32)"):
        as_run = bench.run(real, list(bench.feeds), "all")
    report = {
        "converter": _modelopt_name("AutoCast") if converter == "modelopt" else "zoe-export FP16 converter",
        "plan": plan.summary(),
        "parity": parity(bench, emulated, options.tolerance(), "FP16 emulation in ONNX Runtime CPU"),
        "picture": parity_picture(bench, emulated, "FP16 (emulated)"),
        "parity_onnxruntime_fp16_graph": parity(bench, as_run, None, "the FP16 graph in ONNX Runtime CPU"),
    }
    return real, report


# ------------------------------------------------------------------------------------ INT8

def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    duplicate = onnx.ModelProto()
    duplicate.CopyFrom(model)
    return duplicate


def _bump_opset(model: onnx.ModelProto, opset: int) -> None:
    """18 -> 19 changes no op used here except Q/DQ, which gain FP16 scales."""
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx") and entry.version < opset:
            entry.version = opset


class _Int8Builder:
    """Q/DQ graphs for any INT8 selection, from one calibration (ranges for every candidate node)."""

    def __init__(self, source: Path, fp32: onnx.ModelProto, ranges: dict, options: PrecisionOptions, converter: str,
                 candidates: Int8Selection, input_shape: tuple[str, tuple[int, ...]]):
        self.source, self.fp32, self.ranges, self.options, self.converter = source, fp32, ranges, options, converter
        self.candidates, self.input_shape = candidates, input_shape
        self.plan: PrecisionPlan | None = None
        self._all_int8: onnx.ModelProto | None = None

    def qdq(self, selection: Int8Selection) -> onnx.ModelProto:
        if self.converter == "modelopt":
            from .modelopt_backend import modelopt_qdq

            model = modelopt_qdq(self.source, selection, self.ranges, self.options.calib_method, self.fp32,
                                 self.input_shape)
        else:
            model = quantize_qdq(self.fp32, selection, self.ranges, self.options.calib_method)
        keep_float_inputs(model, selection.quantize)
        return model

    def search_candidate(self, selection: Int8Selection) -> onnx.ModelProto:
        """The graph whose ONNX Runtime outputs stand for the engine's: FP16 parts emulated.

        Candidates are cut from one quantization of every candidate node (same ranges, same
        result as quantizing the selection alone, a fraction of the time on BEiT-L)."""
        if self._all_int8 is None:
            self._all_int8 = self.qdq(self.candidates)
        restore = set(self.candidates.quantize) - set(selection.quantize)
        model = dequantize_nodes(self._all_int8, self.fp32, restore)
        if self.options.high_precision == "fp16":
            model = emulate_fp16(model, self._plan(model))
        return model

    def final(self, selection: Int8Selection) -> tuple[onnx.ModelProto, onnx.ModelProto]:
        """(the graph to write, the graph that measures it: itself, or its FP16 emulation)."""
        qdq = self.qdq(selection)
        if self.options.high_precision == "fp32":
            return qdq, qdq
        plan = self._plan(qdq)
        measured = emulate_fp16(_copy(qdq), plan)
        final = convert_fp16(qdq, plan)
        _bump_opset(final, _FP16_QDQ_OPSET)
        return final, measured

    def _plan(self, model: onnx.ModelProto) -> PrecisionPlan:
        self.plan = plan_fp16(model, self.options.islands)
        return self.plan


def _calibrate(bench: Workbench, options: PrecisionOptions, calib, fp32: onnx.ModelProto,
               candidates: Int8Selection, progress: bool) -> tuple[dict, dict]:
    """Ranges for every candidate's activations from the calibration part of the set, and a report."""
    part, _ = calib.split(options.holdout)
    feeds = part.batches(bench.batch) if bench.batch and bench.batch > 1 else iter(part)
    total = sum(len(p) // (bench.batch or 1) for p in part.sets)
    sizes = ", ".join(format_size(size) for size in calib.sizes)
    start = time.perf_counter()
    with stage(f"calibrating {len(candidates.quantize)} INT8 candidates on {total} sample(s) at {sizes} "
               f"({options.calib_method})"):
        ranges = calibrate(fp32, activation_inputs(fp32, candidates.quantize), feeds, options.calib_method,
                           total=total, progress=progress, bins=options.histogram_bins)
    release_memory()
    report = {"set": str(calib.path), "id": calib.id, "samples": len(part), "heldout": options.holdout,
              "sizes": [format_size(size) for size in calib.sizes],
              "sets": [{"set": str(c.path), "id": c.id, "size": format_size(c.size), "samples": len(p)}
                       for c, p in zip(calib.sets, part.sets)],
              "method": options.calib_method, "tensors": len(ranges), "seconds": round(time.perf_counter() - start, 1),
              "histogram_bins": options.histogram_bins if options.calib_method == "entropy" else None}
    return ranges, report


def _within_budget(bench: Workbench, builder: "_Int8Builder", options: PrecisionOptions) -> SearchResult:
    search = _search(bench, builder, builder.candidates, options.max_rel_drift)
    if not search.met:
        log.warning("%s", search.table(options.high_precision))
        backend, precision = measure_target(options.measure_on)
        kept_in, also = options.high_precision, ""
        if backend == "openvino" and precision != "f32":  # the rest runs in bf16 there: part of the floor
            kept_in = f"{options.high_precision} (computed in {precision} by OpenVINO)"
            also = (f", from {precision} itself (measure on "
                    f"{option('--measure-on openvino:f32', 'measure_on=openvino:f32')} to see how much)")
        raise ZoeExportError(
            f"the INT8 budget REL <= {options.max_rel_drift:g} cannot be met {_on_text(options.measure_on)}: with "
            f"every layer group back in {kept_in} ({', '.join(search.kept_groups)}) REL is still "
            f"{search.steps[-1].rel:.3g}. The rest of the drift comes from nodes kept by "
            f"{option('--keep-precision', 'keep_precision=')} rules or from the held-out images{also}; raise "
            f"{option('--max-rel-drift', 'max_rel_drift=')} or use {option('--precision fp16', 'precision=fp16')}."
        )
    return search  # the caller reports its table (the manifest's "search"; see budget.search_table)


def int8_stage(bench: Workbench, options: PrecisionOptions, calib, progress: bool,
               converter: str) -> tuple[onnx.ModelProto, dict]:
    """The INT8 converter (the precision registry's ``int8``): calibrated, selected within the budget."""
    fp32 = bench.fp32
    candidates = select_int8(fp32, options.keep_precision)
    if not candidates.quantize:
        keep = option("--keep-precision", "keep_precision=")
        raise ZoeExportError(f"no Conv/MatMul/Gemm is left to quantize: {keep} keeps them all.")
    ranges, calibration = _calibrate(bench, options, calib, fp32, candidates, progress)
    builder = _Int8Builder(bench.source, fp32, ranges, options, converter, candidates, _calibration_input(bench, calib))
    search = _within_budget(bench, builder, options) if options.max_rel_drift is not None else None
    selection = search.selection if search else candidates
    with stage(f"quantizing {len(selection.quantize)} nodes to INT8 ({len(selection.kept)} kept in {options.high_precision})"):
        final, measuring = builder.final(selection)
        path = bench.save(measuring)
        del measuring
    on = options.measure_on
    with stage(f"measuring the INT8 graph {_on_text(on)}"):
        measured = bench.run_file(path, list(bench.feeds), "all", on)
    emulation = None
    if on != "onnxruntime":
        with stage("measuring it on ONNX Runtime too (its emulation of INT8 in f32, for comparison)"):
            emulation = bench.run_file(path, list(bench.feeds), "all")
    graph = ("the Q/DQ graph" if options.high_precision == "fp32"
             else "the Q/DQ graph with FP16 emulated (Cast round trips)")
    quantized = int8_nodes(final)
    report = {
        "converter": (_modelopt_name("INT8 quantizer") if converter == "modelopt"
                      else "ONNX Runtime QDQ quantizer (our selection and ranges)"),
        "calibration": calibration,
        "high_precision": options.high_precision,
        "keep_rules": keep_rules_summary(options.keep_precision),
        "quantized_nodes": len(quantized),
        "selected_but_left_in_high_precision_by_the_converter": sorted(set(selection.quantize) - quantized),
        "kept_nodes": len(selection.kept),
        "kept_by": dict(Counter(selection.kept.values())),
        "int8_groups": sorted(selection.groups),
        "qdq_nodes": count_qdq(final),
        "fp16_plan": builder.plan.summary() if builder.plan else None,
        "search": ({**search.to_dict(options.high_precision), "backend": bench.qdq_backend(on, graph)}
                   if search else None),
        "parity": parity(bench, measured, None, bench.qdq_backend(on, graph), options.max_rel_drift),
        "picture": parity_picture(bench, measured, f"INT8 (+{options.high_precision})"),
    }
    if emulation is not None:  # informational: what the default measure (ONNX Runtime) would have said
        report["parity_onnxruntime_emulation"] = parity(bench, emulation, None, bench.qdq_backend("onnxruntime", graph))
    return final, report


def _on_text(measure_on: str) -> str:
    backend, precision = measure_target(measure_on)
    return f"in OpenVINO CPU ({precision})" if backend == "openvino" else "in ONNX Runtime CPU"


def _calibration_input(bench: Workbench, calib) -> tuple[str, tuple[int, ...]]:
    """(input name, shape) of one calibration batch: a dynamic graph's free dimensions at the (first) set's size."""
    height, width = calib.sizes[0]
    card = bench.card.with_changes(height=height, width=width, size_range=None, batch=bench.batch or 1)
    return card.input_name, card.input_shape


def _search(bench: Workbench, builder: _Int8Builder, candidates: Int8Selection, budget: float) -> SearchResult:
    cases = bench.heldout

    def evaluate(selection: Int8Selection) -> tuple[float, float]:
        outputs = bench.run(builder.search_candidate(selection), cases, "all", builder.options.measure_on)
        heldout = parity(bench, outputs, None, "")["heldout"]
        return heldout["rel"], heldout["delta1"]

    with stage(f"searching the INT8 budget (REL <= {budget:g}) over {len(candidates.groups)} layer groups "
               f"on {len(cases)} held-out sample(s) {_on_text(builder.options.measure_on)}"):
        return search_budget(candidates, evaluate, budget)


# ------------------------------------------------------------------------------------ API

def _read_source(source: Path, model: onnx.ModelProto | None = None) -> ModelCard:
    card = read_card(source) if model is None else card_of(model, str(source))
    if card.precision != "fp32":
        raise ZoeExportError(f"{source} is already {card.precision}; convert the FP32 export (a graph is never "
                             "converted twice).")
    return card


def _open_calib(options: PrecisionOptions, card: ModelCard, source: Path):
    """The calibration set (or mix of sets) for ``card``'s graph: at its size, or at sizes in its size range."""
    if options.calib is None:
        return None
    from ..calib import open_calibration

    calib = open_calibration(options.calib)
    calib.check_matches(card.height, card.width, card.input_format, str(source), card.size_range)
    return calib


def parity_inputs(source: str | Path, options: PrecisionOptions) -> dict[str, dict[str, np.ndarray]]:
    """The inputs a conversion is measured on: structured inputs, then held-out calibration samples
    (named ``heldout:...``). Callers that hold the PyTorch model run it on these and pass the outputs
    to :func:`convert_precision` as ``reference`` (then free the model before the heavy part)."""
    source = Path(source)
    card = _read_source(source)
    return _parity_feeds(card, _open_calib(options, card, source), options)


def _parity_feeds(card: ModelCard, calib, options: PrecisionOptions) -> dict[str, dict[str, np.ndarray]]:
    feeds, holdout = structured_feeds(card, options.range_ends), options.holdout
    if calib is not None and holdout:
        feeds.update(heldout_feeds(calib.split(holdout)[1], card.batch))
    return feeds


def convert_precision(source: str | Path, output: str | Path | None, options: PrecisionOptions,
                      reference=None,
                      reference_name: str | None = None, progress: bool = True) -> dict:
    """Convert an FP32 export to ``options.precision``, measure it, write it; returns the manifest.

    ``reference``: a runner to compute the FP32 reference with (e.g. the PyTorch model), or its
    outputs on :func:`parity_inputs` already computed; default: the FP32 graph in ONNX Runtime.
    The returned manifest also has ``path``, where the graph was written. Nothing is printed: the
    figures are in the manifest (``parity``, INT8 ``search``), and :func:`~.parity.parity_lines` and
    :func:`~.budget.search_table` format them for a console.
    """
    options.validate()
    source = Path(source)
    output = Path(output) if output is not None else default_precision_output(source, options.precision)
    with folders_removed_on_failure():
        return _convert(source, output, options, reference, reference_name, progress)


def _convert(source: Path, output: Path, options: PrecisionOptions, reference, reference_name: str | None,
             progress: bool) -> dict:
    converter = options.converter(source)
    flag = option("--output", "output=")
    if output.suffix != ".onnx":
        raise ZoeExportError(f"{flag} {output}: the file name must end in .onnx.")
    check_writable(output, flag)
    for companion in (".json", ".parity.png"):  # written beside it, after the conversion
        refuse_folder(output.with_name(output.name + companion))
    fp32 = load_onnx(source)  # the source is read once; the stages take it from the workbench
    card = _read_source(source, fp32)
    calib = _open_calib(options, card, source)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zoe-precision-") as tmp:
        bench = Workbench(source, card, Path(tmp), _parity_feeds(card, calib, options), fp32)
        del fp32
        with stage(f"FP32 reference outputs on {len(bench.feeds)} input(s)"):
            name = compute_references(bench, reference)
        del reference
        release_memory()
        stage_of = resolve(get_precision(options.precision).converter)
        model, report = stage_of(bench, options, calib, progress, converter)
    measured = report.pop("parity")  # the stage's report names its converter too
    picture = report.pop("picture")
    emulation = report.pop("parity_onnxruntime_emulation", None)
    report["parity"] = measured
    if emulation is not None:
        report["parity_onnxruntime_emulation"] = emulation
    if options.verify and measured["passed"] is False:
        log.warning("%s", "\n".join(parity_lines(options.precision, measured)))
        raise ZoeExportError(f"{options.precision} parity failed, nothing written:\n  " + "\n  ".join(measured["failures"]))
    reference_name = reference_name or name
    new_card = _card(card, options, calib, report, reference_name)
    write_card(model, new_card)
    manifest = {
        "file": output.name,
        "source": {"file": str(source), "card": card.to_dict()},
        "card": new_card.to_dict(),
        "precision": options.precision,
        "reference": reference_name,
        "sizes": _sizes(card, calib, measured),
        "measured_on": bench.backends.get(_measured_on(options), {}),
        **report,
        "seconds": round(time.perf_counter() - start, 1),
        "zoe_export_version": __version__,
    }
    _write(model, output, manifest, picture)
    return {**manifest, "path": str(output), "card": new_card}


def _sizes(card: ModelCard, calib, measured: dict) -> dict:
    """Which model sizes the graph takes, and which it was calibrated and measured at."""
    return {
        "size_range": None if card.size_range is None else card.size_range.text,
        "default": format_size(card.size),
        "calibration": None if calib is None else [format_size(size) for size in calib.sizes],
        "parity": measured["sizes"],
    }


def _modelopt_name(tool: str) -> str:
    from .modelopt_backend import modelopt_version

    return f"NVIDIA Model Optimizer {modelopt_version()} {tool} (our islands, selection and ranges)"


def _measured_on(options: PrecisionOptions) -> str:
    """Where the judged figure was measured: FP16 on its emulation in ONNX Runtime, INT8 on ``measure_on``."""
    return options.measure_on if options.precision == "int8" else "onnxruntime"


def _card(source: ModelCard, options: PrecisionOptions, calib, report: dict, reference: str) -> ModelCard:
    """The converted graph's card: the FP32 card with what the conversion decided and measured."""
    int8 = options.precision == "int8"
    fp16_inside = options.precision == "fp16" or options.high_precision == "fp16"
    return source.with_changes(
        precision=options.precision, source_precision="fp32", converter=report.get("converter"),
        fp16_islands=tuple(i.name for i in options.islands) if fp16_inside else (),
        high_precision=options.high_precision if int8 else None,
        calibration=Calibration(calib.id, options.calib_method) if int8 else None,
        int8_budget_rel=options.max_rel_drift if int8 else None,
        int8_groups=tuple(report["int8_groups"]) if int8 else (),
        measured_rel=float(f"{report['parity']['overall']['rel']:.3e}"), reference=reference,  # as the graph keeps it
        measured_on=_measured_on(options))


def _write(model: onnx.ModelProto, output: Path, manifest: dict, picture: np.ndarray) -> None:
    from ..io.images import write_image

    if model.ByteSize() > PROTOBUF_LIMIT:
        raise ZoeExportError(f"{output}: graphs over 2 GB after conversion are not supported yet.")
    with atomic_output(output) as tmp:
        onnx.save(model, str(tmp))
    manifest["picture"] = output.name + ".parity.png"
    write_image(output.with_name(manifest["picture"]), picture)
    with atomic_output(output.with_name(output.name + ".json")) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str))


