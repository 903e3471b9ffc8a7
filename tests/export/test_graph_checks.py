import onnx
import onnx_ir as ir
import pytest
from onnx import TensorProto, helper

from zoe_export.errors import ZoeExportError
from zoe_export.export.graph_checks import check_tensorrt_support, tensorrt_problems


def _model(nodes, initializers=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=list(initializers))
    return ir.from_proto(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))


def test_supported_graph_passes():
    model = _model([helper.make_node("Relu", ["x"], ["h"], name="relu"),
                    helper.make_node("LayerNormalization", ["h", "s"], ["y"], name="ln", axis=-1)],
                   [onnx.numpy_helper.from_array(__import__("numpy").ones(4, "float32"), "s")])
    assert tensorrt_problems(model) == []
    check_tensorrt_support(model)


def test_planted_unsupported_op_fails_with_the_node_name():
    model = _model([helper.make_node("Relu", ["x"], ["h"], name="fine"),
                    helper.make_node("StringNormalizer", ["h"], ["y"], name="planted_node")])
    with pytest.raises(ZoeExportError, match=r"planted_node \(StringNormalizer\)"):
        check_tensorrt_support(model)


def test_custom_domain_and_bad_attributes_and_dynamic_constants_are_reported():
    model = _model([
        helper.make_node("MyPlugin", ["x"], ["a"], name="plugin", domain="com.example"),
        helper.make_node("Resize", ["a", "", "scales"], ["b"], name="crop_resize", mode="linear",
                         coordinate_transformation_mode="tf_crop_and_resize"),
        helper.make_node("Shape", ["b"], ["k"], name="shape"),
        helper.make_node("TopK", ["b", "k"], ["y", "idx"], name="topk_dynamic_k"),
    ], [onnx.numpy_helper.from_array(__import__("numpy").ones(2, "float32"), "scales")])
    problems = "\n".join(tensorrt_problems(model))
    assert "plugin (MyPlugin): custom domain" in problems
    assert "crop_resize (Resize): coordinate_transformation_mode 'tf_crop_and_resize'" in problems
    assert "topk_dynamic_k (TopK): input 1 must be an initializer" in problems
