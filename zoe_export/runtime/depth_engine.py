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

from pathlib import Path

import numpy as np

from .. import preprocess
from .._files import existing_file
from ..card import ModelCard
from ..errors import ZoeExportError, option
from ..registry import backend_for
from .base import Runner

def card_from_runner(runner: Runner) -> ModelCard:
    """A card for a runner that brings no card: its one image input says the size, format and batch."""
    specs = runner.input_specs()
    if len(specs) != 1 or len(specs[0].shape) != 4:
        raise ZoeExportError(f"{runner.name}: expected one image input of rank 4, got "
                             f"{[(s.name, s.shape) for s in specs]}; pass model=ModelCard.for_input(...).")
    spec = specs[0]
    batch, *rest = spec.shape
    if spec.dtype == np.uint8 and rest[2] == 3:
        return ModelCard.for_input(spec.name, rest[0], rest[1], "uint8-nhwc", batch)
    if spec.dtype == np.float32 and rest[0] == 3:
        return ModelCard.for_input(spec.name, rest[1], rest[2], "float-nchw", batch)
    raise ZoeExportError(f"{runner.name}: input {spec.name} {spec.dtype} {spec.shape} is neither float32 NCHW nor "
                         "uint8 NHWC; pass model=ModelCard.for_input(...).")


def open_runner(path: str | Path, **options) -> tuple[Runner, ModelCard]:
    """A runner for a file and its model card, from the backend that opens the file's suffix.

    ``options`` go to the backend's runner (ONNX Runtime: ``providers``, ``threads``; TensorRT:
    ``cuda_graph``, ``check_environment``)."""
    backend = backend_for(path)
    existing_file(path, f"{backend.label} file", f"make it with {backend.made_by or 'zoe-export'}.")
    runner = backend.open(Path(path), **options)  # first: TensorRT checks the engine against this machine
    return runner, backend.read_card(path)


class DepthEngine:
    """Metric depth from images through any backend: ``predict`` (host arrays), ``run`` (device arrays)."""

    def __init__(self, source: str | Path | Runner, *, model: ModelCard | None = None, fit: str | None = None,
                 pad_input: bool = True, flip: bool = True, **backend_options):
        """``source``: a file (its backend chosen by the suffix) or a runner; ``model``: the card, when the
        runner brings none; ``backend_options`` go to the backend (``providers=[...]``, ``cuda_graph=True``)."""
        if isinstance(source, Runner):
            self.runner = source
            self.model = model or card_from_runner(source)
        else:
            self.runner, found = open_runner(source, **backend_options)
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
        return np.concatenate([self.runner.infer({self.model.input_name: feeds[i:i + step]})["metric_depth"]
                               for i in range(0, len(feeds), step)])

    def to_model_input(self, batch: np.ndarray) -> np.ndarray:
        """(B, 3, H, W) float32 in [0, 1] -> the model's input format (float NCHW, or uint8 NHWC clipped, rounded)."""
        if self.model.input_format == "uint8-nhwc":
            return preprocess.to_uint8(batch, "nchw")
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
