"""The one tensor descriptor: a name, a numpy dtype and a shape where ``None`` is a free dimension.

Every stage describes inputs and outputs with :class:`TensorSpec`: runners check feeds against it,
the model card and the engine manifest store it, the build plan's profiles range over it.
TensorRT's ``-1`` and ONNX's symbolic dimensions become ``None`` where they are read; JSON spells
a free dimension ``"N"``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: how a free dimension is written in JSON (manifests) and in ONNX metadata
FREE = "N"


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: np.dtype
    #: None for a dimension the backend accepts at any size (e.g. a dynamic batch)
    shape: tuple[int | None, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        object.__setattr__(self, "shape", tuple(None if d is None or d == FREE or d < 0 else int(d) for d in self.shape))

    @property
    def dynamic(self) -> bool:
        return any(d is None for d in self.shape)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Whether an array of ``shape`` fits (free dimensions take any size)."""
        return len(shape) == len(self.shape) and all(d is None or d == s for d, s in zip(self.shape, shape))

    def shape_text(self) -> list:
        return [FREE if d is None else d for d in self.shape]

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype.name, "shape": self.shape_text()}

    @classmethod
    def from_dict(cls, data: dict) -> "TensorSpec":
        return cls(data["name"], np.dtype(data["dtype"]), tuple(data["shape"]))
