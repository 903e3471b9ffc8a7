"""build_engine end to end with TensorRT's part faked: the loader chain returns an engine (or fails).

The fake chain returns what TensorRT's build returns, an ``IHostMemory`` (buffer protocol, ``nbytes``,
no ``len()``), and fails the way Polygraphy does (it raises when TensorRT returns nothing). The
same build with the real Polygraphy loaders and the real TensorRT module runs in tests/contract.

Everything around the TensorRT call runs for real: refusals, the precision stage, atomic writes,
the manifest, the engine cache and reuse.
"""
import json

import pytest
from fakes.graphs import dynamic_graph
from fakes.tensorrt import FakeHostMemory
from polygraphy.exception import PolygraphyException

from zoe_export.card import ModelCard, read_card
from zoe_export.errors import ZoeExportError
from zoe_export.sizes import SizeProfile
from zoe_export.trt import (
    BuildOptions,
    EngineCache,
    TrtEnvironment,
    build_engine,
    default_engine_output,
    read_manifest,
)
from zoe_export.trt import build as build_module
from zoe_export.trt.plan import DEFAULT_FRAME_PROFILE
from zoe_export.trt.cache import file_sha256


@pytest.fixture
def tensorrt_build(monkeypatch):
    """Replace the TensorRT build with a callable that records each plan and returns a fake engine."""
    plans = []

    def chain(plan, progress=None):
        plans.append(plan)
        return lambda: FakeHostMemory.of(f"engine for {plan.onnx.name} {plan.precision} {plan.mode}".encode())

    monkeypatch.setattr(build_module, "loader_chain", chain)
    return plans


def _build(onnx, tmp_path, env, **options):
    options.setdefault("output", tmp_path / "engines" / "m.engine")
    return build_engine(onnx, BuildOptions(**options), env=env, cache=EngineCache(tmp_path / "cache"))


def test_fp32_engine_manifest(tiny_dynamic, tmp_path, env10, tensorrt_build):
    manifest = _build(tiny_dynamic, tmp_path, env10, batch_profile=(1, 2, 4), workspace_gb=1)
    engine = tmp_path / "engines" / "m.engine"
    assert manifest["path"] == str(engine) and engine.read_bytes() == b"engine for n_dyn.onnx fp32 strongly-typed"
    written = read_manifest(engine)
    assert "path" not in written and written == {k: v for k, v in manifest.items() if k not in ("path", "conversion")}
    assert written["engine_sha256"] == file_sha256(engine) and written["tensorrt_version"] == "10.13.2.6"
    assert written["gpu"] == {"name": "NVIDIA H200", "compute_capability": "9.0"}
    assert (written["precision"], written["mode"]) == ("fp32", "strongly-typed")
    assert written["inputs"] == [{"name": "image", "dtype": "float32", "shape": ["N", 3, 64, 96],
                                  "profile": {"min": [1, 3, 64, 96], "opt": [2, 3, 64, 96], "max": [4, 3, 64, 96]}}]
    assert written["outputs"] == [{"name": "metric_depth", "dtype": "float32", "shape": ["N", 1, 64, 96]}]
    assert written["onnx"]["sha256"] == file_sha256(tiny_dynamic) and written["onnx"]["converted"] is None
    card = read_card(engine)  # the graph's card, with what the build added
    assert card == ModelCard.from_dict(written["card"]) and card.variant == "test-N" and card.batch is None
    assert card.batch_profile == (1, 2, 4) and card.versions["tensorrt"] == "10.13.2.6"
    assert written["build"]["plan"]["workspace_bytes"] == 2**30
    assert written["build"]["timing_cache"].endswith("engines/timing_sm_90_trt10.13.2.6.cache")


def test_a_matching_engine_is_reused_from_the_output_then_from_the_cache(tiny_onnx, tmp_path, env10, tensorrt_build):
    first = _build(tiny_onnx("test-N"), tmp_path, env10)
    again = _build(tiny_onnx("test-N"), tmp_path, env10)
    assert len(tensorrt_build) == 1 and again["reused"] == again["path"]
    other = _build(tiny_onnx("test-N"), tmp_path, env10, output=tmp_path / "elsewhere" / "x.engine")
    assert len(tensorrt_build) == 1 and other["reused"].endswith(f"cache/{first['cache_key']}.engine")
    assert (tmp_path / "elsewhere" / "x.engine").read_bytes() == (tmp_path / "engines" / "m.engine").read_bytes()
    assert read_manifest(tmp_path / "elsewhere" / "x.engine")["file"] == "x.engine"


def test_what_decides_the_engine_rebuilds_it(tiny_onnx, tmp_path, env10, tensorrt_build):
    _build(tiny_onnx("test-N"), tmp_path, env10)
    _build(tiny_onnx("test-N"), tmp_path, env10, workspace_gb=2)
    _build(tiny_onnx("test-N"), tmp_path, TrtEnvironment("10.14.1.48", True, env10.gpu))
    assert len(tensorrt_build) == 3
    build_engine(tiny_onnx("test-N"), BuildOptions(output=tmp_path / "engines" / "m.engine"), env=env10,
                 cache=EngineCache(tmp_path / "cache"), rebuild=True)
    assert len(tensorrt_build) == 4


@pytest.mark.parametrize("failure", [PolygraphyException("builder said no"), None, b""])
def test_a_failed_build_leaves_no_engine(failure, tiny_onnx, tmp_path, env10, monkeypatch):
    def chain(plan, progress=None):
        def build():
            if isinstance(failure, Exception):
                raise failure
            return None if failure is None else FakeHostMemory.of(failure)
        return build

    monkeypatch.setattr(build_module, "loader_chain", chain)
    with pytest.raises(ZoeExportError, match="builder said no|returned no engine") as info:
        _build(tiny_onnx("test-N"), tmp_path, env10)
    assert "Nothing was written" in str(info.value) or "nothing was written" in str(info.value)
    assert not (tmp_path / "engines").exists()  # nor the folder it made for the engine


def test_without_tensorrt_nothing_is_touched(tiny_onnx, tmp_path, tensorrt_build):
    with pytest.raises(ZoeExportError, match=r"needs the tensorrt package.*zoe-export\[trt\]"):
        _build(tiny_onnx("test-N"), tmp_path, TrtEnvironment(None, False, None), precision="fp16")
    assert tensorrt_build == [] and not (tmp_path / "engines").exists()


@pytest.mark.slow
def test_fp16_from_an_fp32_graph_goes_through_the_precision_stage(tiny_onnx, tmp_path, env10, tensorrt_build):
    manifest = _build(tiny_onnx("test-N"), tmp_path, env10, precision="fp16")
    converted = tmp_path / "engines" / "m.onnx"
    (plan,) = tensorrt_build
    assert plan.onnx == converted and plan.mode == "strongly-typed" and not plan.fp16_flag
    assert manifest["precision"] == "fp16" and manifest["onnx"]["precision"] == "fp32"
    assert manifest["onnx"]["converted"] == {"file": str(converted), "sha256": file_sha256(converted)}
    card = ModelCard.from_dict(manifest["card"])
    assert "attractors" in card.fp16_islands and card.measured_rel < 2e-3 and card.precision == "fp16"
    assert card.with_changes(batch_profile=None, versions=read_card(converted).versions) == read_card(converted)
    assert json.loads((tmp_path / "engines" / "m.onnx.json").read_text())["precision"] == "fp16"


@pytest.mark.slow
def test_int8_from_an_fp32_graph_is_calibrated_with_fp16_elsewhere(tiny_onnx, tiny_calib, tmp_path, env10,
                                                                   tensorrt_build):
    from zoe_export.calib import CalibrationSet

    manifest = _build(tiny_onnx("test-N"), tmp_path, env10, precision="int8", calib=tiny_calib)
    card = ModelCard.from_dict(manifest["card"])
    assert manifest["precision"] == card.precision == "int8" and card.high_precision == "fp16"
    assert card.calibration.set_id == CalibrationSet(tiny_calib).id
    assert tensorrt_build[0].onnx.name == "m.onnx"


def test_a_converted_graph_is_built_as_it_is(tiny_converted, tmp_path, env11, tensorrt_build):
    manifest = _build(tiny_converted("fp16"), tmp_path, env11)
    (plan,) = tensorrt_build
    assert plan.onnx == tiny_converted("fp16") and plan.strongly_typed_flag is False  # TensorRT 11: implied
    assert manifest["precision"] == "fp16" and manifest["onnx"]["converted"] is None


def test_legacy_precision(tiny_onnx, tmp_path, env10, env11, tensorrt_build):
    manifest = _build(tiny_onnx("test-N"), tmp_path, env10, precision="fp16", legacy_precision=True)
    (plan,) = tensorrt_build
    assert plan.onnx == tiny_onnx("test-N") and plan.fp16_flag and plan.precision_constraints == "obey"
    assert manifest["mode"] == "legacy-precision" and manifest["build"]["layer_pins"]["fp32"] > 0
    with pytest.raises(ZoeExportError, match="TensorRT 11.0.0.7 removed"):
        _build(tiny_onnx("test-N"), tmp_path, env11, precision="fp16", legacy_precision=True)


def test_output_must_be_an_engine_file(tiny_onnx, tmp_path, env10):
    with pytest.raises(ZoeExportError, match="NAME.engine"):
        _build(tiny_onnx("test-N"), tmp_path, env10, output=tmp_path / "m.onnx")


def test_the_converted_graph_never_replaces_the_source(tmp_path):
    from zoe_export.trt.build import converted_graph_path

    assert converted_graph_path(tmp_path / "e" / "m.engine", tmp_path / "m.onnx", "fp16") == tmp_path / "e" / "m.onnx"
    assert converted_graph_path(tmp_path / "m.engine", tmp_path / "m.onnx", "fp16") == tmp_path / "m_fp16.onnx"


# -- dynamic-size and frame graphs -------------------------------------------------------------------------------

def test_a_size_profile_goes_into_the_manifest_and_the_card(tmp_path, env10, tensorrt_build):
    manifest = _build(dynamic_graph(tmp_path / "g.onnx", batch=None), tmp_path, env10,
                      size_profile="32x64:64x96:96x160", batch_profile=(1, 2, 4))
    engine = tmp_path / "engines" / "m.engine"
    written = read_manifest(engine)
    assert manifest["path"] == str(engine) and written["cache_key"] == manifest["cache_key"]
    assert written["inputs"] == [{"name": "image", "dtype": "float32", "shape": ["N", 3, "N", "N"],
                                  "profile": {"min": [1, 3, 32, 64], "opt": [2, 3, 64, 96], "max": [4, 3, 96, 160]}}]
    assert written["outputs"] == [{"name": "metric_depth", "dtype": "float32", "shape": ["N", 1, "N", "N"]}]
    assert written["card"]["size_profile"] == "32x64:64x96:96x160"  # as the command line spells it
    card = read_card(engine)
    assert card.size_profile == SizeProfile((32, 64), (64, 96), (96, 160)) and card.batch_profile == (1, 2, 4)
    assert card.input_shape == (None, 3, None, None) and card.depth_shape == (None, 1, None, None)
    assert card == ModelCard.from_dict(written["card"])


def test_a_frame_graph_with_a_fixed_batch_gets_a_size_profile_and_no_batch_profile(tmp_path, env10, tensorrt_build,
                                                                                   caplog):
    with caplog.at_level("INFO", logger="zoe_export"):
        manifest = _build(dynamic_graph(tmp_path / "f.onnx", io="frame"), tmp_path, env10)
    assert f"the engine's size profile is {DEFAULT_FRAME_PROFILE.text} (MIN:OPT:MAX height x width, the default; " \
           "size_profile= sets another)" in caplog.text
    card = ModelCard.from_dict(manifest["card"])
    assert (card.io, card.batch, card.batch_profile, card.size_profile) == ("frame", 1, None, DEFAULT_FRAME_PROFILE)
    assert manifest["inputs"][0]["shape"] == [1, "N", "N", 3] and manifest["outputs"][0]["shape"] == [1, "N", "N"]
    assert manifest["inputs"][0]["profile"]["max"] == [1, *DEFAULT_FRAME_PROFILE.max, 3]


def test_a_fixed_size_engine_has_no_size_profile_and_keeps_its_cache_key(tiny_onnx, tmp_path, env10, tensorrt_build):
    manifest = _build(tiny_onnx("test-N"), tmp_path, env10)
    assert manifest["card"]["size_profile"] is None and manifest["card"]["batch_profile"] is None
    assert "size_profile" not in manifest["build"]["plan"] and "batch_profile" not in manifest["build"]["plan"]


def test_size_profile_refusals_come_before_the_machine_is_asked(tiny_onnx, tmp_path, tensorrt_build):
    no_tensorrt = TrtEnvironment(None, False, None)
    with pytest.raises(ZoeExportError, match="takes one input size"):
        _build(tiny_onnx("test-N"), tmp_path, no_tensorrt, size_profile="32x32:64x96:128x128")
    with pytest.raises(ZoeExportError, match="outside the model sizes"):
        _build(dynamic_graph(tmp_path / "g.onnx"), tmp_path, no_tensorrt, size_profile="32x32:64x96:1024x1024")
    assert tensorrt_build == [] and not (tmp_path / "engines").exists()


def test_the_default_engine_name_carries_a_size_profile_that_was_given(tmp_path, env10, tensorrt_build,
                                                                       monkeypatch):
    profile = SizeProfile.parse("32x64:64x96:96x160")
    assert str(default_engine_output("a/zoed_n_dyn.onnx", "fp32")) == "engines/zoed_n_dyn.engine"
    assert default_engine_output("zoed_n_dyn_fp16.onnx", "fp16", profile).name == \
        "zoed_n_dyn_fp16_32x64-64x96-96x160.engine"
    monkeypatch.chdir(tmp_path)
    graph = dynamic_graph(tmp_path / "g.onnx")
    default = build_engine(graph, BuildOptions(), env=env10, cache=EngineCache(tmp_path / "cache"))
    given = build_engine(graph, BuildOptions(size_profile=profile), env=env10, cache=EngineCache(tmp_path / "cache"))
    assert default["path"] == "engines/g.engine" and given["path"] == "engines/g_32x64-64x96-96x160.engine"
    assert len(tensorrt_build) == 2 and default["cache_key"] != given["cache_key"]
