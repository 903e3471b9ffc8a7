"""What the build needs to know about an ONNX graph: its card, inputs, outputs and sha256, from one read.

The file is read once (not its external data) and hashed from the same bytes, so a 1.4 GB graph is
neither loaded nor hashed twice by one command; later steps take the :class:`GraphInfo`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from ..card import ModelCard
from ..errors import ZoeExportError, option
from ..export.metadata import card_of, load_onnx_hashed
from ..registry import list_precisions
from ..tensors import TensorSpec

_DTYPES = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16, onnx.TensorProto.UINT8: np.uint8,
           onnx.TensorProto.INT64: np.int64, onnx.TensorProto.INT32: np.int32}


@dataclass(frozen=True)
class GraphInfo:
    path: Path
    card: ModelCard
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    sha256: str

    @classmethod
    def read(cls, path: str | Path) -> "GraphInfo":
        path = Path(path)
        if path.suffix != ".onnx":
            raise ZoeExportError(f"{option('--onnx', 'onnx=')} {path}: expected an .onnx file from zoe-export onnx.")
        model, sha256 = load_onnx_hashed(path)
        card = card_of(model, str(path))
        if card.precision not in list_precisions():
            raise ZoeExportError(f"{path} has precision {card.precision!r} in its card; expected one of "
                                 f"{', '.join(list_precisions())}. Export it again with zoe-export onnx.")
        initializers = {i.name for i in model.graph.initializer}
        inputs = tuple(_tensor(v) for v in model.graph.input if v.name not in initializers)
        return cls(path, card, inputs, tuple(_tensor(v) for v in model.graph.output), sha256)

    @property
    def precision(self) -> str:
        return self.card.precision


def _tensor(value: onnx.ValueInfoProto) -> TensorSpec:
    kind = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim)
    dtype = _DTYPES.get(kind.elem_type)
    if dtype is None:
        raise ZoeExportError(f"tensor {value.name}: {onnx.TensorProto.DataType.Name(kind.elem_type)} is not a type "
                             "zoe-export engines take; export the graph with zoe-export onnx.")
    return TensorSpec(value.name, np.dtype(dtype), dims)
