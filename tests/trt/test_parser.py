"""Parser errors, node by node, from TensorRT's ParserError accessors (tests/fakes; checked in tests/contract)."""
from pathlib import Path

from fakes.tensorrt import ErrorCode
from fakes.tensorrt import FakeParserError as _Error

from zoe_export.trt.parser import format_parser_errors


def test_each_error_names_its_node_operator_and_reason():
    text = format_parser_errors(Path("m.onnx"), [
        _Error(412, "unsupported attribute", name="/encoder/blocks.3/attn/Softmax", op="Softmax"),
        _Error(7, "weights missing", code=ErrorCode.MODEL_DESERIALIZE_FAILED),
        _Error(-1, "bad opset", code=ErrorCode.INVALID_GRAPH),
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
