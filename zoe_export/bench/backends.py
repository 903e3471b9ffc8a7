"""What ``zoe-bench`` compares: backends named on the command line, opened inside their workers.

A :class:`BackendSpec` is plain data (it crosses into the worker process): a backend from the
registry (:mod:`zoe_export.registry.backends`), its source, device and options, and the model
card of its file. :func:`open_backend` turns it into a :class:`~zoe_export.runtime.DepthEngine`
there, so each backend's memory is its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .._files import existing_file
from ..card import ModelCard
from ..errors import ZoeExportError, option
from ..registry import Backend, backend_for, get_backend



@dataclass(frozen=True)
class BackendSpec:
    kind: str  # a registered backend's name: torch | onnxruntime | tensorrt | ...
    source: str  # variant name (torch) or file path
    device: str = "cpu"
    precision: str = "fp32"  # what it computes: fp32 | amp-fp16 | fp16 | int8
    options: dict = field(default_factory=dict)  # the backend's open() keywords (torch: the model options)
    card: ModelCard | None = None  # the file's card, read once when the spec is made; None for variants
    #: what it computes in, where the file's precision does not say it all (OpenVINO: bf16, int8+bf16); None: precision
    label: str | None = None

    @property
    def backend(self) -> Backend:
        return get_backend(self.kind)

    @property
    def name(self) -> str:
        if self.kind == "torch":
            compiled = " compile" if self.options.get("compile") else ""
            return f"torch {self.precision}{compiled} {self.device}"
        return f"{self.kind} {self.label or self.precision} {self.device} ({Path(self.source).name})"

    def identity(self) -> dict[str, str]:
        """Which model this backend computes (from its card, or the torch model options)."""
        if self.card is not None:
            return self.card.identity()
        from .identity import torch_identity

        return torch_identity(self.source, self.options)

    @property
    def on_gpu(self) -> bool:
        return self.device == "cuda"


def torch_spec(variant: str, *, device: str = "cpu", amp: bool = False, compile: bool = False,
               threads: int | None = None, **model_options) -> BackendSpec:
    """The PyTorch model of ``variant`` (``model_options``: :func:`zoe_export.load_model`'s keywords), in FP32 or
    CUDA autocast FP16 (``amp``), optionally through ``torch.compile``."""
    if amp and device != "cuda":
        raise ZoeExportError(f"{option('--torch amp', 'amp=True')} needs {option('--device cuda', 'device=cuda')} "
                             "(autocast FP16 on the CPU is not what TensorRT runs).")
    options = {**model_options, "compile": compile, "threads": threads, "device": device, "amp": amp}
    return BackendSpec("torch", variant, device, "amp-fp16" if amp else "fp32", options)


def file_spec(path: str, device: str | None = None, backend: str | None = None, **options) -> BackendSpec:
    """A file on ``backend`` (default: the one that opens its suffix), on the backend's device unless given,
    with the card read once."""
    found = get_backend(backend) if backend else backend_for(path)
    name = option(found.bench_flag or "the file", f"{found.name} file")
    if not found.opens_file(path):
        raise ZoeExportError(f"{name} {path}: the {found.label} backend opens "
                             f"{', '.join(found.suffixes + found.also_opens)} files.")
    existing_file(path, name, f"make it with {found.made_by or 'zoe-export'}.")
    device = device or found.device
    card = found.read_card(path)
    return BackendSpec(found.name, str(path), device, card.precision, options, card)


def onnx_spec(path: str, provider: str, threads: int | None = None) -> BackendSpec:
    if provider == "cuda":
        _require_onnxruntime_gpu()
    providers = ["CUDAExecutionProvider"] if provider == "cuda" else ["CPUExecutionProvider"]
    # memory_arena: as applications run it (verification turns it off)
    return file_spec(path, "cuda" if provider == "cuda" else "cpu", "onnxruntime", providers=providers, threads=threads,
                     memory_arena=True)


def openvino_spec(path: str, precision: str = "f32", hint: str = "latency", threads: int | None = None) -> BackendSpec:
    """An ONNX graph or IR in OpenVINO on the CPU, computing in ``precision`` (f32, bf16, or the CPU's default,
    resolved here so the report names what ran). An FP32 graph in bf16 is judged by the bf16 bound; an INT8 graph
    computes its INT8 parts in integers and the rest in ``precision`` (labelled int8+bf16), judged by its budget."""
    from ..openvino.device import check_hint, check_precision

    check_hint(hint)
    info = check_precision(precision)
    computes = info.default_precision if precision == "default" else precision
    spec = file_spec(path, backend="openvino", precision=precision, hint=hint, threads=threads)
    graph = spec.card.precision
    judged = ("bf16" if computes == "bf16" else "fp32") if graph == "fp32" else graph
    label = ("bf16" if computes == "bf16" else "f32") if graph == "fp32" else f"{graph}+{computes}"
    default = " default" if precision == "default" else ""
    return replace(spec, precision=judged, label=label + default + (" throughput" if hint == "throughput" else ""))


def engine_spec(path: str) -> BackendSpec:
    return file_spec(path, backend="tensorrt")


def _require_onnxruntime_gpu() -> None:
    from ..runtime import import_onnxruntime

    if "CUDAExecutionProvider" not in import_onnxruntime().get_available_providers():
        raise ZoeExportError(f"{option('--provider cuda', 'provider=cuda')} needs onnxruntime-gpu (this "
                             "onnxruntime has CPU only): pip install 'zoe-export[gpu]' (in place of onnxruntime), or use "
                             f"{option('--provider cpu', 'provider=cpu')}.")


def open_backend(spec: BackendSpec):
    """The backend as a DepthEngine (called inside the worker process)."""
    from ..runtime import DepthEngine

    backend = spec.backend
    card = spec.card or (backend.read_card(spec.source) if backend.opens == "file" else None)
    return DepthEngine(backend.open(spec.source, **spec.options), model=card)  # a variant's: from its runner
