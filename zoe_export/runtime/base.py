"""One runner interface for every backend (as Polygraphy's): activate, infer, deactivate.

    with OnnxrtRunner("zoed_m12_n.onnx") as runner:
        outputs = runner.infer({"image": batch})        # {"metric_depth": ..., ...} numpy arrays

Backends implement ``_activate``, ``_infer``, ``_deactivate`` and ``input_specs``; the base class
checks inputs (names, dtypes, shapes, with symbolic dimensions free) before every call.
"""
from __future__ import annotations

import abc

import numpy as np

from ..errors import ZoeExportError
from ..tensors import TensorSpec


class Runner(abc.ABC):
    name = "runner"

    def __init__(self) -> None:
        self.is_active = False

    # -- lifecycle -------------------------------------------------------------------------------
    def activate(self) -> "Runner":
        if not self.is_active:
            self._activate()
            self.is_active = True
        return self

    def deactivate(self) -> None:
        if self.is_active:
            self._deactivate()
            self.is_active = False

    def __enter__(self) -> "Runner":
        return self.activate()

    def __exit__(self, *exc) -> None:
        self.deactivate()

    # -- inference ---------------------------------------------------------------------------------
    def infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.is_active:
            raise ZoeExportError(f"{self.name} is not active: use it as a context manager or call activate() first.")
        self.check_inputs(feed_dict)
        return self._infer(feed_dict)

    def check_inputs(self, feed_dict: dict[str, np.ndarray]) -> None:
        specs = {s.name: s for s in self.input_specs()}
        missing = sorted(set(specs) - set(feed_dict))
        extra = sorted(set(feed_dict) - set(specs))
        if missing or extra:
            raise ZoeExportError(f"{self.name} takes inputs {sorted(specs)}; got {sorted(feed_dict)}.")
        for name, spec in specs.items():
            array = feed_dict[name]
            if np.dtype(array.dtype) != spec.dtype:
                raise ZoeExportError(f"{self.name}: input {name!r} must be {spec.dtype}, got {array.dtype}.")
            if not spec.accepts(array.shape):
                raise ZoeExportError(f"{self.name}: input {name!r} must have shape {spec.shape_text()}, "
                                     f"got {list(array.shape)}.")

    @abc.abstractmethod
    def input_specs(self) -> list[TensorSpec]: ...

    @abc.abstractmethod
    def _activate(self) -> None: ...

    @abc.abstractmethod
    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def _deactivate(self) -> None:
        pass
