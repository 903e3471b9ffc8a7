"""INT8 Q/DQ graphs: streaming calibration, what stays in high precision, layer groups.

The quantizer is ONNX Runtime's QDQ quantizer (symmetric INT8, per-channel weights, as TensorRT
wants them), fed with activation ranges from :func:`calibrate`, which runs the calibration set
one sample at a time and keeps only running statistics (a min/max pair or a histogram per
tensor), so memory does not grow with the number of samples.

What stays out of INT8 is data (:data:`DEFAULT_KEEP`): BEiT's attention core, the patch
embedding and the metric head. Users replace it with fnmatch patterns on ``<module path>/<node
name>`` (``--keep-precision``). :func:`layer_group` names the units the accuracy budget search
moves between INT8 and high precision.
"""
from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

from ..errors import ZoeExportError, option
from .graph import FLOAT, check_unique_names, matches_any, node_path, node_scope, save_model, tensor_types

QUANTIZED_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
CALIBRATION_METHODS = ("entropy", "max")
HIGH_PRECISIONS = ("fp32", "fp16")


@dataclass(frozen=True)
class KeepRule:
    """Nodes that stay in high precision by default, and why."""

    name: str
    reason: str
    scopes: tuple[str, ...]
    activations_only: bool = False  # only ops without a constant weight (attention's two batched MatMuls)

    def matches(self, node: onnx.NodeProto, initializers: set[str]) -> bool:
        if not matches_any(node_scope(node), self.scopes):
            return False
        return not (self.activations_only and any(name in initializers for name in node.input))


DEFAULT_KEEP: tuple[KeepRule, ...] = (
    KeepRule("beit_attention", "Q.K^T and softmax.V: attention probabilities span 1e-6..1, INT8 flattens them",
             scopes=("*.blocks.*.attn",), activations_only=True),
    KeepRule("patch_embedding", "the first layer sees the raw image; its error reaches every token",
             scopes=("*.patch_embed*",)),
    KeepRule("metric_head", "bins, attractors and log-binomial: metres come out of these few small layers",
             scopes=("model", "model.seed_*", "model.projectors*", "model.attractors*",
                     "model.conditional_log_binomial*", "model.conv2*", "model.patch_transformer*",
                     "model.mlp_classifier*")),
)

#: (regular expression on the module path, group name) -- first match wins
GROUP_RULES: tuple[tuple[str, str], ...] = (
    (r"\.pretrained\.model\.blocks\.(\d+)(\.|$)", "encoder.block{:02d}"),
    (r"\.pretrained\.model\.patch_embed", "encoder.patch_embed"),
    (r"\.pretrained\.act_postprocess(\d)", "reassemble{}"),
    (r"\.scratch\.(?:layer(\d)_rn|refinenet(\d))", "decoder.stage{}"),
    (r"\.scratch\.output_conv", "decoder.output"),
    (r"^model\.core", "encoder.other"),
    (r"^model", "metric_head"),
)


def layer_group(node: onnx.NodeProto) -> str:
    scope = node_scope(node)
    for pattern, name in GROUP_RULES:
        match = re.search(pattern, scope)
        if match:
            numbers = [int(g) for g in match.groups() if g and g.isdigit()]
            return name.format(*numbers[:1])
    return "other"


@dataclass(frozen=True)
class Int8Selection:
    """The quantizable nodes of a graph, split into INT8 and kept (with the rule that kept each)."""

    quantize: tuple[str, ...]
    kept: dict[str, str]
    groups: dict[str, tuple[str, ...]]  # group -> its INT8 nodes

    def without(self, groups: Iterable[str]) -> "Int8Selection":
        """The same selection with whole groups moved to high precision."""
        drop = set(groups)
        moved = {n: f"group {g}" for g in drop for n in self.groups.get(g, ())}
        return Int8Selection(
            tuple(n for n in self.quantize if n not in moved),
            {**self.kept, **moved},
            {g: nodes for g, nodes in self.groups.items() if g not in drop},
        )

    def only(self, group: str) -> "Int8Selection":
        return self.without(g for g in self.groups if g != group)


def select_int8(model: onnx.ModelProto, keep: tuple[str, ...] | None = None) -> Int8Selection:
    """Which Conv/MatMul/Gemm nodes go to INT8. ``keep``: fnmatch patterns replacing DEFAULT_KEEP."""
    check_unique_names(model.graph)
    initializers = {i.name for i in model.graph.initializer}
    quantize, kept, groups = [], {}, {}
    for node in model.graph.node:
        if node.op_type not in QUANTIZED_OPS:
            continue
        if keep is None:
            rule = next((r.name for r in DEFAULT_KEEP if r.matches(node, initializers)), None)
        else:
            rule = next((f"--keep-precision {p}" for p in keep if matches_any(node_path(node), (p,))), None)
        if rule:
            kept[node.name] = rule
            continue
        quantize.append(node.name)
        groups.setdefault(layer_group(node), []).append(node.name)
    if keep:
        _check_patterns_match(keep, [node_path(n) for n in model.graph.node if n.op_type in QUANTIZED_OPS])
    return Int8Selection(tuple(quantize), kept, {g: tuple(v) for g, v in groups.items()})


def _check_patterns_match(keep: tuple[str, ...], paths: list[str]) -> None:
    """A pattern that selects no node is a typo, not a choice: without this, the defaults are silently gone."""
    unmatched = [p for p in keep if not any(matches_any(path, (p,)) for path in paths)]
    if unmatched:
        examples = ", ".join(paths[:: max(1, len(paths) // 4)][:4])
        raise ZoeExportError(
            f"{option('--keep-precision', 'keep_precision=')} {' '.join(unmatched)} matches no Conv/MatMul/Gemm "
            f"node (patterns are fnmatch on '<module path>/<node>', e.g. {examples}). Fix the pattern; "
            f"{option('--keep-precision none', 'keep_precision=()')} quantizes every one."
        )


def keep_rules_summary(keep: tuple[str, ...] | None) -> list[dict]:
    if keep is None:
        return [asdict(rule) for rule in DEFAULT_KEEP]
    return [{"name": "--keep-precision", "patterns": list(keep)}]


# --------------------------------------------------------------------------------- calibration

def activation_inputs(model: onnx.ModelProto, nodes: Iterable[str]) -> list[str]:
    """The float activations (not weights) that the given nodes read: what calibration measures."""
    wanted = set(nodes)
    initializers = {i.name for i in model.graph.initializer}
    types = tensor_types(model)
    names: dict[str, None] = {}
    for node in model.graph.node:
        if node.name in wanted:
            for name in node.input:
                if name and name not in initializers and types.get(name) == FLOAT:
                    names[name] = None
    return list(names)


class _RangeStats:
    """Running statistics of one calibration method over many samples."""

    def __init__(self, method: str, bins: int = 2048):
        if method not in CALIBRATION_METHODS:
            raise ZoeExportError(f"{option('--calib-method', 'calib_method=')} {method!r}: choose one of "
                                 f"{', '.join(CALIBRATION_METHODS)}.")
        self.method = method
        self.low: dict[str, float] = {}
        self.high: dict[str, float] = {}
        self.collector = None
        if method == "entropy":
            from onnxruntime.quantization.calibrate import HistogramCollector

            self.collector = HistogramCollector(method="entropy", symmetric=True, num_bins=bins,
                                                num_quantized_bins=128, percentile=99.999, scenario="same")

    def update(self, values: dict[str, np.ndarray]) -> None:
        for name, array in values.items():
            self.low[name] = min(self.low.get(name, np.inf), float(np.min(array)))
            self.high[name] = max(self.high.get(name, -np.inf), float(np.max(array)))
        if self.collector is not None:
            with contextlib.redirect_stdout(io.StringIO()):  # the collector prints on every call
                self.collector.collect(values)

    def ranges(self, progress: bool = True) -> dict[str, tuple[float, float]]:
        if self.collector is None:
            return {name: (self.low[name], self.high[name]) for name in self.low}
        from tqdm import tqdm

        found = {}
        histograms = self.collector.get_histogram_dict()
        for name, histogram in tqdm(histograms.items(), desc="entropy thresholds", unit="tensor", disable=not progress):
            with contextlib.redirect_stdout(io.StringIO()):
                threshold = self.collector.get_entropy_threshold(histogram, self.collector.num_quantized_bins)
            found[name] = (float(np.asarray(threshold[0])), float(np.asarray(threshold[1])))
        return found


def _save_with_outputs(model: onnx.ModelProto, tensors: list[str], path: Path) -> None:
    """Save ``model`` with ``tensors`` as extra graph outputs (added, saved, removed: no copy in memory)."""
    declared = {v.name: v for v in (*model.graph.value_info, *model.graph.output)}
    existing = len(model.graph.output)
    outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(declared[t] for t in tensors if t not in outputs and t in declared)
    try:
        save_model(model, path)
    finally:
        del model.graph.output[existing:]


def calibrate(model: onnx.ModelProto, tensors: list[str], feeds: Iterable[dict[str, np.ndarray]], method: str,
              total: int | None = None, progress: bool = True, bins: int = 2048) -> dict[str, tuple[float, float]]:
    """Activation ranges of ``tensors`` over ``feeds``, one sample at a time (streaming).

    ``entropy`` keeps a histogram of ``bins`` bins per tensor (2048 as TensorRT's entropy
    calibrator) and picks the KL-optimal threshold; ``max`` keeps min and max.
    """
    from tqdm import tqdm

    from .._lazy import INSTALL, require

    ort = require("onnxruntime", "INT8 calibration", INSTALL["onnxruntime"])
    stats = _RangeStats(method, bins)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # every tensor as in the graph
    options.enable_cpu_mem_arena = False
    # ONNX Runtime's default order runs every node whose inputs are ready first: each block's gathered
    # position bias (1 GB at 768x1344) would be made at the start and held (24 GB, OOM); this order follows the graph
    options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
    with tempfile.TemporaryDirectory(prefix="zoe-calibration-") as tmp:
        path = Path(tmp) / "augmented.onnx"
        _save_with_outputs(model, tensors, path)
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        seen = 0
        for feed in tqdm(feeds, total=total, desc=f"calibrating ({method})", unit="sample", disable=not progress):
            stats.update(dict(zip(tensors, session.run(tensors, feed))))
            seen += 1
        del session
    if not seen:
        raise ZoeExportError("the calibration set gave no samples.")
    return stats.ranges(progress)


# --------------------------------------------------------------------------------- quantization

def quantize_qdq(model: onnx.ModelProto, selection: Int8Selection, ranges: dict[str, tuple[float, float]],
                 method: str) -> onnx.ModelProto:
    """Q/DQ ONNX: symmetric INT8 activations and per-channel weights on the selected nodes only."""
    from onnxruntime.quantization import CalibrationMethod, QuantType
    from onnxruntime.quantization.calibrate import TensorData, TensorsData
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer

    missing = [t for t in activation_inputs(model, selection.quantize) if t not in ranges]
    if missing:
        raise RuntimeError(f"no calibrated range for {len(missing)} tensor(s), e.g. {missing[0]}")
    calibration = CalibrationMethod.Entropy if method == "entropy" else CalibrationMethod.MinMax
    tensors = TensorsData(calibration, {name: TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32))
                                        for name, (lo, hi) in ranges.items()})
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    quantizer = QDQQuantizer(
        copy, True, False, QuantType.QInt8, QuantType.QInt8, tensors,
        list(selection.quantize), [], list(QUANTIZED_OPS),
        {
            "ActivationSymmetric": True,  # TensorRT takes zero-point-0 INT8 only
            "WeightSymmetric": True,
            "QuantizeBias": False,  # biases stay float: TensorRT fuses them itself
            # per output channel: (K, N) MatMul weights, (C_in, C_out, kh, kw) ConvTranspose weights
            "QDQOpTypePerChannelSupportToAxis": {"MatMul": 1, "ConvTranspose": 1},
            "OpTypesToExcludeOutputQuantization": list(QUANTIZED_OPS),  # Q/DQ on inputs only, as TensorRT fuses it
        },
    )
    with contextlib.redirect_stdout(io.StringIO()):
        quantizer.quantize_model()
    result = quantizer.model.model
    _name_unnamed(result)
    return result


def _name_unnamed(model: onnx.ModelProto) -> None:
    used = {n.name for n in model.graph.node if n.name}
    for index, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{node.output[0]}" if node.output else f"{node.op_type}_{index}"
            while name in used:
                name += "_"
            node.name = name
            used.add(name)


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def keep_float_inputs(model: onnx.ModelProto, quantized: Iterable[str]) -> int:
    """Rewire nodes outside ``quantized`` that read a shared Q/DQ'd activation to the float tensor.

    Quantizers share one Q/DQ pair among a tensor's consumers, so a kept node next to a quantized
    one (the metric head's projector reads the same DPT feature as the decoder) would still see
    INT8-rounded input. Returns how many inputs were rewired.
    """
    selected, producers, rewired = set(quantized), _producers(model.graph), 0
    for node in model.graph.node:
        if node.name in selected or node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for index, name in enumerate(node.input):
            dq = producers.get(name)
            q = producers.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
            if q is not None and q.op_type == "QuantizeLinear":
                node.input[index] = q.input[0]
                rewired += 1
    return rewired


def dequantize_nodes(qdq: onnx.ModelProto, fp32: onnx.ModelProto, names: Iterable[str]) -> onnx.ModelProto:
    """A copy of ``qdq`` with ``names`` back on their float inputs and weights (from ``fp32``).

    With fixed activation ranges this is the graph that quantizing only the other nodes gives,
    without running the quantizer again: the budget search measures candidates this way.
    """
    names = set(names)
    model = onnx.ModelProto()
    model.CopyFrom(qdq)
    original = {n.name: n for n in fp32.graph.node if n.name in names}
    needed: set[str] = set()
    for node in model.graph.node:
        if node.name in original:
            node.input[:] = original[node.name].input
            needed.update(original[node.name].input)
    present = {i.name for i in model.graph.initializer}
    model.graph.initializer.extend(i for i in fp32.graph.initializer if i.name in needed and i.name not in present)
    _prune(model)
    return model


def _prune(model: onnx.ModelProto) -> None:
    """Drop nodes and initializers nothing reads any more (the orphaned Q/DQ of restored nodes)."""
    graph = model.graph
    producers = _producers(graph)
    live_nodes: set[str] = set()
    read: set[str] = set()
    pending = [o.name for o in graph.output]
    while pending:
        name = pending.pop()
        read.add(name)
        node = producers.get(name)
        if node is not None and node.name not in live_nodes:
            live_nodes.add(node.name)
            pending.extend(i for i in node.input if i and i not in read)
    nodes = [n for n in graph.node if n.name in live_nodes]
    initializers = [i for i in graph.initializer if i.name in read]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def fold_weight_quantization(model: onnx.ModelProto) -> int:
    """Store quantized weights as INT8: ``W -> QuantizeLinear -> DequantizeLinear`` becomes ``W_int8 -> DQ``.

    ModelOpt leaves FP32 weights behind a QuantizeLinear (TensorRT folds it when it builds); the
    folded graph computes exactly the same (ONNX's round-half-to-even and saturation), is a
    quarter of the size, and ONNX Runtime does not need 10+ GB to fold BEiT-L's weights itself.
    Returns how many weights were folded.
    """
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    folded, drop_nodes, drop_weights = 0, set(), set()
    for node in graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] not in initializers or len(node.input) < 3:
            continue
        weight, scale, zero = (onnx.numpy_helper.to_array(initializers[n]) for n in node.input[:3])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if scale.ndim:
            shape = [1] * weight.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        info = np.iinfo(zero.dtype)
        quantized = np.clip(np.rint(weight / scale) + zero.astype(np.int32), info.min, info.max).astype(zero.dtype)
        graph.initializer.append(onnx.numpy_helper.from_array(quantized, node.output[0]))
        drop_nodes.add(node.name)
        if readers.get(node.input[0]) == 1:
            drop_weights.add(node.input[0])
        folded += 1
    nodes = [n for n in graph.node if n.name not in drop_nodes]
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.initializer if i.name not in drop_weights]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return folded


def int8_nodes(model: onnx.ModelProto) -> set[str]:
    """The Conv/MatMul/Gemm nodes of a Q/DQ graph whose weights arrive dequantized: what runs in INT8."""
    producers = _producers(model.graph)
    found = set()
    for node in model.graph.node:
        if node.op_type in QUANTIZED_OPS and len(node.input) > 1:
            dq = producers.get(node.input[1])
            if dq is not None and dq.op_type == "DequantizeLinear":
                found.add(node.name)
    return found


def count_qdq(model: onnx.ModelProto) -> dict[str, int]:
    ops = [n.op_type for n in model.graph.node]
    return {"QuantizeLinear": ops.count("QuantizeLinear"), "DequantizeLinear": ops.count("DequantizeLinear")}


