"""Shared fixtures. Tests that need ../shared/reference (CI has it beside its clone) skip without it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from helpers import REFERENCE, SKIP_REASON, write_images


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never read or write the user's checkpoint cache."""
    monkeypatch.setenv("ZOE_EXPORT_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(SKIP_REASON)
    return REFERENCE


@pytest.fixture(scope="session")
def zoe_weights(reference_dir):
    """The reference's test-data helper: official-layout state dicts from a key list and a seed."""
    spec = importlib.util.spec_from_file_location("zoe_weights", reference_dir / "golden" / "zoe_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def official_state_dict(zoe_weights, reference_dir):
    """official_state_dict("M12-K", seed=3, head_gain=2): seeded weights in the official key layout."""

    def make(variant: str, **kwargs):
        return zoe_weights.make_state_dict(str(reference_dir / f"official_keys_{variant}.txt"), **kwargs)

    return make


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory):
    """variant -> the verified FP32 export of its seeded random weights (64x96, batch 1)."""
    folder = tmp_path_factory.mktemp("fp32")
    made = {}

    def get(variant: str):
        from zoe_export.export import export_onnx
        from zoe_export.models import load_model

        if variant not in made:
            made[variant] = folder / f"{variant}.onnx"
            export_onnx(load_model(variant, weights="random"), made[variant])
        return made[variant]

    return get


@pytest.fixture(scope="session")
def tiny_calib(tmp_path_factory):
    """A 10-sample float-nchw calibration set for the 64x96 test variants."""
    from zoe_export.calib import SetSpec, build_calibration_set

    root = tmp_path_factory.mktemp("calib")
    images = write_images(root / "images", 10)
    build_calibration_set(root / "set", SetSpec(64, 96), images=images, count=10, min_count=2, progress=False)
    return root / "set"


@pytest.fixture(scope="session")
def tiny_dynamic(tmp_path_factory):
    """test-N exported with a dynamic batch."""
    from zoe_export.export import ExportOptions, export_onnx
    from zoe_export.models import load_model

    path = tmp_path_factory.mktemp("dyn") / "n_dyn.onnx"
    export_onnx(load_model("test-N", weights="random"), path, ExportOptions(batch=None, verify=False))
    return path


@pytest.fixture(scope="session")
def tiny_converted(tiny_onnx, tiny_calib, tmp_path_factory):
    """precision -> test-N converted by the precision stage (fp16, or int8 from the tiny calibration set)."""
    from zoe_export.precision import PrecisionOptions, convert_precision

    folder = tmp_path_factory.mktemp("converted")
    made = {}

    def get(precision: str):
        if precision not in made:
            options = (PrecisionOptions("fp16", backend="builtin") if precision == "fp16" else
                       PrecisionOptions("int8", calib=tiny_calib, calib_method="max", backend="builtin"))
            made[precision] = folder / f"n_{precision}.onnx"
            convert_precision(tiny_onnx("test-N"), made[precision], options, progress=False)
        return made[precision]

    return get


@pytest.fixture(scope="session")
def dynamic_n(tmp_path_factory):
    """test-N exported with height and width free over helpers.DYNAMIC_RANGE (default size 64x96), unverified."""
    from helpers import shared_export

    return shared_export(tmp_path_factory, "n_dyn.onnx")
