"""The backend registry: what each backend opens, its runner, card, timers, profiler and install line.

    backend = backend_for("engines/zoed_m12_n_fp16.engine")    # by the file's suffix
    runner = backend.open(path)                                 # a Runner (not yet active)
    card = backend.read_card(path)                              # its ModelCard

``open_runner``, ``DepthEngine``, ``zoe-bench`` (timing, profiling, parity, eval) and the runner
conformance suite ask this registry; none of them lists backends. A new backend is a runner module
plus one :func:`register_backend` call naming it. References are ``"module:object"`` strings,
imported on first use: registering costs nothing, and lower stages (the export's verification, the
precision stage) reach runners through here without importing the runtime layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .._lazy import INSTALL, require, resolve
from ..errors import ZoeExportError
from ._entries import Entries


@dataclass(frozen=True)
class Backend:
    name: str  # as BackendSpec.kind and the reports spell it
    label: str
    #: "file" (opens files with these suffixes) or "variant" (builds the model from a variant name)
    opens: str
    suffixes: tuple[str, ...]
    #: "module:callable" (source, **options) -> Runner; torch's ``device`` is an option (cpu or cuda)
    runner: str
    #: "module:callable" (path) -> ModelCard; None for variant backends (the model is described by its options)
    card: str | None
    #: "module:class" timing a DepthEngine on the host; gpu_timer on a CUDA device (None: the host timer)
    timer: str = "zoe_export.bench.timing:HostTimer"
    gpu_timer: str | None = None
    #: "module:callable" (spec, engine, x, iterations, path_stem) -> dict; None: no per-operator profile
    profiler: str | None = None
    profile_hint: str = ""  # where its per-operator times come from when zoe-bench has no profiler for it
    #: Python modules it needs, and how to install them
    modules: tuple[str, ...] = ()
    extra: str = ""
    install: str = ""
    device: str = "cpu"  # where it runs (cuda: needs an NVIDIA GPU)
    made_by: str = ""  # the command that makes its files (for "file not found" messages)
    #: zoe-bench's flag naming a file for it (file backends), its metavar and help
    bench_flag: str | None = None
    bench_metavar: str = "FILE"
    bench_help: str = ""
    #: "module:callable" (onnx_path, folder) -> path: this backend's file made from an ONNX export (tests, tools)
    from_onnx: str | None = None
    #: suffixes it also opens when named for it (OpenVINO runs .onnx graphs too; by suffix they go to ONNX Runtime)
    also_opens: tuple[str, ...] = ()

    def opens_file(self, path: str | Path) -> bool:
        return Path(path).suffix.lower() in self.suffixes + self.also_opens

    def require(self) -> None:
        """Import what the backend needs, or a ZoeExportError with its install line."""
        for module in self.modules:
            require(module, f"the {self.label} backend", self.install or None)

    def open(self, source, **options):
        factory = resolve(self.runner)
        try:
            return factory(source, **options)
        except TypeError as exc:
            if "unexpected keyword argument" in str(exc):
                raise ZoeExportError(f"the {self.label} backend does not take {exc}".rstrip(".") + ".") from exc
            raise

    def read_card(self, path: str | Path):
        if self.card is None:
            raise ZoeExportError(f"the {self.label} backend opens variants, not files: {path}.")
        return resolve(self.card)(path)

    def make_timer(self, engine, images, on_gpu: bool):
        return resolve(self.gpu_timer if on_gpu and self.gpu_timer else self.timer)(engine, images)


def _one_backend_per_suffix(backend: Backend, others: dict[str, Backend]) -> None:
    taken = {s: b.name for b in others.values() for s in b.suffixes}
    clash = [s for s in backend.suffixes if s in taken]
    if clash:
        raise ZoeExportError(f"backend {backend.name!r}: {', '.join(clash)} is opened by {taken[clash[0]]!r} already.")


_BACKENDS: Entries[Backend] = Entries("backend", _one_backend_per_suffix)
register_backend = _BACKENDS.register
unregister_backend = _BACKENDS.unregister
registered = _BACKENDS.registered
get_backend = _BACKENDS.get
list_backends = _BACKENDS.all


def backend_for(path: str | Path) -> Backend:
    """The backend that opens ``path``, by its suffix (the one place that answers "ONNX or engine?")."""
    suffix = Path(path).suffix.lower()
    for backend in list_backends():
        if suffix in backend.suffixes:
            return backend
    known = ", ".join(f"{s} ({b.label})" for b in list_backends() for s in b.suffixes)
    raise ZoeExportError(f"{path}: no backend opens {suffix or 'files without a suffix'}; give one of {known}.")


register_backend(Backend(
    "torch", "PyTorch", opens="variant", suffixes=(), runner="zoe_export.runtime.torch_runner:open_torch",
    card=None, gpu_timer="zoe_export.bench.timing:TorchCudaTimer", profiler="zoe_export.bench.profiling:profile_torch",
    modules=("torch",), extra="", install="pip install torch (see the README for the CPU or CUDA build)"))
register_backend(Backend(
    "onnxruntime", "ONNX Runtime", opens="file", suffixes=(".onnx",),
    runner="zoe_export.runtime.onnxrt_runner:OnnxrtRunner", card="zoe_export.export.metadata:read_card",
    profiler="zoe_export.bench.profiling:profile_onnxruntime", modules=("onnxruntime",), extra="cpu",
    install=INSTALL["onnxruntime"], made_by="zoe-export onnx", bench_flag="--onnx", bench_metavar="M.onnx",
    bench_help="an ONNX graph in ONNX Runtime"))
register_backend(Backend(
    "tensorrt", "TensorRT", opens="file", suffixes=(".engine", ".plan"),
    runner="zoe_export.runtime.trt_runner:open_engine", card="zoe_export.trt.manifest:read_card",
    timer="zoe_export.bench.timing:TrtTimer", gpu_timer="zoe_export.bench.timing:TrtTimer", device="cuda",
    modules=("tensorrt",), extra="trt",
    profile_hint="TensorRT per-layer times: trtexec --loadEngine=E --dumpProfile, or Nsight Systems (nsys profile)",
    install="pip install 'zoe-export[trt]' --extra-index-url https://pypi.nvidia.com",
    made_by="zoe-export trt --onnx MODEL.onnx", from_onnx="zoe_export.trt.build:engine_from_onnx",
    bench_flag="--engine", bench_metavar="E.engine", bench_help="a TensorRT engine from zoe-export trt"))
register_backend(Backend(
    "openvino", "OpenVINO", opens="file", suffixes=(".xml",), also_opens=(".onnx",),
    runner="zoe_export.runtime.openvino_runner:OpenvinoRunner", card="zoe_export.openvino.ir:read_card",
    profiler="zoe_export.bench.profiling:profile_openvino", modules=("openvino",), extra="openvino",
    install="pip install 'zoe-export[openvino]'", made_by="zoe-export openvino --onnx MODEL.onnx",
    from_onnx="zoe_export.openvino.export:ir_from_onnx", bench_flag="--openvino", bench_metavar="M.onnx|M.xml",
    bench_help="an ONNX graph or an OpenVINO IR (zoe-export openvino) in OpenVINO on the CPU; see --ov-precision"))
