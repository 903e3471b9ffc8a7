"""Parsing ONNX into a TensorRT network, with parser errors reported node by node."""
from __future__ import annotations

from pathlib import Path

from ..errors import ZoeExportError


class NetworkFromOnnxChecked:
    """Loader (Polygraphy style): ``() -> (builder, network, parser)`` for an ONNX file.

    Like Polygraphy's ``NetworkFromOnnxPath``, with every parser error turned into one line
    naming the node, its operator and the parser's reason, all of them in one ZoeExportError.
    """

    def __init__(self, path: str | Path, strongly_typed: bool):
        self.path, self.strongly_typed = Path(path), strongly_typed

    def __call__(self):
        import tensorrt as trt
        from polygraphy.backend.trt import CreateNetwork
        from polygraphy.backend.trt import util as trt_util

        builder, network = CreateNetwork(strongly_typed=self.strongly_typed)()
        parser = trt.OnnxParser(network, trt_util.get_trt_logger())
        if parser is None:
            raise ZoeExportError("TensorRT could not create its ONNX parser; check the TensorRT installation.")
        ok = parser.parse_from_file(str(self.path))  # from the file, so external weights beside it are found
        errors = [parser.get_error(i) for i in range(parser.num_errors)]
        if errors or not ok:
            raise ZoeExportError(format_parser_errors(self.path, errors))
        return builder, network, parser


def format_parser_errors(path: Path, errors: list) -> str:
    """One line per TensorRT ``ParserError``: node index, name, operator, reason, error code."""
    lines = [f"TensorRT could not parse {path} ({len(errors)} error{'s' * (len(errors) != 1)}):"]
    for error in errors:
        lines.append("  " + _describe(error))
    if not errors:
        lines.append("  the parser gave no reason: is the file a complete ONNX model with its .data file beside it?")
    lines.append("Export the graph with zoe-export onnx (opset 18, checked for TensorRT), and use TensorRT 10 or newer.")
    return "\n".join(lines)


def _describe(error) -> str:
    index = _call(error, "node", -1)
    name = _call(error, "node_name", "")
    op = _call(error, "node_operator", "")
    code = str(_call(error, "code", "")).rsplit(".", 1)[-1]
    where = "graph" if index is None or index < 0 else f"node {index}"
    if name:
        where += f" {name}"
    if op:
        where += f" ({op})"
    return f"{where}: {_call(error, 'desc', '')}" + (f" [{code}]" if code else "")


def _call(obj, method: str, default):
    fn = getattr(obj, method, None)
    if fn is None:
        return default
    try:
        return fn()
    except Exception:  # an accessor missing on this TensorRT version's binding
        return default
