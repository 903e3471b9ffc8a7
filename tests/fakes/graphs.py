"""Tiny ONNX graphs standing in for zoe-export's dynamic-size exports (``--dynamic-size``, ``--io frame``).

Made with ``onnx.helper`` in milliseconds, each with the model card such an export carries in its
``metadata_props``: the inputs and outputs have the names, types and (symbolic) shapes of the real
export, and the graph computes a channel mean, enough for the build plan, the manifest and the CLI
(TensorRT never parses them on machines without it).

    path = dynamic_graph(tmp_path / "n_dyn.onnx", io="model", batch=None)   # image [N, 3, h, w]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from zoe_export.card import ModelCard, Weights
from zoe_export.sizes import SizeRange

#: the size range of the model-io graphs made here (the test variants' native size is 64x96)
SIZE_RANGE = SizeRange((32, 32), (128, 192))


def dynamic_card(io: str = "model", batch: int | None = 1, input_format: str = "float-nchw",
                 size_range: SizeRange | None = SIZE_RANGE, frame_size=None) -> ModelCard:
    """The card of a test-N export at 64x96 that takes other sizes: model sizes in ``size_range``, or frames."""
    frame = io == "frame"
    return ModelCard(variant="test-N", head="N", height=64, width=96, io=io,
                     input_name="frame" if frame else "image", input_format="uint8-nhwc" if frame else input_format,
                     size_range=None if frame else size_range, frame_size=frame_size, batch=batch,
                     weights=Weights("random", seed=0), opset=18)


def dynamic_graph(path: str | Path, io: str = "model", batch: int | None = 1, input_format: str = "float-nchw",
                  size_range: SizeRange | None = SIZE_RANGE, fixed_size: tuple[int, int] | None = None,
                  card: ModelCard | None = None) -> Path:
    """An ONNX file whose input's height and width are symbolic (or ``fixed_size``), with its model card.

    ``io="model"``: ``image`` float32 [B, 3, h, w] (uint8 [B, h, w, 3] with ``input_format="uint8-nhwc"``) ->
    ``metric_depth`` [B, 1, h, w]; ``io="frame"``: ``frame`` uint8 [B, H, W, 3] -> ``metric_depth`` [B, H, W].
    ``batch=None``: a symbolic batch."""
    card = card or dynamic_card(io, batch, input_format, size_range,
                                frame_size=fixed_size if io == "frame" else None)
    b = "N" if batch is None else batch
    h, w = fixed_size or (("H", "W") if io == "frame" else ("h", "w"))
    nhwc = card.input_format == "uint8-nhwc"
    image_shape = [b, h, w, 3] if nhwc else [b, 3, h, w]
    image = helper.make_tensor_value_info(card.input_name, TensorProto.UINT8 if nhwc else TensorProto.FLOAT,
                                          image_shape)
    depth = helper.make_tensor_value_info("metric_depth", TensorProto.FLOAT,
                                          [b, h, w] if io == "frame" else [b, 1, h, w])
    axes = numpy_helper.from_array(np.array([3 if nhwc else 1], np.int64), "axes")
    nodes = [helper.make_node("Cast", [card.input_name], ["x"], to=TensorProto.FLOAT, name="/cast"),
             helper.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=int(io != "frame"), name="/mean")]
    if nhwc and io != "frame":  # [B, h, w, 1] -> [B, 1, h, w]
        nodes.append(helper.make_node("Transpose", ["mean"], ["metric_depth"], perm=[0, 3, 1, 2], name="/nchw"))
    else:
        nodes.append(helper.make_node("Identity", ["mean"], ["metric_depth"], name="/out"))
    graph = helper.make_graph(nodes, "zoe", [image], [depth], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    for key, value in card.to_metadata().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    path = Path(path)
    onnx.save(model, path)
    return path
