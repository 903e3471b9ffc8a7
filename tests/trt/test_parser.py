"""Parser errors, node by node, from TensorRT's ParserError accessors (faked: no TensorRT here)."""
from pathlib import Path

from zoe_export.trt.parser import format_parser_errors


class _Error:
    """The accessors of tensorrt.ParserError (TensorRT 10 adds node_name and node_operator)."""

    def __init__(self, node, desc, code="ErrorCode.UNSUPPORTED_NODE", name=None, op=None):
        self._node, self._desc, self._code = node, desc, code
        if name is not None:
            self.node_name = lambda: name
            self.node_operator = lambda: op

    def node(self):
        return self._node

    def desc(self):
        return self._desc

    def code(self):
        return self._code


def test_each_error_names_its_node_operator_and_reason():
    text = format_parser_errors(Path("m.onnx"), [
        _Error(412, "unsupported attribute", name="/encoder/blocks.3/attn/Softmax", op="Softmax"),
        _Error(7, "weights missing", code="ErrorCode.MODEL_DESERIALIZE_FAILED"),
        _Error(-1, "bad opset", code="ErrorCode.INVALID_GRAPH", name="", op=""),
    ])
    lines = text.splitlines()
    assert lines[0] == "TensorRT could not parse m.onnx (3 errors):"
    assert lines[1] == "  node 412 /encoder/blocks.3/attn/Softmax (Softmax): unsupported attribute [UNSUPPORTED_NODE]"
    assert lines[2] == "  node 7: weights missing [MODEL_DESERIALIZE_FAILED]"
    assert lines[3] == "  graph: bad opset [INVALID_GRAPH]"
    assert "zoe-export onnx" in lines[-1]


def test_a_failed_parse_without_errors_still_explains():
    text = format_parser_errors(Path("m.onnx"), [])
    assert "0 errors" in text and ".data file" in text
