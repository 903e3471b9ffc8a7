"""Reading exported ONNX files back: the graph (with or without its weights) and its model card."""
from __future__ import annotations

import hashlib
from pathlib import Path

import onnx

from .._files import existing_file
from ..card import ModelCard
from ..errors import ZoeExportError

#: protobuf's hard limit is 2 GiB; bigger graphs keep their weights in a .data file beside them
PROTOBUF_LIMIT = 2 * 1024**3 - 64 * 1024**2

def read_card(path: str | Path) -> ModelCard:
    """The model card of an ONNX file from zoe-export (read without its weights)."""
    return card_of(load_onnx(path, load_external_data=False), str(path))


def card_of(model: onnx.ModelProto, where: str) -> ModelCard:
    """The model card in a loaded graph's ``metadata_props``."""
    return ModelCard.from_metadata({p.key: p.value for p in model.metadata_props}, where)


def write_card(model: onnx.ModelProto, card: ModelCard) -> None:
    """Replace the graph's ``metadata_props`` with ``card``."""
    del model.metadata_props[:]
    for key, value in card.to_metadata().items():
        model.metadata_props.add(key=key, value=value)


def load_onnx_hashed(path: str | Path) -> tuple[onnx.ModelProto, str]:
    """The graph (without external data) and the file's sha256, from one read of the file."""
    path = existing_file(path, "ONNX file", "pass an .onnx file from zoe-export onnx.")
    data = path.read_bytes()
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and others for damaged files
        raise ZoeExportError(f"{path} is not a readable ONNX file ({exc}). Export it again.") from exc
    return model, hashlib.sha256(data).hexdigest()


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
