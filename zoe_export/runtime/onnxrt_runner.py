"""The ONNX Runtime backend (CPU by default)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._files import existing_file
from .._lazy import INSTALL, require
from ..errors import ZoeExportError
from ..tensors import TensorSpec
from .base import Runner

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def import_onnxruntime(instead: str | None = None):
    """The onnxruntime module, or an error naming the install; ``instead``: the caller's way around it
    (e.g. "pass --no-verify to skip the ONNX Runtime check"), added to the message."""
    return require("onnxruntime", "ONNX Runtime", INSTALL["onnxruntime"], instead)


class OnnxrtRunner(Runner):
    """ONNX Runtime session over an ONNX file (single file or with external data beside it).

    ``graph_optimization`` is ONNX Runtime's level ("all" as users run it, "disabled" to run the
    graph exactly as written, which FP16 emulation needs). The memory arena is off by default:
    verification runs a few large calls, where the arena only raises the peak.

    ``card``: the graph's model card; by default read from the session's metadata when it activates (no
    second read of the file). With it, a dynamic-size graph's feeds are checked against the card's size
    range, and a frame graph's frames against its frame size and range, before ``session.run``; a graph
    without a card is checked against its input specs only.
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, providers: list[str] | None = None, graph_optimization: str = "all",
                 threads: int | None = None, memory_arena: bool = False, profile_prefix: str | None = None,
                 card=None):
        super().__init__()
        self.path = Path(path)
        self.card, self._card_given = card, card is not None
        self.providers = providers or ["CPUExecutionProvider"]
        self.graph_optimization, self.threads, self.memory_arena = graph_optimization, threads, memory_arena
        self.profile_prefix = profile_prefix  # ONNX Runtime's per-op profile, written when deactivated
        self.profile_file: str | None = None
        self.session = None

    def _activate(self) -> None:
        ort = import_onnxruntime()
        existing_file(self.path, "ONNX file", "pass an .onnx file from zoe-export onnx.")
        options = ort.SessionOptions()
        options.graph_optimization_level = {
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        }[self.graph_optimization]
        options.enable_cpu_mem_arena = self.memory_arena
        # ONNX Runtime's default order runs every node whose inputs are ready first: each block's gathered
        # position bias (1 GB at 768x1344) would be made at the start and held (24 GB, OOM); this order follows the graph
        options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
        if self.threads:
            options.intra_op_num_threads = self.threads
        if self.profile_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = self.profile_prefix
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=self.providers)
        except Exception as exc:  # ORT raises its own exception types for unreadable models
            raise ZoeExportError(f"ONNX Runtime cannot load {self.path}: {exc}") from exc
        if not self._card_given:
            self.card = self._session_card()

    def _session_card(self):
        """The card in the graph's metadata_props, as ONNX Runtime read them; None for a graph without one."""
        from ..card import ModelCard

        try:
            return ModelCard.from_metadata(self.session.get_modelmeta().custom_metadata_map, str(self.path))
        except ZoeExportError:
            return None

    def input_specs(self) -> list[TensorSpec]:
        return [
            TensorSpec(i.name, np.dtype(_ORT_TYPES.get(i.type, np.float32)),
                       tuple(d if isinstance(d, int) else None for d in i.shape))
            for i in self.session.get_inputs()
        ]

    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(names, feed_dict)))

    def _deactivate(self) -> None:
        if self.profile_prefix and self.session is not None:
            self.profile_file = self.session.end_profiling()
        self.session = None
        if not self._card_given:
            self.card = None
