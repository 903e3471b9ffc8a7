"""``DepthEngine``: what apps use. Any runner, or a file, plus the shared preprocessing.

    with DepthEngine("engines/zoed_m12_n_fp16.engine") as engine:   # TensorRT (manifest checked first)
        depth = engine.predict(frame)                               # HxWx3 uint8/float -> HxW metres

    DepthEngine("zoed_m12_n.onnx")                                  # ONNX Runtime
    DepthEngine(TorchRunner(...))                                   # any runner

The backend is chosen by one argument (the file's suffix, or the runner given). ``predict`` applies
the official recipe (reflect padding, resize, flip averaging, bicubic back) around the model, on
the host. ``run`` is the zero-copy path for device arrays (TensorRT).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import preprocess
from .._files import existing_file
from ..errors import ZoeExportError, option
from .base import Runner

ENGINE_SUFFIXES = (".engine", ".plan")


@dataclass(frozen=True)
class ModelInput:
    """How a model takes images: its input tensor, size, format, batch, and the fit of the variant."""

    name: str
    height: int
    width: int
    input_format: str  # float-nchw | uint8-nhwc
    batch: int | None  # None: dynamic
    fit: str = "stretch"

    @classmethod
    def from_metadata(cls, meta: dict) -> "ModelInput":
        try:
            batch = None if meta.get("batch", "1") == "dynamic" else int(meta.get("batch", "1"))
            return cls(meta.get("input_name", "image"), int(meta["height"]), int(meta["width"]),
                       meta.get("input_format", "float-nchw"), batch, meta.get("fit") or "stretch")
        except (KeyError, ValueError) as exc:
            raise ZoeExportError(f"the model's metadata lacks its input size ({exc}); export it with zoe-export onnx, "
                                 "or pass a runner and ModelInput(...) to DepthEngine.") from exc

    @classmethod
    def from_runner(cls, runner: Runner) -> "ModelInput":
        specs = runner.input_specs()
        if len(specs) != 1 or len(specs[0].shape) != 4:
            raise ZoeExportError(f"{runner.name}: expected one image input of rank 4, got "
                                 f"{[(s.name, s.shape) for s in specs]}; pass model=ModelInput(...).")
        spec = specs[0]
        batch, *rest = spec.shape
        if spec.dtype == np.uint8 and rest[2] == 3:
            return cls(spec.name, rest[0], rest[1], "uint8-nhwc", batch)
        if spec.dtype == np.float32 and rest[0] == 3:
            return cls(spec.name, rest[1], rest[2], "float-nchw", batch)
        raise ZoeExportError(f"{runner.name}: input {spec.name} {spec.dtype} {spec.shape} is neither float32 NCHW nor "
                             "uint8 NHWC; pass model=ModelInput(...).")


def open_runner(path: str | Path, *, providers: list[str] | None = None, cuda_graph: bool = False,
                check_environment: bool = True) -> tuple[Runner, ModelInput]:
    """A runner for a file, by its suffix: ``.engine``/``.plan`` TensorRT, ``.onnx`` ONNX Runtime."""
    path = Path(path)
    if path.suffix in ENGINE_SUFFIXES:
        return _engine_runner(path, cuda_graph, check_environment)
    if path.suffix == ".onnx":
        from ..export.metadata import read_metadata
        from .onnxrt_runner import OnnxrtRunner

        return OnnxrtRunner(path, providers=providers), ModelInput.from_metadata(read_metadata(path))
    raise ZoeExportError(f"{path}: give a TensorRT engine (.engine, .plan) or an ONNX file (.onnx).")


def _engine_runner(path: Path, cuda_graph: bool, check_environment: bool) -> tuple[Runner, ModelInput]:
    from ..trt.environment import probe_environment
    from ..trt.manifest import check_compatible, read_manifest
    from .trt_runner import TrtRunner

    existing_file(path, "engine", "build it with zoe-export trt --onnx MODEL.onnx.")
    manifest = read_manifest(path)
    if check_environment:  # before deserialising: TensorRT's own failure here is a crash or a cryptic log line
        check_compatible(manifest, probe_environment(), path)
    return TrtRunner(path, cuda_graph=cuda_graph), ModelInput.from_metadata(manifest.get("model", {}))


class DepthEngine:
    """Metric depth from images through any backend: ``predict`` (host arrays), ``run`` (device arrays)."""

    def __init__(self, source: str | Path | Runner, *, model: ModelInput | None = None, fit: str | None = None,
                 pad_input: bool = True, flip: bool = True, providers: list[str] | None = None,
                 cuda_graph: bool = False):
        if isinstance(source, Runner):
            self.runner = source
            self.model = model or ModelInput.from_runner(source)
        else:
            self.runner, found = open_runner(source, providers=providers, cuda_graph=cuda_graph)
            self.model = model or found
        self.fit = fit or self.model.fit
        self.pad_input, self.flip = pad_input, flip

    # -- lifecycle (predict activates on first use; close or a with block releases) ----------------
    def __enter__(self) -> "DepthEngine":
        self.runner.activate()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.runner.deactivate()

    @property
    def size(self) -> tuple[int, int]:
        return self.model.height, self.model.width

    # -- host path ---------------------------------------------------------------------------------
    def predict(self, image: np.ndarray) -> np.ndarray:
        """HxWx3 RGB (uint8, uint16 or float in [0, 1]) -> HxW float32 depth in metres at the image's size."""
        self.runner.activate()
        return preprocess.predict(self.infer_batch, image, self.size, fit=self.fit, pad_input=self.pad_input,
                                  flip=self.flip)

    def infer_batch(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> (B, 1, H, W) metric depth, in the model's input format and batch."""
        self.runner.activate()
        feeds = self.to_model_input(batch)
        step = self.model.batch or len(feeds)
        if len(feeds) % step:
            raise ZoeExportError(f"batch of {len(feeds)} does not split into the model's fixed batch of {step}; "
                                 f"export with {option('--dynamic-batch', 'batch=None')}, or pass flip=False.")
        return np.concatenate([self.runner.infer({self.model.name: feeds[i:i + step]})["metric_depth"]
                               for i in range(0, len(feeds), step)])

    def to_model_input(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> the model's input format (float NCHW, or uint8 NHWC rounded)."""
        if self.model.input_format == "uint8-nhwc":
            return np.ascontiguousarray(np.round(batch.transpose(0, 2, 3, 1) * 255.0).astype(np.uint8))
        return np.ascontiguousarray(batch, dtype=np.float32)

    # -- device path -------------------------------------------------------------------------------
    def run(self, inputs: dict, outputs: dict | None = None, stream=None) -> dict:
        """Zero-copy inference on device arrays (``__cuda_array_interface__`` or DLPack): TensorRT only.

        Inputs are model inputs as they are (already preprocessed, on the GPU); outputs are views
        of the engine's buffers unless ``outputs`` gives arrays to write into.
        """
        run = getattr(self.runner, "run", None)
        if run is None:
            raise ZoeExportError(f"run() takes device arrays, which the {self.runner.name} backend cannot: use a "
                                 "TensorRT engine, or predict() / runner.infer() with numpy arrays.")
        self.runner.activate()
        return run(inputs, outputs=outputs, stream=stream)
