"""The backend registry: every entry resolves, files find their backend, a new backend is one registration."""
import numpy as np
import pytest

from zoe_export._lazy import resolve
from zoe_export.errors import ZoeExportError
from zoe_export.registry import backends
from zoe_export.registry.backends import Backend, backend_for, get_backend, list_backends, registered
from zoe_export.runtime import DepthEngine, Runner, TensorSpec


@pytest.mark.parametrize("backend", list_backends(), ids=lambda b: b.name)
def test_every_reference_of_every_backend_resolves(backend):
    references = [backend.runner, backend.card, backend.timer, backend.gpu_timer, backend.profiler, backend.from_onnx]
    for reference in filter(None, references):
        assert callable(resolve(reference)), reference


def test_files_find_their_backend_by_suffix(tmp_path):
    assert backend_for("m.onnx").name == "onnxruntime"
    assert backend_for("e.engine").name == backend_for("E.PLAN").name == "tensorrt"
    with pytest.raises(ZoeExportError, match=r"no backend opens \.pt; give one of \.onnx \(ONNX Runtime\)"):
        backend_for(tmp_path / "m.pt")
    assert backend_for("m.xml").name == "openvino"  # an OpenVINO IR; .onnx goes to OpenVINO only when named for it
    assert get_backend("openvino").opens_file("m.onnx") and not get_backend("onnxruntime").opens_file("m.xml")
    with pytest.raises(ZoeExportError, match="backend 'coreml': choose one of torch, onnxruntime, tensorrt, openvino"):
        get_backend("coreml")


def test_a_suffix_belongs_to_one_backend():
    with pytest.raises(ZoeExportError, match=r"\.onnx is opened by 'onnxruntime' already"):
        backends.register_backend(Backend("other", "Other", "file", (".onnx",), runner="x:y", card=None))
    assert get_backend("onnxruntime").suffixes == (".onnx",)


class _Doubling(Runner):
    """A toy backend: depth is twice the mean of the image, for any size."""

    name = "doubling"

    def __init__(self, path, scale: float = 2.0):
        super().__init__()
        self.path, self.scale = path, scale

    def input_specs(self):
        return [TensorSpec("image", np.float32, (None, 3, 32, 32))]

    def _activate(self):
        pass

    def _infer(self, feed):
        x = feed["image"]
        return {"metric_depth": self.scale * x.mean(axis=1, keepdims=True)}


def _card(path):
    from zoe_export.card import ModelCard

    return ModelCard.for_input("image", 32, 32, "float-nchw", None)


def test_a_new_backend_is_a_runner_and_one_registration(tmp_path):
    """What adding OpenVINO will look like: DepthEngine opens the new suffix with no other change."""
    toy = Backend("doubling", "Doubling", "file", (".dbl",), runner=f"{__name__}:_Doubling", card=f"{__name__}:_card")
    (tmp_path / "m.dbl").write_bytes(b"")
    with registered(toy):
        with DepthEngine(tmp_path / "m.dbl", flip=False, scale=3.0) as engine:
            depth = engine.predict(np.full((16, 16, 3), 0.5, np.float32))
        assert isinstance(engine.runner, _Doubling) and engine.size == (32, 32)
        np.testing.assert_allclose(depth, 1.5, rtol=1e-5)
        with pytest.raises(ZoeExportError, match="Doubling backend does not take .*providers"):
            DepthEngine(tmp_path / "m.dbl", providers=["CPUExecutionProvider"])
    with pytest.raises(ZoeExportError, match="no backend opens .dbl"):
        DepthEngine(tmp_path / "m.dbl")
