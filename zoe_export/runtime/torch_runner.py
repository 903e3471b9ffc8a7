"""The PyTorch backend: any module mapping the input tensors to a dict (or tuple) of outputs."""
from __future__ import annotations

import numpy as np

from ..errors import ZoeExportError, option
from ..tensors import TensorSpec
from .base import Runner


class TorchRunner(Runner):
    """Runs a module under ``torch.inference_mode``; outputs come back as float32 numpy arrays.

    ``input_specs`` describe what the module takes; ``output_names`` name tuple outputs.
    ``amp``: CUDA autocast to FP16. ``compile``: ``torch.compile`` the module when activated.
    ``card``: what the module is, where known (a variant opened by :func:`open_torch` brings one): a
    dynamic-size model's inputs are then checked against its size range before it runs.
    """

    name = "torch"

    def __init__(self, module, input_specs: list[TensorSpec], output_names: list[str] | None = None, device: str = "cpu",
                 amp: bool = False, compile: bool = False, card=None):
        super().__init__()
        self.card = card
        if amp and device != "cuda":
            raise ZoeExportError("amp (autocast FP16) needs device 'cuda': on the CPU it is not what TensorRT runs.")
        self.module, self._input_specs, self.output_names, self.device = module, input_specs, output_names, device
        self.amp, self.compile = amp, compile
        self._call = None

    def input_specs(self) -> list[TensorSpec]:
        return self._input_specs

    def _activate(self) -> None:
        import torch

        self.module.to(self.device).eval()
        self._call = torch.compile(self.module) if self.compile else self.module

    def forward(self, *args):
        """The module on device tensors, under inference mode (and autocast with ``amp``); raw outputs."""
        import torch

        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            out = self._call(*args)
        if not isinstance(out, dict):
            out = dict(zip(self.output_names, out if isinstance(out, (tuple, list)) else (out,)))
        return out

    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        args = [torch.from_numpy(np.ascontiguousarray(feed_dict[s.name])).to(self.device) for s in self._input_specs]
        return {k: v.detach().float().cpu().numpy() for k, v in self.forward(*args).items()}

    def _deactivate(self) -> None:
        self._call = None


def open_torch(source, *, input_specs: list[TensorSpec] | None = None, output_names: list[str] | None = None,
               device: str = "cpu", amp: bool = False, compile: bool = False, threads: int | None = None,
               input_format: str = "float-nchw", **model_options) -> TorchRunner:
    """The torch backend's opener: a module (with its ``input_specs``), or a variant name built with
    ``model_options`` (:func:`zoe_export.load_model`'s keywords) and run as the export runs it (in
    ``input_format``, any batch)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise ZoeExportError(f"{option('--device', 'device=')} cuda: this torch build sees no CUDA GPU. Install a "
                             f"CUDA build of torch, or use device cpu.")
    card = None
    if isinstance(source, str):
        from ..export import ExportWrapper
        from ..export.onnx_export import model_card
        from ..models import load_model

        source = ExportWrapper(load_model(source, **model_options), input_format)
        card = model_card(source.model, input_format, batch=None)  # what an export of it would say it takes
        input_specs = [TensorSpec(source.input_name, np.dtype(np.uint8 if input_format == "uint8-nhwc" else np.float32),
                                  card.input_shape)]
    elif model_options:
        raise ZoeExportError(f"model options ({', '.join(model_options)}) apply to a variant name, not a module.")
    if input_specs is None:
        raise ZoeExportError("a module needs input_specs=[TensorSpec(...)] to run as a runner.")
    return TorchRunner(source, input_specs, output_names or getattr(source, "output_names", None), device=device,
                       amp=amp, compile=compile, card=card)

