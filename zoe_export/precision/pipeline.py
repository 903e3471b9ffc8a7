"""Orchestration of the precision stage, with one rule for what a conversion is measured against.

    manifest = export_and_convert(load_model("M12-N", "ZoeD_M12_N.pt"), "zoed_m12_n_fp16.onnx",
                                  precision_options=PrecisionOptions("fp16"))      # zoe-export onnx --precision
    manifest = convert_graph("zoed_m12_n.onnx", "zoed_m12_n_fp16.onnx", PrecisionOptions("fp16"))
                                                                                    # zoe-export trt --fp16

The reference is PyTorch FP32 whenever the model is at hand: the model itself (export_and_convert),
or the model rebuilt from the graph's card: seeded random weights from their seed, a checkpoint
given (or the official one in the cache) whose sha256 is the one the card records. Only without
the weights is it the FP32 graph in ONNX Runtime. The card of the converted graph records which.
torch is imported only when a PyTorch reference is built.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .._files import existing_file, file_sha256
from .._log import log, stage
from ..card import ModelCard
from ..errors import ZoeExportError, option
from ..export.metadata import read_card
from ..registry import get_backend
from .convert import PrecisionOptions, convert_precision, default_precision_output, parity_inputs

#: the reference the converted graph is measured against
PYTORCH_REFERENCE = "PyTorch (FP32)"


def export_and_convert(model, output: str | Path | None = None, export_options=None,
                       precision_options: PrecisionOptions | None = None) -> dict:
    """Export ``model`` (from :func:`zoe_export.load_model`) to FP32, convert it; returns the conversion manifest.

    ``output``: the converted graph (default ``zoed_<variant>[options]_<precision>.onnx`` here);
    ``export_options``: an :class:`~zoe_export.export.ExportOptions` (default: its defaults);
    ``precision_options``: default ``PrecisionOptions()`` (FP16). The manifest is the one
    :func:`~.convert.convert_precision` returns (``reference`` is PyTorch), plus ``fp32_export``:
    the manifest of the FP32 export, whose file is gone with its temporary folder.
    """
    from .._memory import release_memory
    from ..export import ExportOptions, ExportWrapper, default_output, export_onnx, preflight

    export_options = export_options or ExportOptions()
    precision = precision_options or PrecisionOptions()
    precision.validate()
    preflight(output, export_options)  # fail before the slow part
    if precision.calib is not None:
        from ..calib import open_calibration

        height, width = model.image_size
        size_range = getattr(model, "size_range", None)
        at = f" at {height}x{width}" if size_range is None else ""  # a range is named by the check
        open_calibration(precision.calib).check_matches(
            height, width, export_options.input_format,
            f"{model.provenance['variant']}{at} ({export_options.input_format})", size_range)
    fp32_name = default_output(model, export_options).name
    output = Path(output) if output is not None else default_precision_output(fp32_name, precision.precision)
    with tempfile.TemporaryDirectory(prefix="zoe-fp32-") as tmp:
        fp32 = Path(tmp) / fp32_name
        fp32_export = export_onnx(model, fp32, export_options)
        log.info("the FP32 export is the converter's source, in a temporary folder (not kept)")
        wrapper = ExportWrapper(model, export_options.input_format).eval()
        torch = get_backend("torch")
        card = fp32_export["card"]  # a dynamic-size model runs each parity input at its own size
        spec = card.input_spec() if card.dynamic_size else wrapper.input_spec(export_options.batch)
        with stage("PyTorch reference outputs for the precision parity"), \
                torch.open(wrapper, input_specs=[spec]) as runner:
            references = {case: runner.infer(feed) for case, feed in parity_inputs(fp32, precision).items()}
        del model, wrapper, runner  # the converter needs the memory
        release_memory()
        manifest = convert_precision(fp32, output, precision, reference=references, reference_name=PYTORCH_REFERENCE)
    return {**manifest, "fp32_export": fp32_export}


def convert_graph(source: str | Path, output: str | Path | None, precision_options: PrecisionOptions,
                  checkpoint: str | Path | None = None, card: ModelCard | None = None) -> dict:
    """Convert an FP32 graph, measured against PyTorch when its weights are at hand (see the module's rule);
    returns :func:`~.convert.convert_precision`'s manifest. ``card``: the source's, when the caller has read it."""
    source = Path(source)
    reference = pytorch_reference(card or read_card(source), checkpoint)
    if reference is None:
        log.info("the conversion is measured against the FP32 graph (no weights at hand for a PyTorch reference; "
                 "%s gives them)", option("--checkpoint", "checkpoint="))
        return convert_precision(source, output, precision_options)
    return convert_precision(source, output, precision_options, reference=reference,
                             reference_name=PYTORCH_REFERENCE)


def pytorch_reference(card: ModelCard, checkpoint: str | Path | None = None):
    """A PyTorch runner computing what the card's FP32 graph computes, or None when its weights are not at hand."""
    weights = _weights_at_hand(card, checkpoint)
    if weights is None:
        return None
    size = {"height": card.height, "width": card.width} if card.size_range is None else \
        {"dynamic_size": card.size_range}  # a dynamic-size graph: parity runs at sizes across its range
    options = {**size, "max_depth": card.max_depth, "domain": card.domain or "auto",
               "input_format": card.input_format, **weights}
    with stage(f"building the PyTorch reference ({card.variant}, {_describe(weights)})"):
        return get_backend("torch").open(card.variant, **options)


def _weights_at_hand(card: ModelCard, checkpoint: str | Path | None) -> dict | None:
    if card.weights.kind == "random" and card.weights.seed is not None and checkpoint is None:
        return {"weights": "random", "seed": card.weights.seed}
    if checkpoint is not None:
        digest = file_sha256(check_checkpoint(checkpoint))
        if card.weights.sha256 and digest != card.weights.sha256:
            raise ZoeExportError(f"{option('--checkpoint', 'checkpoint=')} {checkpoint} has sha256 {digest[:12]}..., "
                                 f"the graph was exported from {card.weights.sha256[:12]}...: pass that checkpoint.")
        return {"checkpoint": str(checkpoint), "sha256": digest}
    if card.weights.kind == "checkpoint" and card.weights.sha256:
        from ..models import cached_checkpoint, get_variant

        cached = cached_checkpoint(get_variant(card.variant))
        if cached is not None and file_sha256(cached) == card.weights.sha256:
            return {"checkpoint": str(cached), "sha256": card.weights.sha256}
    return None


def check_checkpoint(checkpoint: str | Path) -> Path:
    """The reference checkpoint as a file, or the error that names the fix (before any slow work)."""
    return existing_file(checkpoint, option("--checkpoint", "checkpoint="),
                         "pass the checkpoint the FP32 graph was exported from.")


def _describe(weights: dict) -> str:
    return f"random weights, seed {weights['seed']}" if "seed" in weights else Path(weights["checkpoint"]).name
