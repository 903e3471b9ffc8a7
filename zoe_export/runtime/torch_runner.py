"""The PyTorch backend: any module mapping the input tensors to a dict (or tuple) of outputs."""
from __future__ import annotations

import numpy as np

from .base import Runner, TensorSpec


class TorchRunner(Runner):
    """Runs a module under ``torch.inference_mode``; outputs come back as numpy arrays.

    ``input_specs`` describe what the module takes; ``output_names`` name tuple outputs.
    """

    name = "torch"

    def __init__(self, module, input_specs: list[TensorSpec], output_names: list[str] | None = None, device: str = "cpu"):
        super().__init__()
        self.module, self._input_specs, self.output_names, self.device = module, input_specs, output_names, device

    def input_specs(self) -> list[TensorSpec]:
        return self._input_specs

    def _activate(self) -> None:
        self.module.to(self.device).eval()

    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        args = [torch.from_numpy(np.ascontiguousarray(feed_dict[s.name])).to(self.device) for s in self._input_specs]
        with torch.inference_mode():
            out = self.module(*args)
        if not isinstance(out, dict):
            out = dict(zip(self.output_names, out if isinstance(out, (tuple, list)) else (out,)))
        return {k: v.detach().float().cpu().numpy() for k, v in out.items()}
