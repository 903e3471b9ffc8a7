"""Where FP16 breaks ZoeDepth: the FP32 islands of an FP16 graph, as data.

Each island names op types and/or module-path patterns (fnmatch on the PyTorch module a node came
from, see :func:`~zoe_export.precision.graph.node_scope`) and says why it must stay FP32. The list
is reported in every FP16 manifest; pass your own tuple to :func:`plan_fp16` to change it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import onnx

from .graph import matches_any, node_scope


@dataclass(frozen=True)
class Island:
    name: str
    reason: str
    op_types: tuple[str, ...] = ()  # empty: any op type
    scopes: tuple[str, ...] = ("*",)  # module-path patterns; "" (no module) only matches "*"
    exclude_scopes: tuple[str, ...] = ()

    def matches(self, node: onnx.NodeProto) -> bool:
        if self.op_types and node.op_type not in self.op_types:
            return False
        scope = node_scope(node)
        return matches_any(scope, self.scopes) and not matches_any(scope, self.exclude_scopes)

    def describe(self) -> dict:
        return asdict(self)


FP16_ISLANDS: tuple[Island, ...] = (
    Island("layer_norm", "mean and variance of BEiT-L's residual stream leave FP16's range and precision",
           op_types=("LayerNormalization",)),
    Island("attention_softmax", "softmax of the attention scores (exp of large logits, sums of 769 terms)",
           op_types=("Softmax",), scopes=("*.blocks.*.attn", "*.self_attn")),
    Island("attractors", "the attractor arithmetic: 300*dx^2, squared, overflows FP16 (65504) for dx > 0.9 m",
           scopes=("*.attractors.*",), exclude_scopes=("*._net.*",)),
    Island("conditional_log_binomial", "log-binomial logits reach ~2.7e4 (FP16 step 16) before their softmax",
           scopes=("*.conditional_log_binomial", "*.conditional_log_binomial.*")),
    Island("metric_depth_sum", "the final probability-weighted sum of bin centres, and the NK routing",
           scopes=("model",)),
)


def find_island(node: onnx.NodeProto, islands: tuple[Island, ...]) -> Island | None:
    return next((island for island in islands if island.matches(node)), None)
