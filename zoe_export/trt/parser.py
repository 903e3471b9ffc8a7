"""Parsing ONNX into a TensorRT network, with parser errors reported node by node."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ZoeExportError
from .api import import_tensorrt, tensorrt_factory

if TYPE_CHECKING:  # the types the contract tests check our calls against
    import tensorrt as trt


class NetworkFromOnnxChecked:
    """Loader (Polygraphy style): ``() -> (builder, network, parser)`` for an ONNX file.

    Like Polygraphy's ``NetworkFromOnnxPath``, with every parser error turned into one line
    naming the node, its operator and the parser's reason, all of them in one ZoeExportError,
    and a builder or parser that TensorRT cannot create turned into one line too.
    """

    def __init__(self, path: str | Path, strongly_typed: bool):
        self.path, self.strongly_typed = Path(path), strongly_typed

    def __call__(self):
        from polygraphy.backend.trt import CreateNetwork
        from polygraphy.backend.trt import util as trt_util

        trt = import_tensorrt()
        with tensorrt_factory("its builder"):
            builder, network = CreateNetwork(strongly_typed=self.strongly_typed)()
        with tensorrt_factory("its ONNX parser"):
            parser = trt.OnnxParser(network, trt_util.get_trt_logger())
        ok = parser.parse_from_file(str(self.path))  # from the file, so external weights beside it are found
        errors = [parser.get_error(i) for i in range(parser.num_errors)]
        if errors or not ok:
            raise ZoeExportError(format_parser_errors(self.path, errors))
        return builder, network, parser


def format_parser_errors(path: Path, errors: list[trt.ParserError]) -> str:
    """One line per TensorRT ``ParserError``: node index, name, operator, reason, error code."""
    lines = [f"TensorRT could not parse {path} ({len(errors)} error{'s' * (len(errors) != 1)}):"]
    for error in errors:
        lines.append("  " + _describe(error))
    if not errors:
        lines.append("  the parser gave no reason: is the file a complete ONNX model with its .data file beside it?")
    lines.append("Export the graph with zoe-export onnx (opset 18, checked for TensorRT), and use TensorRT 10 or newer.")
    return "\n".join(lines)


def _describe(error: trt.ParserError) -> str:
    index, name, op = error.node(), error.node_name(), error.node_operator()
    code = str(error.code()).rsplit(".", 1)[-1]
    where = "graph" if index < 0 else f"node {index}"
    if name:
        where += f" {name}"
    if op:
        where += f" ({op})"
    return f"{where}: {error.desc()}" + (f" [{code}]" if code else "")
