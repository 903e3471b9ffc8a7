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


def _symbols(values: Iterable[onnx.ValueInfoProto]) -> set[str]:
    return {d.dim_param for v in values for d in v.type.tensor_type.shape.dim if d.dim_param}


def restore_shapes(model: onnx.ModelProto, source: onnx.ModelProto) -> int:
    """Declare ``model``'s tensor shapes as ``source`` (the graph it was converted from) declares them (in place).

    A converter that re-infers shapes may leave placeholders behind: ModelOpt replaces every
    concrete dimension with the symbol ``unk`` and re-infers; where inference cannot follow a
    dynamic-size graph (a Reshape to a computed shape), ``unk`` stays on tensors of different sizes,
    and ONNX Runtime, which takes one symbol for one size, reuses buffers of the wrong size. Tensors
    the source has get its shapes; new ones (casts) their input's; symbols the source never used
    become unknown dimensions; declarations of tensors no node writes any more go. Returns how many
    declarations changed.
    """
    graph = model.graph
    declared = {v.name: v for v in (*source.graph.input, *source.graph.value_info, *source.graph.output)
                if v.type.HasField("tensor_type")}
    symbols = _symbols(declared.values())
    produced = {name for node in graph.node for name in node.output}
    changed = 0
    kept = [v for v in graph.value_info if v.name in produced]
    changed += len(graph.value_info) - len(kept)
    del graph.value_info[:]
    graph.value_info.extend(kept)
    values = {v.name: v for v in (*graph.input, *graph.value_info, *graph.output) if v.type.HasField("tensor_type")}
    for node in graph.node:  # topological: a cast's input is settled before its output
        for name in node.output:
            value = values.get(name)
            if value is None:
                continue
            before = value.type.tensor_type.shape.SerializeToString()
            shape = value.type.tensor_type.shape
            if name in declared and declared[name].type.tensor_type.HasField("shape"):
                shape.CopyFrom(declared[name].type.tensor_type.shape)
            elif node.op_type == "Cast" and node.input[0] in values and \
                    values[node.input[0]].type.tensor_type.HasField("shape"):
                shape.CopyFrom(values[node.input[0]].type.tensor_type.shape)
            else:
                for dim in shape.dim:
                    if dim.dim_param and dim.dim_param not in symbols:
                        dim.Clear()  # unknown: ONNX Runtime plans it on its own
            changed += shape.SerializeToString() != before
    return changed


def save_model(model: onnx.ModelProto, path) -> None:
    """Save a graph, with its weights in ``<name>.data`` beside it when it exceeds protobuf's limit."""
    from pathlib import Path

    from ..export.metadata import PROTOBUF_LIMIT

    path = Path(path)
    external = model.ByteSize() > PROTOBUF_LIMIT
    onnx.save(model, str(path), save_as_external_data=external, location=path.name + ".data" if external else None)


def cast_node(source: str, target: str, to: int) -> onnx.NodeProto:
    return onnx.helper.make_node("Cast", [source], [target], name=f"{target}/Cast", to=to)
