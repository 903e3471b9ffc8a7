"""``zoe-export onnx``: the reference model as ONNX that TensorRT and ONNX Runtime accept, verified.

Stages (each logged with its time): trace (torch.export, dynamo ONNX exporter; height and width
free for a dynamic-size model), fold (onnxscript optimiser, keeping each block's relative-position
Gather), frame (``io="frame"``: the official ``infer()`` around the model, :mod:`.frame_graph`),
check (TensorRT op support and graph facts), save (atomic; external data over 2 GB), verify (ONNX
Runtime against PyTorch, :mod:`.verification`). A failed check or verification leaves no file behind.
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
from ..errors import ZoeExportError, option
from ..sizes import MULTIPLE, Size, format_size
from ..tensors import TensorSpec
from .verification import Feeds, dynamic_sizes, frame_cases, frame_sizes, model_cases, verify
from .graph_checks import check_tensorrt_support, graph_summary
from .metadata import PROTOBUF_LIMIT

INPUT_FORMATS = ("float-nchw", "uint8-nhwc")
IOS = ("model", "frame")
INPUT_NAME = "image"
FRAME_INPUT_NAME = "frame"
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
    io: str = "model"  # "frame": uint8 frames of any size in, depth at the frame's size out (official infer())
    flip: bool = False  # a frame graph averages with the mirror image's depth
    frame_size: Size | None = None  # a frame graph for one camera size (None: any)

    def validate(self) -> None:
        if self.input_format not in INPUT_FORMATS:
            raise ZoeExportError(f"{option('--input-format', 'input_format=')} {self.input_format!r}: choose one of "
                                 f"{', '.join(INPUT_FORMATS)}.")
        io = option("--io", "io=")
        if self.io not in IOS:
            raise ZoeExportError(f"{io} {self.io!r}: choose one of {', '.join(IOS)}.")
        if self.io == "frame" and self.input_format != "uint8-nhwc":
            raise ZoeExportError(f"{io} frame takes raw uint8 [N,H,W,3] frames: drop "
                                 f"{option('--input-format', 'input_format=')} {self.input_format} (or use {io} model).")
        if self.io != "frame" and (self.flip or self.frame_size is not None):
            flag = option("--flip", "flip=") if self.flip else option("--frame-size", "frame_size=")
            raise ZoeExportError(f"{flag} belongs to a frame graph: add {io} frame, or drop {flag}.")
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

    input_name = INPUT_NAME

    def __init__(self, model: nn.Module, input_format: str):
        super().__init__()
        self.model, self.input_format = model, input_format
        self.output_names = ["metric_depth"] + (["domain_logits"] if model.variant.head_type == "NK" else [])

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.input_format == "uint8-nhwc":
            image = image.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        out = self.model(image)
        return tuple(out[name] for name in self.output_names)

    def input_spec(self, batch: int | None, size: Size | None = None) -> TensorSpec:
        h, w = size or self.model.image_size
        if self.input_format == "uint8-nhwc":
            return TensorSpec(INPUT_NAME, np.dtype(np.uint8), (batch, h, w, 3))
        return TensorSpec(INPUT_NAME, np.dtype(np.float32), (batch, 3, h, w))


def default_output(model: nn.Module, options: ExportOptions) -> Path:
    p = model.provenance
    name = "zoed_" + p["variant"].lower().replace("-", "_")
    if (p["height"], p["width"]) != tuple(model.variant.native_size):
        name += f"_{p['height']}x{p['width']}"
    if p.get("size_range"):
        name += "_dyn"
    if p.get("domain") not in (None, "auto"):
        name += f"_{p['domain']}"
    if options.io == "frame":
        name += "_frame" + (f"{format_size(options.frame_size)}" if options.frame_size else "")
        name += "_flip" if options.flip else ""
    elif options.input_format == "uint8-nhwc":
        name += "_u8"
    if options.batch is None:
        name += "_dynbatch"
    elif options.batch != 1:
        name += f"_b{options.batch}"
    return Path(name + ".onnx")


# ----------------------------------------------------------------------------------------- inputs

# ----------------------------------------------------------------------------------------- stages

def _trace(wrapper: ExportWrapper, batch: int | None, opset: int):
    spec = wrapper.input_spec(batch)
    example_batch = 2 if batch is None else batch  # batch 1 would be specialised
    example = torch.zeros((example_batch, *spec.shape[1:]), dtype=torch.uint8 if spec.dtype == np.uint8 else torch.float32)
    dims = {}
    if batch is None:
        dims[0] = torch.export.Dim("batch", min=1, max=2 * MAX_DYNAMIC_BATCH)  # a frame graph's flip doubles it
    size_range = getattr(wrapper.model, "size_range", None)
    if size_range is not None:  # height and width: multiples of 32 within the range
        axes = (1, 2) if wrapper.input_format == "uint8-nhwc" else (2, 3)
        for axis, name, low, high in zip(axes, ("height", "width"), size_range.min, size_range.max):
            dims[axis] = MULTIPLE * torch.export.Dim(f"{name}_32", min=low // MULTIPLE, max=high // MULTIPLE)
    with warnings_filtered():
        return torch.onnx.export(
            wrapper, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=wrapper.output_names,
            dynamic_shapes=(dims,) if dims else None, opset_version=opset, optimize=False, verbose=False,
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
               opset: int | None = None, options: ExportOptions | None = None) -> ModelCard:
    """The card of an FP32 export of ``model`` (from :func:`zoe_export.load_model`): what it is and its weights."""
    import onnx

    p, v = model.provenance, model.variant
    options = options or ExportOptions(batch=batch, input_format=input_format)
    size_range = getattr(model, "size_range", None)
    frame = options.io == "frame"
    outputs = ("metric_depth", "domain_logits") if v.head_type == "NK" else ("metric_depth",)
    weights = Weights(p["weights"], p.get("sha256") or None, p["seed"] if p["weights"] == "random" else None)
    # a dynamic frame graph runs each frame at the official keep-aspect size for the variant's native size
    height, width = tuple(v.native_size) if frame and size_range is not None else (p["height"], p["width"])
    fit = ("minimal" if size_range is not None else "stretch") if frame else p.get("fit", v.preprocessing.fit)
    return ModelCard(
        variant=v.name, head=v.head_type, height=height, width=width,
        input_name=FRAME_INPUT_NAME if frame else INPUT_NAME, input_format=input_format, io=options.io,
        size_range=size_range, frame_size=options.frame_size, flip=options.flip,
        batch=batch, mean=tuple(v.preprocessing.mean), std=tuple(v.preprocessing.std),
        fit=fit, depth_range=tuple(v.depth_range), max_depth=p.get("max_depth"),
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


def _verification_cases(model: nn.Module, options: ExportOptions) -> tuple[Feeds, Feeds]:
    from ..models import at_size

    size_range = getattr(model, "size_range", None)
    if options.io == "frame":
        native = tuple(model.variant.native_size)

        def model_size(h: int, w: int):
            if size_range is None:
                return tuple(model.image_size)
            from ..preprocess import official_model_size

            size = official_model_size(h, w, native)
            return size if size_range.contains(size) else None

        frames = [options.frame_size] if options.frame_size else frame_sizes(native, model_size)
        return frame_cases(model, FRAME_INPUT_NAME, options.batch, frames, dynamic=size_range is not None,
                           flip=options.flip, at_size=at_size)
    sizes = [tuple(model.image_size)] if size_range is None else dynamic_sizes(model.image_size, size_range)
    return model_cases(model, lambda m: ExportWrapper(m, options.input_format).eval(),
                       options.input_format, options.batch, sizes, at_size)


def _model_batch(options: ExportOptions) -> int | None:
    """The batch the model runs at: a frame graph's flip runs each frame's mirror image in the same batch.

    Fixed when the frames' batch is, so the model part keeps the static batch a model-io export has."""
    if options.io != "frame" or options.batch is None:
        return options.batch
    return options.batch * (2 if options.flip else 1)


def _check_structure(model: nn.Module, summary: dict) -> None:
    """Each block gathers its relative-position bias in the graph; a dynamic graph stores no per-size tables."""
    blocks = model.variant.encoder.depth
    if getattr(model, "size_range", None) is None:
        found = summary["relative_position_gathers"]
    else:
        found = summary["relative_position_tables"]
        if summary["relative_position_gathers"]:
            raise RuntimeError("a dynamic-size graph stores a per-size relative-position table")
    if found != blocks:
        raise RuntimeError(f"expected {blocks} relative-position tables gathered in the graph, found {found}")


def _export(model: nn.Module, output: Path, options: ExportOptions) -> dict:
    preflight(output, options)
    timings: dict[str, float] = {}
    timed = functools.partial(_timed, timings)
    frame = options.io == "frame"
    # a frame graph wraps the float NCHW model graph (with its flip, at twice the frames' batch)
    wrapper = ExportWrapper(model, "float-nchw" if frame else options.input_format).eval()
    size_range = getattr(model, "size_range", None)
    what = (f"{options.input_format}, batch {options.batch or 'dynamic'}, "
            + ("any size " + size_range.text if size_range else format_size(model.image_size)))
    with timed("trace", f"tracing {model.variant.name} ({what})"):
        program = _trace(wrapper, _model_batch(options), options.opset)
    with timed("fold", "folding constants"):
        _fold(program)
    if frame:
        from .frame_graph import wrap_frame_graph

        with timed("frame", "wrapping the official infer() around the model (padding, resize, flip, crop)"):
            program.model = wrap_frame_graph(
                program.model, net_size=tuple(model.variant.native_size if size_range else model.image_size),
                dynamic=size_range is not None, flip=options.flip, frame_size=options.frame_size,
                batch=options.batch, model_input=INPUT_NAME, frame_input=FRAME_INPUT_NAME)
    with timed("check", "checking the graph for TensorRT"):
        check_tensorrt_support(program.model)
        summary = graph_summary(program.model)
        _check_structure(model, summary)
    inputs, references = {}, {}
    if options.verify:  # after the checks: a graph that fails them costs no reference forward at the range's top
        with timed("reference", "PyTorch reference outputs for verification"):
            inputs, references = _verification_cases(model, options)
    card = model_card(model, options.input_format, options.batch, options.opset, options)
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
                verification = verify(written[0], inputs, references, options.precision)
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
