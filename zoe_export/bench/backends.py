"""What ``zoe-bench`` compares: backends named on the command line, opened inside their workers.

A :class:`BackendSpec` is plain data (it crosses into the worker process); :func:`open_backend`
turns it into a :class:`~zoe_export.runtime.DepthEngine` there, so each backend's memory is its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .._files import existing_file
from ..errors import ZoeExportError

KINDS = ("torch", "onnxruntime", "tensorrt")
TORCH_MODES = ("fp32", "amp", "compile", "amp+compile")


@dataclass(frozen=True)
class BackendSpec:
    kind: str  # torch | onnxruntime | tensorrt
    source: str  # variant name (torch) or file path
    device: str = "cpu"
    precision: str = "fp32"  # what it computes: fp32 | amp-fp16 | fp16 | int8
    options: dict = field(default_factory=dict)  # torch: weights, seed, checkpoint, height, width, compile; onnx: provider

    @property
    def name(self) -> str:
        if self.kind == "torch":
            compiled = " compile" if self.options.get("compile") else ""
            return f"torch {self.precision}{compiled} {self.device}"
        return f"{self.kind} {self.precision} {self.device} ({Path(self.source).name})"

    @property
    def on_gpu(self) -> bool:
        return self.device == "cuda"


def torch_spec(mode: str, args) -> BackendSpec:
    """``--torch [fp32|amp|compile|amp+compile]`` with the model flags (variant, weights, size, device)."""
    if mode not in TORCH_MODES:
        raise ZoeExportError(f"--torch {mode}: choose one of {', '.join(TORCH_MODES)}.")
    amp = "amp" in mode.split("+") or args.amp
    compile_ = "compile" in mode.split("+") or args.compile
    if amp and args.device != "cuda":
        raise ZoeExportError("--torch amp needs --device cuda (autocast FP16 on the CPU is not what TensorRT runs).")
    if not args.variant:
        raise ZoeExportError("--torch needs --variant (M12-N, M12-K, M12-NK), and --checkpoint F or --random-weights.")
    options = {"checkpoint": args.checkpoint, "random_weights": args.random_weights, "seed": args.seed,
               "sha256": args.sha256, "height": args.height, "width": args.width, "max_depth": args.max_depth,
               "domain": args.domain, "compile": compile_, "threads": args.threads}
    return BackendSpec("torch", args.variant, args.device, "amp-fp16" if amp else "fp32", options)


def onnx_spec(path: str, provider: str, threads: int | None = None) -> BackendSpec:
    from ..export.metadata import read_metadata

    precision = read_metadata(path).get("precision", "fp32")
    if provider == "cuda":
        _require_onnxruntime_gpu()
    return BackendSpec("onnxruntime", str(path), "cuda" if provider == "cuda" else "cpu", precision,
                       {"provider": provider, "threads": threads})


def engine_spec(path: str) -> BackendSpec:
    from ..trt.manifest import read_manifest

    existing_file(path, "--engine", "build it with zoe-export trt --onnx MODEL.onnx.")
    return BackendSpec("tensorrt", str(path), "cuda", read_manifest(path)["precision"])


def _require_onnxruntime_gpu() -> None:
    from ..runtime import import_onnxruntime

    if "CUDAExecutionProvider" not in import_onnxruntime().get_available_providers():
        raise ZoeExportError("--provider cuda needs onnxruntime-gpu (this onnxruntime has CPU only): "
                             "pip install 'zoe-export[gpu]' (in place of onnxruntime), or use --provider cpu.")


def open_backend(spec: BackendSpec):
    """The backend as a DepthEngine (called inside the worker process)."""
    from ..runtime import DepthEngine

    if spec.kind == "torch":
        return DepthEngine(_torch_runner(spec))
    if spec.kind == "onnxruntime":
        from ..export.metadata import read_metadata
        from ..runtime import ModelInput, OnnxrtRunner

        providers = ["CUDAExecutionProvider"] if spec.options.get("provider") == "cuda" else ["CPUExecutionProvider"]
        runner = OnnxrtRunner(spec.source, providers=providers, threads=spec.options.get("threads"),
                              memory_arena=True)  # as applications run it (verification turns it off)
        return DepthEngine(runner, model=ModelInput.from_metadata(read_metadata(spec.source)))
    return DepthEngine(spec.source)


def _torch_runner(spec: BackendSpec):
    import torch

    from ..export import ExportWrapper
    from ..models import load_model
    from ..runtime import TorchRunner

    o = spec.options
    if o.get("threads"):
        torch.set_num_threads(o["threads"])
    if spec.on_gpu and not torch.cuda.is_available():
        raise ZoeExportError("--device cuda: this torch build sees no CUDA GPU. Install a CUDA build of torch, or use "
                             "--device cpu.")
    model = load_model(spec.source, o.get("checkpoint"), height=o.get("height"), width=o.get("width"),
                       max_depth=o.get("max_depth"), domain=o.get("domain") or "auto",
                       weights="random" if o.get("random_weights") else None, sha256=o.get("sha256"),
                       seed=o.get("seed"))
    wrapper = ExportWrapper(model, "float-nchw")
    return TorchRunner(wrapper, [wrapper.input_spec(None)], wrapper.output_names, device=spec.device,
                       amp=spec.precision == "amp-fp16", compile=bool(o.get("compile")))
