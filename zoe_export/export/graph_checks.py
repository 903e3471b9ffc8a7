"""Is an ONNX graph one TensorRT's ONNX parser accepts? Op types, attributes, constant inputs.

The op list follows the onnx-tensorrt operator support matrix for TensorRT 10 (opsets 9-20),
restricted to the default ONNX domain. ``tensorrt_problems`` returns every problem with the node's
name; :func:`check_tensorrt_support` turns them into one error.
"""
from __future__ import annotations

import collections
import onnx_ir as ir

from ..errors import ZoeExportError

TENSORRT_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast
Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum
DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor
Gather GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater
GreaterOrEqual GridSample GroupNormalization GRU HardSigmoid HardSwish Identity If ImageScaler
InstanceNormalization IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax
Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean MeanVarianceNormalization Min
Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad ParametricSoftplus Pow PRelu
QuantizeLinear RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal
ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum
ReduceSumSquare Relu Reshape Resize ReverseSequence RNN RoiAlign Round ScaledTanh Scan Scatter
ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus
Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose
Trilu Unsqueeze Upsample Where Xor
""".split())

RESIZE_MODES = frozenset({"nearest", "linear", "cubic"})
RESIZE_COORDINATES = frozenset({"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"})

#: inputs the parser needs as initializers or constants: op type -> input positions
CONSTANT_INPUTS = {"TopK": (1,), "CumSum": (1,), "Slice": (3,), "Squeeze": (1,), "Unsqueeze": (1,)}


def _is_constant(value: ir.Value | None) -> bool:
    if value is None:
        return True
    if value.const_value is not None:
        return True
    producer = value.producer()
    return producer is not None and producer.op_type == "Constant"


def _string_attr(node: ir.Node, name: str, default: str) -> str:
    attr = node.attributes.get(name)
    return attr.value if attr is not None else default


def tensorrt_problems(model: ir.Model) -> list[str]:
    """Every node TensorRT's parser would reject, as 'node_name (OpType): reason'."""
    problems = []
    for node in model.graph.all_nodes():
        where = f"{node.name or '<unnamed>'} ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            problems.append(f"{where}: custom domain {node.domain!r} needs a TensorRT plugin")
            continue
        if node.op_type not in TENSORRT_OPS:
            problems.append(f"{where}: op type not supported by TensorRT's ONNX parser")
            continue
        if node.op_type == "Resize":
            mode = _string_attr(node, "mode", "nearest")
            coordinates = _string_attr(node, "coordinate_transformation_mode", "half_pixel")
            if mode not in RESIZE_MODES:
                problems.append(f"{where}: mode {mode!r} unsupported")
            if coordinates not in RESIZE_COORDINATES:
                problems.append(f"{where}: coordinate_transformation_mode {coordinates!r} unsupported")
        for position in CONSTANT_INPUTS.get(node.op_type, ()):
            if position < len(node.inputs) and not _is_constant(node.inputs[position]):
                problems.append(f"{where}: input {position} must be an initializer or constant for TensorRT")
    return problems


def check_tensorrt_support(model: ir.Model, source: str = "the exported graph") -> None:
    problems = tensorrt_problems(model)
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ZoeExportError(f"{source} has {len(problems)} node(s) TensorRT's ONNX parser rejects:\n  {shown}")


def bias_gathers(model: ir.Model) -> int:
    """Gathers that read a relative-position table (one per BEiT block when nothing was folded)."""
    return sum(
        1 for node in model.graph.all_nodes()
        if node.op_type == "Gather" and node.inputs and node.inputs[0] is not None
        and (node.inputs[0].name or "").endswith("grid_bias_table")
    )


#: ops that only rearrange a constant (slicing, viewing, transposing the trained table before its resize)
_REARRANGING = frozenset({"Slice", "Reshape", "Transpose", "Unsqueeze", "Squeeze", "Identity", "Cast", "Split"})


def _from_constant(value: ir.Value | None) -> bool:
    """Whether ``value`` is a constant, or a rearrangement of constants only."""
    while value is not None and not _is_constant(value):
        producer = value.producer()
        if producer is None or producer.op_type not in _REARRANGING:
            return False
        if not all(_from_constant(v) for v in producer.inputs[1:]):
            return False
        value = producer.inputs[0]
    return True


def relative_position_tables(model: ir.Model) -> int:
    """Trained relative-position tables the graph resamples itself (one per block in a dynamic-size graph).

    They are the only constants a ZoeDepth graph resizes: every other Resize acts on activations.
    """
    return sum(1 for node in model.graph.all_nodes()
               if node.op_type == "Resize" and node.inputs and node.inputs[0] is not None
               and _from_constant(node.inputs[0]))


def graph_summary(model: ir.Model) -> dict:
    ops = collections.Counter(node.op_type for node in model.graph.all_nodes())
    weights = sum(v.const_value.nbytes for v in model.graph.initializers.values() if v.const_value is not None)
    largest = max((v.const_value.nbytes for v in model.graph.initializers.values() if v.const_value is not None), default=0)
    return {
        "opset": model.opset_imports.get("", None),
        "nodes": sum(ops.values()),
        "op_types": dict(sorted(ops.items())),
        "initializers": len(model.graph.initializers),
        "initializer_bytes": int(weights),
        "largest_initializer_bytes": int(largest),
        "relative_position_gathers": bias_gathers(model),
        "relative_position_tables": relative_position_tables(model),
    }
