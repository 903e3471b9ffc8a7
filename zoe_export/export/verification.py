"""What every export is verified on, and the verification itself (ONNX Runtime against PyTorch).

* A fixed-size graph: a structured scene and noise at its size, against the model it came from.
* A dynamic-size graph: the same at three or more sizes (the range's ends, the default size and
  one of another aspect ratio), each against the fixed-size PyTorch model at that size.
* A frame graph: frames of several sizes (480p, 720p, KITTI and an odd size, scaled to the
  variant), against the official ``infer()`` recipe in :mod:`zoe_export.preprocess` with the
  fixed-size PyTorch model at the size each frame runs at.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..compare.metrics import compare_outputs
from ..registry import get_backend, get_precision
from ..sizes import Size, format_size
from .inputs import verification_inputs

Feeds = dict[str, dict[str, np.ndarray]]

#: frame sizes verified for a 384-row model, scaled to the variant: 480x640, 720x1280, KITTI 352x1216, odd 479x641
_FRAMES_AT_384 = ((480, 640), (720, 1280), (352, 1216), (479, 641))


def dynamic_sizes(default: Size, size_range) -> list[Size]:
    """Sizes a dynamic graph is verified at: the range's ends, the default size, another aspect ratio."""
    other = size_range.clamp((default[0], -(-default[0] * 7 // 4 // 32) * 32))  # 384 -> 384x672
    sizes = [size_range.min, tuple(default), tuple(other), size_range.max]
    return list(dict.fromkeys(sizes))


def frame_sizes(net_size: Size, model_size_for) -> list[Size]:
    """Frame sizes a frame graph is verified at (those whose model size the graph takes)."""
    scale = net_size[0] / 384
    frames = [(max(8, round(h * scale)), max(8, round(w * scale))) for h, w in _FRAMES_AT_384]
    frames[-1] = (frames[0][0] - 1, frames[0][1] + 1)  # odd: one row fewer and one column more than the first
    return [f for f in dict.fromkeys(frames) if model_size_for(*f) is not None]


def model_cases(model: nn.Module, wrapper_for, input_format: str, batch: int | None, sizes: list[Size],
                at_size) -> tuple[Feeds, Feeds]:
    """Feeds and PyTorch references for a model-io graph at ``sizes`` (each against the fixed model at that size)."""
    inputs, references = {}, {}
    default = tuple(model.image_size)
    for size in sizes:
        reference = model if getattr(model, "size_range", None) is None else at_size(model, *size)
        wrapper = wrapper_for(reference)
        cases = verification_inputs(*size, input_format, batch)
        if size != default:  # the scene only: a forward at the range's top end is the slow part of an export
            cases = dict(list(cases.items())[:1])
        prefix = "" if len(sizes) == 1 else f"{format_size(size)} "
        with get_backend("torch").open(wrapper, input_specs=[wrapper.input_spec(batch, size)]) as runner:
            for case, array in cases.items():
                inputs[prefix + case] = {wrapper.input_name: array}
                references[prefix + case] = runner.infer(inputs[prefix + case])
        del reference, wrapper
    return inputs, references


def frame_cases(model: nn.Module, input_name: str, batch: int | None, frames: list[Size], *, dynamic: bool,
                flip: bool, at_size) -> tuple[Feeds, Feeds]:
    """Feeds and references for a frame graph: ``preprocess.predict`` with the PyTorch model, per frame size."""
    from ..io.synthetic import demo_scene
    from ..preprocess import predict

    net = tuple(model.variant.native_size) if dynamic else tuple(model.image_size)
    fit = "minimal" if dynamic else "stretch"
    models: dict[Size, nn.Module] = {}

    last: dict[str, np.ndarray] = {}

    def run(array: np.ndarray) -> np.ndarray:
        """The model's depth for a prepared batch (the frame first, its mirror image after); keeps all outputs."""
        size = tuple(array.shape[-2:])
        if size not in models:
            models[size] = model if size == tuple(model.image_size) and not dynamic else at_size(model, *size)
        with torch.inference_mode():
            out = models[size](torch.from_numpy(np.ascontiguousarray(array)))
        last.update({k: v.numpy() for k, v in out.items()})
        return last["metric_depth"]

    inputs, references = {}, {}
    for height, width in frames:
        frame = demo_scene(height, width)
        depth = predict(run, frame, net, fit=fit, pad_input=True, flip=flip)  # one call: frame (and mirror image)
        count = 2 if batch is None else batch
        case = f"frame {height}x{width}"
        inputs[case] = {input_name: np.stack([frame] * count)}
        references[case] = {"metric_depth": np.stack([depth] * count)}
        if "domain_logits" in last:  # the frame's own (unflipped) logits
            references[case]["domain_logits"] = np.concatenate([last["domain_logits"][:1]] * count)
    return inputs, references


def verify(path: Path, inputs: Feeds, references: Feeds, precision: str) -> dict:
    """ONNX Runtime on the graph as written against the references, within the precision's bounds."""
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
