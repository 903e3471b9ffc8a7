"""``zoe-export onnx``: the reference model as ONNX that TensorRT and ONNX Runtime accept, verified.

Stages (each logged with its time): trace (torch.export, dynamo ONNX exporter), fold (onnxscript
optimiser, keeping each block's relative-position Gather), check (TensorRT op support and graph
facts), save (atomic; external data over 2 GB), verify (ONNX Runtime against PyTorch on
structured and random inputs). A failed check or verification leaves no file behind.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import __version__
from ..card import ModelCard, Weights
from .._files import atomic_output, check_writable, folders_removed_on_failure, refuse_folder
from .._log import log, stage
from .._lazy import require
from ..compare.metrics import compare_outputs
from ..errors import ZoeExportError, option
from ..registry import get_backend, get_precision
from ..tensors import TensorSpec
from .graph_checks import check_tensorrt_support, graph_summary
from .inputs import verification_inputs
from .metadata import PROTOBUF_LIMIT

INPUT_FORMATS = ("float-nchw", "uint8-nhwc")
INPUT_NAME = "image"
MAX_DYNAMIC_BATCH = 64
#: LayerNormalization needs opset 17; from opset 20 the exporter writes Gelu nodes, which TensorRT's
#: ONNX parser does not take (the op check refuses them after the whole trace)
OPSETS = range(17, 20)


@dataclass(frozen=True)
class ExportOptions:
    batch: int | None = 1  # None: a dynamic batch dimension
    input_format: str = "float-nchw"
    opset: int = 18
    precision: str = "fp32"
    verify: bool = True
    external_data: bool | None = None  # None: only when the weights exceed the protobuf limit

    def validate(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ZoeExportError(f"{option('--input-format', 'input_format=')} {self.input_format!r}: choose one of "
                                 f"{', '.join(INPUT_FORMATS)}.")
        if self.precision != "fp32":
            raise ZoeExportError(
                f"precision {self.precision!r}: the export writes FP32; FP16 and INT8 graphs are converted from it "
                "(zoe-export onnx --precision fp16|int8, or zoe_export.precision.convert_precision)."
            )
        if self.opset not in OPSETS:
            raise ZoeExportError(
                f"{option('--opset', 'opset=')} {self.opset}: use {OPSETS[0]} to {OPSETS[-1]} (default 18). "
                f"LayerNormalization needs opset {OPSETS[0]}; from opset {OPSETS[-1] + 1} the exporter writes Gelu "
                "nodes, which TensorRT's ONNX parser does not take.")
        if self.batch is not None and not 1 <= self.batch <= MAX_DYNAMIC_BATCH:
            raise ZoeExportError(f"{option('--batch', 'batch=')} {self.batch}: use 1 to {MAX_DYNAMIC_BATCH}, or "
                                 f"{option('--dynamic-batch', 'batch=None')}.")


class ExportWrapper(nn.Module):
    """The exported function: input format adapter, the model, outputs as a fixed tuple."""

    def __init__(self, model: nn.Module, input_format: str):
        super().__init__()
        self.model, self.input_format = model, input_format
        self.output_names = ["metric_depth"] + (["domain_logits"] if model.variant.head_type == "NK" else [])

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.input_format == "uint8-nhwc":
            image = image.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        out = self.model(image)
        return tuple(out[name] for name in self.output_names)

    def input_spec(self, batch: int | None) -> TensorSpec:
        h, w = self.model.image_size
        if self.input_format == "uint8-nhwc":
            return TensorSpec(INPUT_NAME, np.dtype(np.uint8), (batch, h, w, 3))
        return TensorSpec(INPUT_NAME, np.dtype(np.float32), (batch, 3, h, w))


def default_output(model: nn.Module, options: ExportOptions) -> Path:
    p = model.provenance
    name = "zoed_" + p["variant"].lower().replace("-", "_")
    if (p["height"], p["width"]) != tuple(model.variant.native_size):
        name += f"_{p['height']}x{p['width']}"
    if p.get("domain") not in (None, "auto"):
        name += f"_{p['domain']}"
    if options.input_format == "uint8-nhwc":
        name += "_u8"
    if options.batch is None:
        name += "_dynbatch"
    elif options.batch != 1:
        name += f"_b{options.batch}"
    return Path(name + ".onnx")


# ----------------------------------------------------------------------------------------- inputs

# ----------------------------------------------------------------------------------------- stages

def _trace(wrapper: ExportWrapper, options: ExportOptions):
    spec = wrapper.input_spec(options.batch)
    example_batch = 2 if options.batch is None else options.batch  # batch 1 would be specialised
    example = torch.zeros((example_batch, *spec.shape[1:]), dtype=torch.uint8 if spec.dtype == np.uint8 else torch.float32)
    dynamic = ({0: torch.export.Dim("batch", min=1, max=MAX_DYNAMIC_BATCH)},) if options.batch is None else None
    with warnings_filtered():
        return torch.onnx.export(
            wrapper, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=wrapper.output_names,
            dynamic_shapes=dynamic, opset_version=options.opset, optimize=False, verbose=False,
        )


@contextlib.contextmanager
def warnings_filtered():
    """Quiet the exporter's known-harmless chatter (scoped: the process-wide filters are restored)."""
    import logging
    import warnings

    exporter_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        exporter_log.setLevel(level)


def _keep_bias_gathers(node) -> bool | None:
    """Constant-folding veto: the gathered (heads, N, N) biases must not become stored constants."""
    if node.op_type == "Gather" and node.inputs and (node.inputs[0].name or "").endswith("grid_bias_table"):
        return False
    return None


def _fold(program) -> None:
    import onnxscript.optimizer

    onnxscript.optimizer.optimize_ir(program.model, should_fold=_keep_bias_gathers)


def model_card(model: nn.Module, input_format: str = "float-nchw", batch: int | None = 1,
               opset: int | None = None) -> ModelCard:
    """The card of an FP32 export of ``model`` (from :func:`zoe_export.load_model`): what it is and its weights."""
    import onnx

    p, v = model.provenance, model.variant
    outputs = ("metric_depth", "domain_logits") if v.head_type == "NK" else ("metric_depth",)
    weights = Weights(p["weights"], p.get("sha256") or None, p["seed"] if p["weights"] == "random" else None)
    return ModelCard(
        variant=v.name, head=v.head_type, height=p["height"], width=p["width"], input_name=INPUT_NAME,
        input_format=input_format, batch=batch, mean=tuple(v.preprocessing.mean), std=tuple(v.preprocessing.std),
        fit=p.get("fit", v.preprocessing.fit), depth_range=tuple(v.depth_range), max_depth=p.get("max_depth"),
        domain=p.get("domain") or None, outputs=outputs, precision="fp32", weights=weights, opset=opset,
        versions={"zoe_export": __version__, "torch": torch.__version__, "onnx": onnx.__version__})


def _save(program, folder: Path, name: str, external: bool) -> list[Path]:
    import onnx_ir as ir

    path = folder / name
    if not external:
        ir.save(program.model, path)
        return [path]
    from tqdm import tqdm

    total = sum(v.const_value.nbytes for v in program.model.graph.initializers.values() if v.const_value is not None)
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"writing {name}.data", leave=False) as bar:
        ir.save(program.model, path, external_data=name + ".data", callback=lambda tensor, info: bar.update(tensor.nbytes))
    return [path, folder / (name + ".data")]


def _verify(path: Path, inputs: dict[str, dict[str, np.ndarray]], references: dict[str, dict[str, np.ndarray]],
            precision: str) -> dict:
    tolerance = get_precision(precision).tolerance
    report, failures = {}, []
    # The graph as written (what TensorRT parses), not ONNX Runtime's rewrite of it; this also keeps
    # the session's peak memory near the weights' size (optimising a BEiT-L graph peaks at ~5 GB).
    with get_backend("onnxruntime").open(path, graph_optimization="disabled") as runner:
        for case, feed in inputs.items():
            results = compare_outputs(runner.infer(feed), references[case], tolerance)
            report[case] = {r.name: r.metrics for r in results}
            failures += [f"{case}: {f}" for r in results for f in r.failures]
    return {"passed": not failures, "tolerance": asdict(tolerance), "backend": "onnxruntime CPU, graph optimisations off",
            "cases": report, "failures": failures}


# ----------------------------------------------------------------------------------------- API

@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str, what: str):
    """A logged stage whose duration lands in ``timings[name]``."""
    start = time.perf_counter()
    with stage(what):
        yield
    timings[name] = round(time.perf_counter() - start, 2)


def preflight(output: str | Path | None, options: ExportOptions) -> None:
    """Everything that can fail before the slow work: options, output path, onnxruntime."""
    options.validate()
    if output is not None:
        flag = option("--output", "output=")
        if Path(output).suffix != ".onnx":
            raise ZoeExportError(f"{flag} {output}: the file name must end in .onnx.")
        check_writable(output, flag)
        for companion in (".json", ".data"):  # written beside it: a folder there would fail after the export
            refuse_folder(Path(output).with_name(Path(output).name + companion))
    if options.verify:
        require("onnxruntime", "the export's verification",
                instead=f"pass {option('--no-verify', 'verify=False')} to skip the ONNX Runtime check")


def export_onnx(model: nn.Module, output: str | Path | None = None, options: ExportOptions | None = None) -> dict:
    """Export a model from :func:`zoe_export.load_model` to ONNX and verify it; returns the manifest.

    Writes ``output`` (default ``zoed_<variant>.onnx``), its external data if any, and
    ``<output>.json`` (the manifest: provenance, graph summary, verification, timings). The
    returned manifest also has ``path``, where the graph was written. A failure writes nothing
    and removes the folders the export created.
    """
    options = options or ExportOptions()
    output = Path(output) if output is not None else default_output(model, options)
    with folders_removed_on_failure():
        return _export(model, output, options)


def _export(model: nn.Module, output: Path, options: ExportOptions) -> dict:
    preflight(output, options)
    timings: dict[str, float] = {}
    timed = functools.partial(_timed, timings)
    wrapper = ExportWrapper(model, options.input_format).eval()
    spec = wrapper.input_spec(options.batch)
    inputs, references = {}, {}
    if options.verify:
        with timed("reference", "PyTorch reference outputs for verification"):
            with get_backend("torch").open(wrapper, input_specs=[spec]) as runner:
                for case, batch in verification_inputs(*model.image_size, options.input_format, options.batch).items():
                    inputs[case] = {INPUT_NAME: batch}
                    references[case] = runner.infer(inputs[case])
    with timed("trace", f"tracing {model.variant.name} ({options.input_format}, batch {options.batch or 'dynamic'})"):
        program = _trace(wrapper, options)
    with timed("fold", "folding constants"):
        _fold(program)
    with timed("check", "checking the graph for TensorRT"):
        check_tensorrt_support(program.model)
        summary = graph_summary(program.model)
        blocks = model.variant.encoder.depth
        if summary["relative_position_gathers"] != blocks:
            raise RuntimeError(f"expected {blocks} relative-position Gathers, found {summary['relative_position_gathers']}")
    card = model_card(model, options.input_format, options.batch, options.opset)
    program.model.metadata_props.update(card.to_metadata())
    external = options.external_data
    if external is None:
        external = summary["initializer_bytes"] > PROTOBUF_LIMIT
    folder = output.parent if str(output.parent) else Path(".")
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", dir=folder) as tmp:
        with timed("save", f"writing {output}" + (" with external data" if external else "")):
            written = _save(program, Path(tmp), output.name, external)
        del program, wrapper
        gc.collect()
        verification = None
        if options.verify:
            with timed("verify", "verifying with ONNX Runtime against PyTorch"):
                verification = _verify(written[0], inputs, references, options.precision)
            if not verification["passed"]:
                raise ZoeExportError(
                    f"verification failed, nothing written ({options.precision} bounds: REL <= "
                    f"{verification['tolerance']['max_rel']:g}, delta1 >= {verification['tolerance']['min_delta1']:g}):\n  "
                    + "\n  ".join(verification["failures"])
                    + f"\nReport this with the variant and options; {option('--no-verify', 'verify=False')} writes "
                    "the file without the check."
                )
        for path in sorted(written, key=lambda p: p.suffix != ".data"):  # data first, then the graph
            refuse_folder(folder / path.name)
            os.replace(path, folder / path.name)  # same folder: a rename, never a move into a folder
    manifest = {
        "file": output.name,
        "external_data": output.name + ".data" if external else None,
        "card": card.to_dict(),
        "model": model.provenance,
        "options": asdict(options),
        "graph": summary,
        "verification": verification,
        "seconds": timings,
    }
    with atomic_output(output.with_name(output.name + ".json")) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=str))
    if verification:
        worst = max((m["rel"] for case in verification["cases"].values() for name, m in case.items() if "rel" in m), default=0)
        log.info("verified: worst REL %.2e over %d case(s)", worst, len(verification["cases"]))
    return {**manifest, "path": str(output), "card": card}
