"""Exports shared by the export tests (session-scoped: a tiny dynamic-size trace takes ~20 s)."""
import pytest


@pytest.fixture(scope="session")
def dynamic_nk_export(tmp_path_factory):
    """test-NK exported for any size from 32x32 to 128x192: its manifest (with the card) and path."""
    from zoe_export.export import export_onnx
    from zoe_export.models import load_model

    path = tmp_path_factory.mktemp("dynamic_size") / "nk_dyn.onnx"
    return export_onnx(load_model("test-NK", weights="random", dynamic_size="32x32:128x192"), path)


@pytest.fixture(scope="session")
def dynamic_frame_export(tmp_path_factory):
    """test-NK as a frame graph (official infer() inside, with flip), model sizes 32x32 to 256x384."""
    from zoe_export.export import ExportOptions, export_onnx
    from zoe_export.models import load_model

    path = tmp_path_factory.mktemp("frame") / "nk_frame.onnx"
    model = load_model("test-NK", weights="random", dynamic_size="32x32:256x384")
    return export_onnx(model, path, ExportOptions(io="frame", input_format="uint8-nhwc", flip=True))
