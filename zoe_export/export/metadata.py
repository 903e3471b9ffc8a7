"""Provenance in the ONNX file (``metadata_props``) and reading exported files back."""
from __future__ import annotations

from pathlib import Path

import onnx

from .._files import existing_file
from ..errors import ZoeExportError

#: protobuf's hard limit is 2 GiB; bigger graphs keep their weights in a .data file beside them
PROTOBUF_LIMIT = 2 * 1024**3 - 64 * 1024**2

def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (without reading its weights)."""
    model = load_onnx(path, load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def load_onnx(path: str | Path, load_external_data: bool = True) -> onnx.ModelProto:
    """Load an ONNX file, single-file or with its weights in external data beside it."""
    path = existing_file(path, "ONNX file", "pass an .onnx file from zoe-export onnx.")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for damaged files
        raise ZoeExportError(f"{path} is not a readable ONNX file ({exc}). Export it again.") from exc
    if load_external_data:
        missing = sorted(set(_external_files(model)) - {p.name for p in path.parent.iterdir()})
        if missing:
            raise ZoeExportError(
                f"{path} keeps its weights in external data that is missing: {', '.join(missing)}. "
                f"Copy the file(s) written beside it into {path.parent}."
            )
        onnx.load_external_data_for_model(model, str(path.parent))
    return model


def _external_files(model: onnx.ModelProto) -> list[str]:
    return [
        entry.value
        for tensor in model.graph.initializer
        if tensor.data_location == onnx.TensorProto.EXTERNAL
        for entry in tensor.external_data
        if entry.key == "location"
    ]
