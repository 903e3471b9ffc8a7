import pytest


@pytest.fixture(scope="session")
def onnx_file(tmp_path_factory):
    """The test-NK model (seeded random weights, dynamic batch, 64x96) as ONNX: the runners' common graph
    (an export of about 10 s, made once)."""
    from zoe_export.export import ExportOptions, export_onnx
    from zoe_export.models import load_model

    path = tmp_path_factory.mktemp("onnx") / "nk.onnx"
    export_onnx(load_model("test-NK", weights="random"), path, ExportOptions(batch=None, verify=False))
    return path
