"""Small, shared views of an ONNX graph: element types, consumers, and where each node came from.

Every node the exporter writes carries the PyTorch module it came from (``name_scopes`` metadata,
e.g. ``model.core.core.pretrained.model.blocks.3.attn``). Precision decisions (FP16 islands, INT8
exclusions, layer groups) are made on that module path, so they read like the model's code and
survive renumbered node names. Nodes added later (Casts, Q/DQ) have no module path: ``""``.
"""
from __future__ import annotations

import ast
import fnmatch
from collections import defaultdict
from collections.abc import Iterable

import onnx
from onnx import TensorProto

FLOAT, FLOAT16 = TensorProto.FLOAT, TensorProto.FLOAT16
_SCOPES_KEY = "pkg.torch.onnx.name_scopes"


def node_scope(node: onnx.NodeProto) -> str:
    """The PyTorch module path a node was traced from (``""`` when it has none)."""
    for prop in node.metadata_props:
        if prop.key == _SCOPES_KEY:
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return ""
            return scopes[-2] if len(scopes) >= 2 else ""
    return ""


def node_path(node: onnx.NodeProto) -> str:
    """``<module path>/<node name>``: what user patterns (``--keep-precision``) are matched against."""
    return f"{node_scope(node)}/{node.name}"


def matches_any(text: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(text, p) for p in patterns)


def tensor_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every named tensor the graph declares (inputs, outputs, value_info, weights)."""
    graph = model.graph
    types = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        if value.type.HasField("tensor_type"):
            types[value.name] = value.type.tensor_type.elem_type
    for init in graph.initializer:
        types[init.name] = init.data_type
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    types[node.output[0]] = attr.t.data_type
    return types


def consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    """Tensor name -> the (node, input index) pairs that read it."""
    uses: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name:
                uses[name].append((node, index))
    return uses


def check_unique_names(graph: onnx.GraphProto) -> None:
    names = [n.name for n in graph.node]
    if len(set(names)) != len(names) or "" in names:
        raise ValueError("every node needs a unique, non-empty name for precision plans (re-export the graph)")


def set_elem_type(graph: onnx.GraphProto, names: set[str], elem_type: int) -> None:
    """Rewrite the declared element type of the given tensors (value_info and graph outputs)."""
    for value in (*graph.value_info, *graph.output):
        if value.name in names and value.type.HasField("tensor_type"):
            value.type.tensor_type.elem_type = elem_type


def save_model(model: onnx.ModelProto, path) -> None:
    """Save a graph, with its weights in ``<name>.data`` beside it when it exceeds protobuf's limit."""
    from pathlib import Path

    from ..export.metadata import PROTOBUF_LIMIT

    path = Path(path)
    external = model.ByteSize() > PROTOBUF_LIMIT
    onnx.save(model, str(path), save_as_external_data=external, location=path.name + ".data" if external else None)


def cast_node(source: str, target: str, to: int) -> onnx.NodeProto:
    return onnx.helper.make_node("Cast", [source], [target], name=f"{target}/Cast", to=to)
