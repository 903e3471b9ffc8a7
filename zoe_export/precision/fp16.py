"""FP16 graphs with FP32 islands, and their honest CPU emulation.

:func:`plan_fp16` decides, node by node, what runs in FP16 (everything that computes on floats,
except the islands). Two rewrites follow the same plan in one walk over the graph:

* :func:`convert_fp16`: the real FP16 graph. FP16 weights, Casts at island borders, FP32 inputs
  and outputs. This is what TensorRT builds (strongly typed).
* :func:`emulate_fp16`: the FP32 graph with a Cast-to-FP16-and-back round trip on every tensor
  that is FP16 in the real graph (node outputs, border casts, weights rounded to FP16 values).
  ONNX Runtime's CPU provider computes FP16 ops in FP32 and its optimiser drops cast pairs, so
  the real graph on a CPU never overflows; the emulation, run with graph optimisations off,
  shows FP16 storage rounding and overflow (inf) where the GPU would.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from .graph import FLOAT, FLOAT16, cast_node, check_unique_names, consumers, set_elem_type, tensor_types
from .islands import FP16_ISLANDS, Island, find_island

#: inputs that must stay float32 whatever the node's precision (Resize's roi and scales)
KEEP_FP32_INPUTS = {"Resize": (1, 2), "Upsample": (1,)}
#: ops that read only their input's shape: no cast needed in front of them
SHAPE_ONLY_OPS = {"Shape", "Size"}
#: ops whose float output type is fixed by an attribute; they stay FP32 (a cast follows)
FP32_ONLY_OPS = {"ConstantOfShape", "Range", "RandomNormal", "RandomUniform", "RandomNormalLike",
                 "RandomUniformLike", "EyeLike"}


@dataclass
class PrecisionPlan:
    """Which nodes run in FP16 and which stay FP32 (and why)."""

    fp16_nodes: set[str]
    fp32_nodes: dict[str, str]  # node name -> island (reason)
    islands: tuple[Island, ...] = field(default=FP16_ISLANDS)

    def summary(self) -> dict:
        per_island = Counter(self.fp32_nodes.values())
        return {
            "fp16_nodes": len(self.fp16_nodes),
            "fp32_nodes": len(self.fp32_nodes),
            "islands": [dict(island.describe(), nodes=per_island.get(island.name, 0)) for island in self.islands],
            "other_fp32": {k: v for k, v in per_island.items() if k not in {i.name for i in self.islands}},
        }


def _computes_on_floats(node: onnx.NodeProto, types: dict[str, int]) -> bool:
    return any(types.get(name) == FLOAT for name in (*node.input, *node.output) if name)


def plan_fp16(model: onnx.ModelProto, islands: tuple[Island, ...] = FP16_ISLANDS,
              fp32_nodes: dict[str, str] | None = None) -> PrecisionPlan:
    """Every float-computing node is FP16 unless an island (or ``fp32_nodes``) keeps it FP32."""
    check_unique_names(model.graph)
    types = tensor_types(model)
    keep = dict(fp32_nodes or {})
    fp16 = set()
    for node in model.graph.node:
        if node.name in keep or not _computes_on_floats(node, types):
            continue
        island = find_island(node, islands)
        if island is not None:
            keep[node.name] = island.name
        elif node.op_type in FP32_ONLY_OPS:
            keep[node.name] = f"{node.op_type} (output type fixed by an attribute)"
        else:
            fp16.add(node.name)
    return PrecisionPlan(fp16, keep, islands)


def convert_fp16(model: onnx.ModelProto, plan: PrecisionPlan) -> onnx.ModelProto:
    """The real FP16 graph (in place): FP16 weights and activations, FP32 islands, FP32 I/O."""
    return _rewrite(model, plan, emulate=False)


def emulate_fp16(model: onnx.ModelProto, plan: PrecisionPlan) -> onnx.ModelProto:
    """The FP32 graph with FP16 round trips wherever the real graph holds FP16 (in place)."""
    return _rewrite(model, plan, emulate=True)


class _Rewriter:
    """One walk over the graph in topological order, inserting casts (or round trips)."""

    def __init__(self, model: onnx.ModelProto, plan: PrecisionPlan, emulate: bool):
        self.model, self.graph, self.plan, self.emulate = model, model.graph, plan, emulate
        self.types = tensor_types(model)
        self.nodes: list[onnx.NodeProto] = []
        self.casts: dict[tuple[str, bool], str] = {}
        self.half: set[str] = set()  # tensors that hold FP16 values

    def wants_half(self, node: onnx.NodeProto, index: int) -> bool:
        return node.name in self.plan.fp16_nodes and index not in KEEP_FP32_INPUTS.get(node.op_type, ())

    def is_float(self, name: str) -> bool:
        return bool(name) and self.types.get(name) == FLOAT

    def convert_initializers(self) -> None:
        uses = consumers(self.graph)
        outputs = {o.name for o in self.graph.output}
        for init in self.graph.initializer:
            users = uses.get(init.name, [])
            if init.data_type != FLOAT or not users or init.name in outputs:
                continue
            if all(self.wants_half(node, index) for node, index in users):
                values = numpy_helper.to_array(init).astype(np.float16)
                init.CopyFrom(numpy_helper.from_array(values.astype(np.float32) if self.emulate else values, init.name))
                self.half.add(init.name)

    def cast(self, name: str, to_half: bool) -> str:
        """``name`` as the other precision: a shared Cast (real) or round trip (emulation)."""
        key = (name, to_half)
        if key not in self.casts:
            if self.emulate and not to_half:
                self.casts[key] = name  # FP16 values are exact in FP32
            elif self.emulate:
                self.casts[key] = self.round_trip(name, f"{name}/fp16_round")
            else:
                target = f"{name}/to_{'fp16' if to_half else 'fp32'}"
                self.nodes.append(cast_node(name, target, FLOAT16 if to_half else FLOAT))
                self.casts[key] = target
        return self.casts[key]

    def round_trip(self, source: str, target: str) -> str:
        self.nodes.append(cast_node(source, f"{target}/half", FLOAT16))
        self.nodes.append(cast_node(f"{target}/half", target, FLOAT))
        return target

    def fix_inputs(self, node: onnx.NodeProto) -> None:
        if node.op_type in SHAPE_ONLY_OPS:
            return
        for index, name in enumerate(node.input):
            if self.is_float(name):
                want = self.wants_half(node, index)
                if want != (name in self.half):
                    node.input[index] = self.cast(name, want)

    def make_outputs_half(self, node: onnx.NodeProto) -> list[onnx.NodeProto]:
        """Mark an FP16 node's float outputs as FP16; returns nodes to place right after it."""
        after: list[onnx.NodeProto] = []
        if not self.emulate:
            for attr in node.attribute:
                if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                    attr.i = FLOAT16
                if node.op_type == "Constant" and attr.name == "value" and attr.t.data_type == FLOAT:
                    attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16)))
        for index, name in enumerate(node.output):
            if not self.is_float(name):
                continue
            self.half.add(name)
            if self.emulate:  # the node writes name/fp32; the rounded value keeps the old name
                node.output[index] = f"{name}/fp32"
                after += [cast_node(f"{name}/fp32", f"{name}/half", FLOAT16), cast_node(f"{name}/half", name, FLOAT)]
        return after

    def run(self) -> onnx.ModelProto:
        self.convert_initializers()
        for node in list(self.graph.node):
            self.fix_inputs(node)
            self.nodes.append(node)
            if node.name in self.plan.fp16_nodes:
                self.nodes += self.make_outputs_half(node)
        if not self.emulate:
            self.outputs_to_float()
            set_elem_type(self.graph, self.half, FLOAT16)
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)
        return self.model

    def outputs_to_float(self) -> None:
        """Graph outputs produced in FP16 are renamed inside the graph and cast back under their name."""
        for output in self.graph.output:
            if output.name not in self.half:
                continue
            inner = f"{output.name}/fp16"
            for node in self.nodes:
                node.output[:] = [inner if o == output.name else o for o in node.output]
                node.input[:] = [inner if i == output.name else i for i in node.input]
            self.half.discard(output.name)
            self.half.add(inner)
            self.nodes.append(cast_node(inner, output.name, FLOAT))


def _rewrite(model: onnx.ModelProto, plan: PrecisionPlan, emulate: bool) -> onnx.ModelProto:
    return _Rewriter(model, plan, emulate).run()
