"""Measuring a converted graph: parity inputs, FP32 references, metrics, the parity picture.

The :class:`Workbench` holds the FP32 source, the inputs every candidate is measured on
(structured inputs, then held-out calibration samples) and their FP32 reference outputs; it runs
candidate graphs on a measuring backend (:data:`MEASURE_ON`): ONNX Runtime CPU (FP32 kernels: a Q/DQ
graph is dequantized, an emulation) or OpenVINO CPU (real INT8 kernels, the rest in f32 or bf16), and
records what each backend was (``Workbench.backends``). :func:`parity` turns outputs into the report a
manifest stores.

    bench.run(candidate, bench.heldout, "all", on="openvino:bf16")   # reached through the backend registry
    bench.backends["openvino:bf16"]   # {"backend": "openvino", "inference_precision": "bf16", "openvino": ...}
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx

from .._lazy import require
from .._memory import release_memory
from ..card import ModelCard
from ..compare.metrics import compare_outputs
from ..compare.tolerance import Tolerance
from ..errors import ZoeExportError, option
from ..registry import get_backend, get_precision
from ..sizes import format_size
from .graph import save_model

#: where a converted graph is measured: ONNX Runtime CPU, or OpenVINO CPU in an inference precision (``openvino``
#: is ``openvino:f32``)
MEASURE_ON = ("onnxruntime", "openvino", "openvino:f32", "openvino:bf16")


def measure_target(measure_on: str) -> tuple[str, str]:
    """``openvino:bf16`` -> ``("openvino", "bf16")``; ``openvino`` -> ``("openvino", "f32")``; ``onnxruntime``: f32."""
    backend, _, precision = measure_on.partition(":")
    return backend, precision or "f32"


def check_measure_on(measure_on: str) -> None:
    """Raise unless OpenVINO is installed and this CPU computes in ``measure_on``'s inference precision.

    Asked of OpenVINO itself (the precision stage sits below the ``openvino`` layer): the backend
    registry's install line, and the CPU plugin's ``OPTIMIZATION_CAPABILITIES``."""
    backend, precision = measure_target(measure_on)
    if backend != "openvino":
        return
    flag = option(f"--measure-on {measure_on}", f"measure_on={measure_on}")
    ov = require("openvino", f"measuring on OpenVINO ({flag})", get_backend("openvino").install)
    if precision == "f32":
        return
    core = ov.Core()
    capabilities = [str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    if precision.upper() not in capabilities:
        raise ZoeExportError(
            f"{flag}: this CPU ({core.get_property('CPU', 'FULL_DEVICE_NAME')}) cannot compute in {precision}; "
            f"OpenVINO reports {', '.join(capabilities) or 'no capabilities'} (bf16 needs AVX-512 BF16 or AMX). "
            f"Use {option('--measure-on openvino:f32', 'measure_on=openvino:f32')}.")


@dataclass
class Workbench:
    """The FP32 source (its path, and the graph read once), its card, the parity inputs and their references."""

    source: Path
    card: ModelCard
    tmp: Path
    feeds: dict[str, dict[str, np.ndarray]]
    fp32: onnx.ModelProto | None = None  # the FP32 graph with its weights; converters copy what they change
    references: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: measure_on (see :data:`MEASURE_ON`) -> what ran there: backend, inference precision, version (and OpenVINO's CPU)
    backends: dict[str, dict] = field(default_factory=dict)

    @property
    def heldout(self) -> list[str]:
        """Names of the feeds that are held-out calibration samples."""
        return [case for case in self.feeds if case.startswith("heldout:")]

    @property
    def batch(self) -> int | None:
        return self.card.batch

    @property
    def sizes(self) -> dict[str, str]:
        """Feed name -> the model size it runs at (``HxW``)."""
        return feed_sizes(self.card, self.feeds)

    def run(self, model: onnx.ModelProto, cases: list[str], graph_optimization: str,
            on: str = "onnxruntime") -> dict[str, dict[str, np.ndarray]]:
        """``model``'s outputs on ``cases``, run on ``on`` (see :data:`MEASURE_ON`; ``graph_optimization``: ONNX
        Runtime's level, which OpenVINO has no equivalent of)."""
        return self.run_file(self.save(model), cases, graph_optimization, on)

    def save(self, model: onnx.ModelProto) -> Path:
        """``model`` as the candidate file the backends open (each candidate replaces the last)."""
        path = self.tmp / "candidate.onnx"
        save_model(model, path)
        return path

    def run_file(self, path: Path, cases: list[str], graph_optimization: str,
                 on: str = "onnxruntime") -> dict[str, dict[str, np.ndarray]]:
        backend, precision = measure_target(on)
        if backend == "openvino":
            runner = get_backend("openvino").open(path, precision=precision, card=self.card)
        else:
            runner = onnxruntime_runner(path, graph_optimization)
        with runner:
            outputs = {case: runner.infer(self.feeds[case]) for case in cases}
            self.backends[on] = _backend_facts(runner)
        release_memory()  # the session's copy of the weights, before the next candidate's
        return outputs

    def qdq_backend(self, on: str, graph: str = "the Q/DQ graph") -> str:
        """How a Q/DQ ``graph`` ran ``on``, for a parity report: backend, version, what computes in which precision,
        e.g. ``the Q/DQ graph in OpenVINO 2026.4.1 CPU (INT8 kernels, bf16 elsewhere)``."""
        facts = self.backends[on]
        if facts["backend"] == "openvino":
            return (f"{graph} in OpenVINO {facts['openvino']} CPU (INT8 kernels, {facts['inference_precision']} "
                    "elsewhere)")
        return f"{graph} in ONNX Runtime {facts['onnxruntime']} CPU (an emulation of INT8 in f32)"


def _backend_facts(runner) -> dict:
    """What an active runner runs on: backend, inference precision, version (OpenVINO: and the CPU's name)."""
    if runner.name == "openvino":
        return {"backend": "openvino", "inference_precision": runner.inference_precision,
                "openvino": runner.cpu.openvino_version, "cpu": runner.cpu.name}
    return {"backend": "onnxruntime", "inference_precision": "f32",
            "onnxruntime": require("onnxruntime").__version__}


def onnxruntime_runner(path: Path, graph_optimization: str = "disabled"):
    """An ONNX Runtime runner from the backend registry (the precision stage measures on the CPU)."""
    return get_backend("onnxruntime").open(path, graph_optimization=graph_optimization)


def structured_feeds(card: ModelCard, range_ends: bool = True) -> dict[str, dict[str, np.ndarray]]:
    """The structured inputs at the card's size; a dynamic-size graph's also at its range's ends (``range_ends``).

    At the ends, the structured scene only, named ``<HxW> <case>``: those are where a dynamic graph
    differs most from its default size (the fewest tokens, and the most: the largest sums and the
    longest softmax rows), and the largest end is the slow part of measuring."""
    from ..export.inputs import verification_inputs

    cases = verification_inputs(card.height, card.width, card.input_format, card.batch)
    feeds = {case: {card.input_name: array} for case, array in cases.items()}
    if card.size_range is not None and range_ends:
        for size in dict.fromkeys((tuple(card.size_range.min), tuple(card.size_range.max))):
            if size != card.size:
                case, array = next(iter(verification_inputs(*size, card.input_format, card.batch).items()))
                feeds[f"{format_size(size)} {case}"] = {card.input_name: array}
    return feeds


def heldout_feeds(calib, batch: int | None) -> dict[str, dict[str, np.ndarray]]:
    """The held-out samples, ``heldout:<source>`` (``heldout:<HxW>:<source>`` when a mix holds several sizes)."""
    feeds = {}
    for part in calib.sets:
        prefix = f"heldout:{format_size(part.size)}:" if len(calib.sets) > 1 else "heldout:"
        if batch is None or batch == 1:
            sources = part.manifest["sources"]
            feeds.update({f"{prefix}{sources[i]['source']}": {part.input_name: part.sample(i)[None]}
                          for i in part.indices})
        else:
            feeds.update({f"{prefix}{n}": feed for n, feed in enumerate(part.batches(batch))})
    return feeds


def feed_sizes(card: ModelCard, feeds: dict[str, dict[str, np.ndarray]]) -> dict[str, str]:
    """Input name -> the model size (``HxW``) it runs at."""
    axes = slice(1, 3) if card.input_format == "uint8-nhwc" else slice(2, 4)
    return {case: format_size(np.shape(feed[card.input_name])[axes]) for case, feed in feeds.items()}


def compute_references(bench: Workbench, reference) -> str:
    if isinstance(reference, dict):
        missing = sorted(set(bench.feeds) - set(reference))
        if missing:
            raise ValueError(f"reference outputs missing for {', '.join(missing)}: compute them on parity_inputs()")
        bench.references = reference
        return "reference outputs given by the caller"
    if reference is None:
        with onnxruntime_runner(bench.source) as runner:
            bench.references = {case: runner.infer(feed) for case, feed in bench.feeds.items()}
        return "the FP32 graph in ONNX Runtime (graph optimisations off)"
    with reference:
        bench.references = {case: reference.infer(feed) for case, feed in bench.feeds.items()}
    return f"{reference.name} (FP32)"


def _pixels(size: str) -> tuple[int, int]:
    height, width = (int(v) for v in size.split("x"))
    return height * width, height


def overall(cases: list[dict]) -> dict:
    depth = [c["metric_depth"] for c in cases]
    return {
        "rel": float(np.mean([m["rel"] for m in depth])),
        "worst_rel": float(max(m["rel"] for m in depth)),
        "rmse": float(np.sqrt(np.mean([m["rmse"] ** 2 for m in depth]))),
        "delta1": float(min(m["delta1"] for m in depth)),
        "max_abs": float(max(m["max_abs"] for m in depth)),
        "cases": len(depth),
    }


def parity(bench: Workbench, outputs: dict[str, dict[str, np.ndarray]], tolerance: Tolerance | None,
            backend: str, budget: float | None = None) -> dict:
    """Metrics per input and overall. ``tolerance`` judges every input (FP16); ``budget`` judges the
    mean REL over the held-out samples (INT8), the figure the budget search works on."""
    judge = tolerance or get_precision("int8").tolerance  # without bounds: non-finite values and routing still fail
    cases, failures = {}, []
    for case, out in outputs.items():
        results = compare_outputs(out, bench.references[case], judge)
        cases[case] = {r.name: r.metrics for r in results}
        failures += [f"{case}: {f}" for r in results for f in r.failures]
    heldout = [cases[c] for c in bench.heldout if c in cases]
    sizes = bench.sizes
    report = {
        "backend": backend,
        "sizes": sorted({sizes[c] for c in cases}, key=_pixels),  # the model sizes measured at
        "cases": cases,
        "overall": overall(list(cases.values())),
        "heldout": overall(heldout) if heldout else None,
        "tolerance": asdict(tolerance) if tolerance else None,
        "budget_rel": budget,
    }
    if budget is not None and report["heldout"]["rel"] > budget:
        failures.append(f"mean REL {report['heldout']['rel']:.3g} on {len(heldout)} held-out sample(s) > budget {budget:g}")
    report["passed"] = not failures if (tolerance or budget is not None) else (False if failures else None)
    report["failures"] = failures
    return report


def parity_picture(bench: Workbench, outputs: dict[str, dict[str, np.ndarray]], label: str) -> np.ndarray:
    """input | FP32 depth | converted depth | relative error, for the first input (the structured scene)."""
    from ..io import images
    from ..preprocess import to_uint8

    case = next(iter(outputs))
    image = next(iter(bench.feeds[case].values()))[0]
    rgb = to_uint8(image, "hwc" if image.dtype == np.uint8 else "chw")  # uint8-nhwc or float-nchw graphs
    reference, converted = bench.references[case]["metric_depth"][0, 0], outputs[case]["metric_depth"][0, 0]
    return images.parity_panel(rgb, reference, converted, ("input", "FP32 reference", label))


def parity_lines(precision: str, report: dict) -> list[str]:
    """The console lines of a :func:`parity` report: one per input, then the verdict (the CLI prints them)."""
    lines = []
    for case, outputs in report["cases"].items():
        m = outputs["metric_depth"]
        lines.append(f"parity   {case[:40]:40} REL {m['rel']:.2e}  RMSE {m['rmse']:.2e}  delta1 {m['delta1']:.6f}  "
                     f"max abs {m['max_abs']:.2e}")
    verdict = {True: "passed", False: "FAILED", None: "measured (no budget given)"}[report["passed"]]
    o, h = report["overall"], report["heldout"]
    if report["tolerance"]:
        bound = f"every input within REL <= {report['tolerance']['max_rel']:g}, delta1 >= {report['tolerance']['min_delta1']:g}"
    elif report["budget_rel"] is not None:
        bound = f"held-out mean REL {h['rel']:.2e} <= budget {report['budget_rel']:g}"
    else:
        bound = f"held-out mean REL {h['rel']:.2e}" if h else "no held-out samples"
    lines.append(f"parity   {precision} {verdict}: mean REL {o['rel']:.2e} (worst {o['worst_rel']:.2e}), "
                 f"delta1 {o['delta1']:.6f}; {bound}; {report['backend']}")
    return lines
