"""What the build needs to know about an ONNX graph, read without its weights."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx

from ..errors import ZoeExportError
from ..export.metadata import load_onnx

PRECISIONS = ("fp32", "fp16", "int8")
_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
           onnx.TensorProto.UINT8: "uint8", onnx.TensorProto.INT64: "int64", onnx.TensorProto.INT32: "int32"}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int | None, ...]  # None: dynamic

    @property
    def dynamic(self) -> bool:
        return any(d is None for d in self.shape)

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": ["N" if d is None else d for d in self.shape]}


@dataclass(frozen=True)
class GraphInfo:
    path: Path
    metadata: dict[str, str]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @classmethod
    def read(cls, path: str | Path) -> "GraphInfo":
        path = Path(path)
        if path.suffix != ".onnx":
            raise ZoeExportError(f"--onnx {path}: expected an .onnx file from zoe-export onnx.")
        model = load_onnx(path, load_external_data=False)
        metadata = {p.key: p.value for p in model.metadata_props}
        initializers = {i.name for i in model.graph.initializer}
        inputs = tuple(_tensor(v) for v in model.graph.input if v.name not in initializers)
        info = cls(path, metadata, inputs, tuple(_tensor(v) for v in model.graph.output))
        if info.precision not in PRECISIONS:
            raise ZoeExportError(f"{path} has precision {info.precision!r} in its metadata; expected one of "
                                 f"{', '.join(PRECISIONS)}. Export it again with zoe-export onnx.")
        return info

    @property
    def precision(self) -> str:
        return self.metadata.get("precision", "fp32")

    @property
    def from_zoe_export(self) -> bool:
        return "variant" in self.metadata


def _tensor(value: onnx.ValueInfoProto) -> TensorInfo:
    kind = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim)
    return TensorInfo(value.name, _DTYPES.get(kind.elem_type, onnx.TensorProto.DataType.Name(kind.elem_type).lower()), dims)
