"""The build through the real Polygraphy loaders and the real tensorrt module, for each build mode.

Without TensorRT's libraries the real builder cannot be made: the chain stops exactly there, and
our code says so in one line. With the builder objects faked (tests/fakes, checked against the real
classes in test_fakes.py), the real Polygraphy CreateConfig and EngineBytesFromNetwork run our
callables and our ``_build`` end to end: the engine is written, Ctrl-C cancels, a legacy INT8 build
of a dynamic-batch graph gets its calibration profile.
"""
import os
import signal
from pathlib import Path

import pytest
import tensorrt as trt
from contract import real_api
from fakes.tensorrt import FakeBuilder, FakeLayer, FakeLayer10, FakeNetwork, FakeTensor
from packaging.version import Version

from zoe_export.errors import ZoeExportError
from zoe_export.trt import BuildOptions, loader_chain, plan_build
from zoe_export.trt.build import _build
from zoe_export.trt.graph import GraphInfo
from zoe_export.trt.parser import NetworkFromOnnxChecked
from zoe_export.trt.plan import target_precision

MAJOR = real_api.tensorrt_major()
legacy_only = pytest.mark.skipif(MAJOR != 10, reason="--legacy-precision exists on TensorRT 10 only")
MODES = {  # name -> (graph, options)
    "strongly-typed fp16": ("fp16", dict(workspace_gb=1)),
    "strongly-typed fp32, dynamic batch": ("dynamic", dict(batch_profile=(1, 2, 8))),
    "legacy fp16": ("fp32", dict(precision="fp16", legacy_precision=True)),
    "legacy int8, dynamic batch": ("dynamic", dict(precision="int8", legacy_precision=True)),
    "strongly-typed fp32, dynamic batch and size": ("sized", dict(size_profile="32x64:64x96:96x160")),
    "strongly-typed fp32, frames of any size": ("frame", dict()),
}


def _plan(graphs, tmp_path, graph, **options):
    info = GraphInfo.read(graphs[graph])
    if options.get("precision") == "int8":
        options["calib"] = graphs["calib"]
    opts = BuildOptions(timing_cache=tmp_path / "timing.cache", **options)
    precision, _ = target_precision(info, opts)
    return plan_build(info, opts, precision, Version(trt.__version__), tmp_path / "m.engine")


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_builds_its_chain_and_stops_at_the_missing_builder_in_one_line(mode, graphs, tmp_path):
    graph, options = MODES[mode]
    if options.get("legacy_precision") and MAJOR >= 11:
        with pytest.raises(ZoeExportError, match=f"TensorRT {trt.__version__} removed the builder's precision flags"):
            _plan(graphs, tmp_path, graph, **options)
        return
    chain = loader_chain(_plan(graphs, tmp_path, graph, **options))  # constructs on this TensorRT and Polygraphy
    with pytest.raises(ZoeExportError) as info:
        chain()
    message = str(info.value)
    assert message.startswith("TensorRT could not create its builder") and "zoe-export doctor" in message
    assert "\n" not in message and isinstance(info.value.__cause__, TypeError)  # pybind11's null factory


# -- the whole build with the builder objects faked -----------------------------------------------------------------
def _network(shape, layer_names=("conv",)):
    layer = FakeLayer10 if MAJOR == 10 else FakeLayer  # TensorRT 11's ILayer has no precision attributes
    out = FakeTensor("out", shape, trt.float32)
    layers = [layer(name, trt.LayerType.CONVOLUTION, [out], metadata=f"[ONNX Layer: {name}]") for name in layer_names]
    return FakeNetwork([FakeTensor("image", shape, trt.float32)], layers)


def _fake_parse(monkeypatch, builder: FakeBuilder, network: FakeNetwork):
    monkeypatch.setattr(NetworkFromOnnxChecked, "__call__", lambda self: (builder, network, None))


def test_a_strongly_typed_build_writes_the_engine_and_its_timing_cache(graphs, tmp_path, monkeypatch):
    builder = FakeBuilder(MAJOR, engine=b"serialized engine")
    _fake_parse(monkeypatch, builder, _network((1, 3, 64, 96)))
    plan = _plan(graphs, tmp_path, "fp16", workspace_gb=1)
    _build(plan, tmp_path / "m.engine")
    assert (tmp_path / "m.engine").read_bytes() == b"serialized engine"  # IHostMemory: written without len()
    config = builder.built_with
    assert "FP16" not in config.flags_set and "TF32" not in config.flags_set  # strongly typed: the graph decides
    assert config.pools == {"WORKSPACE": 2**30} and config.progress_monitor is not None
    assert isinstance(config.progress_monitor, trt.IProgressMonitor)
    assert (tmp_path / "timing.cache").read_bytes() == b"fake timing cache"


def test_ctrl_c_during_the_build_cancels_it_and_writes_nothing(graphs, tmp_path, monkeypatch):
    def press_ctrl_c(step):
        if step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # our handler asks TensorRT (the monitor) to stop

    builder = FakeBuilder(MAJOR, steps=4, during_build=press_ctrl_c)
    _fake_parse(monkeypatch, builder, _network((1, 3, 64, 96)))
    with pytest.raises(KeyboardInterrupt):  # not "TensorRT could not build": Polygraphy's "Invalid Engine" is ours
        _build(_plan(graphs, tmp_path, "fp16"), tmp_path / "m.engine")
    assert not (tmp_path / "m.engine").exists() and not list(tmp_path.glob(".m.engine.*"))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_engine_from_tensorrt_is_an_error_and_writes_nothing(graphs, tmp_path, monkeypatch):
    _fake_parse(monkeypatch, FakeBuilder(MAJOR, engine=None), _network((1, 3, 64, 96)))
    with pytest.raises(ZoeExportError, match="TensorRT could not build the engine.*Nothing was written"):
        _build(_plan(graphs, tmp_path, "fp16"), tmp_path / "m.engine")
    assert not (tmp_path / "m.engine").exists()


@pytest.mark.parametrize("graph, options, network_shape, expected", [
    ("sized", dict(size_profile="32x64:64x96:96x160", batch_profile=(1, 2, 4)), (-1, 3, -1, -1),
     [[1, 3, 32, 64], [2, 3, 64, 96], [4, 3, 96, 160]]),
    ("frame", dict(size_profile="120x160:480x640:720x1280"), (1, -1, -1, 3),
     [[1, 120, 160, 3], [1, 480, 640, 3], [1, 720, 1280, 3]]),
])
def test_a_size_profile_reaches_tensorrts_optimisation_profile(graph, options, network_shape, expected, graphs,
                                                               tmp_path, monkeypatch):
    builder = FakeBuilder(MAJOR)
    name = "frame" if graph == "frame" else "image"
    network = _network(network_shape)
    network.inputs[0].name = name
    _fake_parse(monkeypatch, builder, network)
    _build(_plan(graphs, tmp_path, graph, **options), tmp_path / "m.engine")
    (profile,) = builder.built_with.profiles  # what Polygraphy's CreateConfig made of ours, on the real enums
    assert [list(d) for d in profile.get_shape(name)] == expected


@legacy_only
def test_legacy_fp16_pins_the_islands_and_obeys(graphs, tmp_path, monkeypatch):
    plan = _plan(graphs, tmp_path, "fp32", precision="fp16", legacy_precision=True)
    island = next(name for name, precision in plan.layer_pins.items() if precision == "fp32")
    builder, network = FakeBuilder(MAJOR), _network((1, 3, 64, 96), layer_names=(island, "/not/pinned"))
    _fake_parse(monkeypatch, builder, network)
    _build(plan, tmp_path / "m.engine")
    pinned, free = network.layers
    assert pinned.precision == trt.float32 and pinned.output_types == {0: trt.float32}
    assert free.precision is None and not free.precision_is_set
    assert {"FP16", "OBEY_PRECISION_CONSTRAINTS"} <= builder.built_with.flags_set


@legacy_only
def test_legacy_int8_of_a_dynamic_batch_gets_its_calibrator_and_calibration_profile(graphs, tmp_path, monkeypatch):
    plan = _plan(graphs, tmp_path, "dynamic", precision="int8", legacy_precision=True)
    pins = list(plan.layer_pins)
    builder = FakeBuilder(MAJOR)
    _fake_parse(monkeypatch, builder, _network((-1, 3, 64, 96), layer_names=(pins[0],)))
    _build(plan, tmp_path / "m.engine")
    config = builder.built_with
    assert {"INT8", "FP16"} <= config.flags_set
    assert isinstance(config.int8_calibrator, trt.IInt8EntropyCalibrator2)
    assert [list(d) for d in config.calibration_profile.get_shape("image")] == [[1, 3, 64, 96], [2, 3, 64, 96],
                                                                               [8, 3, 64, 96]]
    assert Path(tmp_path / "m.engine").read_bytes() == b"fake engine"
