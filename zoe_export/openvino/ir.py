"""The model card inside an OpenVINO IR (its runtime info), and the card of any file the backend opens.

``zoe-export openvino`` writes the card as JSON under the IR's runtime info key ``zoe_export/card``
(``<rt_info><zoe_export><card value="..."/></zoe_export></rt_info>`` in the ``.xml``). It is read
back from the XML alone: no OpenVINO, no weights. An IR without it (converted elsewhere), or with a
card of a newer version, is refused with the command that makes a good one.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .._files import existing_file
from ..card import ModelCard
from ..errors import ZoeExportError

#: where the card lives in the IR's runtime info
RT_INFO_KEY = ("zoe_export", "card")
_REMAKE = "convert the ONNX graph again: zoe-export openvino --onnx M.onnx"


def ir_path(path: str | Path) -> tuple[Path, Path]:
    """(the .xml, the .bin beside it)."""
    path = Path(path)
    return path, path.with_suffix(".bin")


def write_ir_card(model, card: ModelCard) -> None:
    """Put ``card`` in an ``openvino.Model``'s runtime info (saved with the IR)."""
    model.set_rt_info(json.dumps(card.to_dict(), sort_keys=True), list(RT_INFO_KEY))


def read_ir_card(path: str | Path) -> ModelCard:
    """The card in an IR's ``.xml`` (read without OpenVINO and without the weights)."""
    path = existing_file(path, "OpenVINO IR", f"{_REMAKE}.")
    text, stack = None, []
    try:
        for event, element in ET.iterparse(str(path), events=("start", "end")):
            if event == "start":
                stack.append(element.tag)
                if text is None and stack[-3:] == ["rt_info", *RT_INFO_KEY]:
                    text = element.get("value")
            else:
                stack.pop()
                element.clear()  # the topology of BEiT-L is megabytes: keep none of it
    except (ET.ParseError, OSError) as exc:
        raise ZoeExportError(f"{path} is not a readable OpenVINO IR ({exc}); {_REMAKE}.") from exc
    if text is None:
        raise ZoeExportError(f"{path} has no zoe-export model card in its runtime info (an IR converted elsewhere, "
                             f"or with another tool): {_REMAKE}.")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ZoeExportError(f"{path}: its model card is not readable JSON ({exc}); {_REMAKE}.") from exc
    return ModelCard.from_dict(data, str(path), _REMAKE)


def read_card(path: str | Path) -> ModelCard:
    """The card of a file the OpenVINO backend opens: an IR's runtime info, an ONNX graph's metadata."""
    if Path(path).suffix.lower() == ".onnx":
        from ..export.metadata import read_card as read_onnx_card

        return read_onnx_card(path)
    return read_ir_card(path)
