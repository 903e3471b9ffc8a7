"""The build plan and the Polygraphy loader chain for each mode, checked without TensorRT."""
import sys
import types

import pytest
from fakes.graphs import SIZE_RANGE, dynamic_graph
from fakes.tensorrt import FakeLayer10, FakeNetwork, FakeTensor
from packaging.version import Version
from polygraphy.backend.trt import (
    CreateConfig,
    EngineBytesFromNetwork,
    PostprocessConfig,
    PostprocessNetwork,
)

from zoe_export.errors import ZoeExportError
from zoe_export.precision import plan_fp16, select_int8
from zoe_export.sizes import SizeProfile, SizeRange
from zoe_export.trt import BuildOptions, loader_chain, plan_build
from zoe_export.trt import plan as plan_module
from zoe_export.trt.graph import GraphInfo
from zoe_export.trt.parser import NetworkFromOnnxChecked
from zoe_export.trt.plan import (
    ConfigureBuild,
    DEFAULT_BATCH_PROFILE,
    DEFAULT_FRAME_PROFILE,
    PinLayers,
    check_legacy_supported,
    default_size_profile,
    input_profiles,
    onnx_node_of,
    target_precision,
)

TRT10, TRT11 = Version("10.13.2"), Version("11.0.0")


def _plan(path, tmp_path, trt=TRT10, **options):
    graph = GraphInfo.read(path)
    opts = BuildOptions(**options)
    precision, _ = target_precision(graph, opts)
    return plan_build(graph, opts, precision, trt, tmp_path / "out.engine")


# ------------------------------------------------------------------------------------ what to build

def test_fp32_graph_targets(tiny_onnx):
    graph = GraphInfo.read(tiny_onnx("test-N"))
    assert target_precision(graph, BuildOptions()) == ("fp32", False)
    assert target_precision(graph, BuildOptions(precision="fp16")) == ("fp16", True)
    assert target_precision(graph, BuildOptions(precision="int8", calib="c")) == ("int8", True)
    assert target_precision(graph, BuildOptions(precision="fp16", legacy_precision=True)) == ("fp16", False)


@pytest.mark.parametrize("options, message", [
    (BuildOptions(precision="int8"), "needs a calibration set"),
    (BuildOptions(calib="c"), "only for precision=.int8."),
    (BuildOptions(precision="fp16", calib="c"), "only for precision=.int8."),
])
def test_fp32_graph_refusals(options, message, tiny_onnx):
    with pytest.raises(ZoeExportError, match=message):
        target_precision(GraphInfo.read(tiny_onnx("test-N")), options)


def test_a_converted_graph_is_built_as_it_is_and_never_converted_twice(tiny_converted):
    graph = GraphInfo.read(tiny_converted("int8"))
    assert graph.precision == "int8"
    assert target_precision(graph, BuildOptions()) == ("int8", False)
    assert target_precision(graph, BuildOptions(precision="int8")) == ("int8", False)
    with pytest.raises(ZoeExportError, match="already an INT8 graph.*never converted twice"):
        target_precision(graph, BuildOptions(precision="fp16"))
    with pytest.raises(ZoeExportError, match="legacy_precision=True builds from the FP32 export"):
        target_precision(graph, BuildOptions(precision="int8", legacy_precision=True))
    with pytest.raises(ZoeExportError, match="Drop calib="):
        target_precision(graph, BuildOptions(calib="c"))


def test_legacy_precision_is_refused_on_tensorrt_11():
    check_legacy_supported(BuildOptions(precision="fp16", legacy_precision=True), TRT10)
    with pytest.raises(ZoeExportError, match="TensorRT 11.0.0 removed the builder's precision flags"):
        check_legacy_supported(BuildOptions(precision="fp16", legacy_precision=True), TRT11)


@pytest.mark.parametrize("options, message", [
    (BuildOptions(legacy_precision=True), "add precision=fp16 or int8"),
    (BuildOptions(workspace_gb=0), "positive size"),
    (BuildOptions(batch_profile=(2, 1, 4)), "MIN <= OPT <= MAX"),
    (BuildOptions(precision="bf16"), "fp16 or int8"),
    (BuildOptions(size_profile=SizeProfile((64, 64), (32, 32), (128, 128))), "at most the next one"),
    (BuildOptions(size_profile=SizeProfile((0, 64), (32, 64), (128, 128))), "must be positive"),
    (BuildOptions(size_profile=(32, 64, 128)), "give 'MIN_HxMIN_W:OPT_HxOPT_W:MAX_HxMAX_W'"),
])
def test_option_refusals(options, message):
    with pytest.raises(ZoeExportError, match=message):
        options.validate()


# ------------------------------------------------------------------------------------------- plans

def test_strongly_typed_plan_sets_no_precision_flag(tiny_converted, tmp_path):
    plan = _plan(tiny_converted("fp16"), tmp_path, workspace_gb=2)
    assert (plan.mode, plan.precision, plan.strongly_typed_flag) == ("strongly-typed", "fp16", True)
    assert not plan.fp16_flag and not plan.int8_flag and plan.precision_constraints is None and not plan.layer_pins
    assert plan.workspace_bytes == 2 * 2**30 and plan.profiles == () and plan.calibration is None
    # TensorRT 11: every network is strongly typed; the flag is not set
    assert _plan(tiny_converted("fp16"), tmp_path, trt=TRT11).strongly_typed_flag is False


def test_legacy_fp16_plan_pins_the_fp32_islands(tiny_onnx, tmp_path):
    import onnx

    plan = _plan(tiny_onnx("test-N"), tmp_path, precision="fp16", legacy_precision=True)
    islands = plan_fp16(onnx.load(tiny_onnx("test-N"))).fp32_nodes
    assert (plan.mode, plan.fp16_flag, plan.int8_flag, plan.strongly_typed_flag) == ("legacy-precision", True, False, False)
    assert plan.precision_constraints == "obey"
    assert islands and plan.layer_pins == {name: "fp32" for name in islands}


def test_legacy_int8_plan_calibrates_and_keeps_the_kept_nodes_in_fp16(tiny_onnx, tiny_calib, tmp_path):
    import onnx

    from zoe_export.calib import CalibrationSet

    plan = _plan(tiny_onnx("test-N"), tmp_path, precision="int8", calib=tiny_calib, legacy_precision=True)
    model = onnx.load(tiny_onnx("test-N"))
    assert plan.int8_flag and plan.fp16_flag
    assert plan.calibration.set_id == CalibrationSet(tiny_calib).id
    assert plan.calibration.cache == tmp_path / "out.engine.calib.cache"
    kept = set(select_int8(model).kept) - set(plan_fp16(model).fp32_nodes)
    assert kept and all(plan.layer_pins[n] == "fp16" for n in kept)


def test_legacy_int8_refuses_a_calibration_set_of_another_size(tiny_onnx, tmp_path):
    from helpers import write_images

    from zoe_export.calib import SetSpec, build_calibration_set

    other = tmp_path / "other"
    build_calibration_set(other, SetSpec(32, 32), images=write_images(tmp_path / "img", 3), count=3, min_count=2,
                          progress=False)
    with pytest.raises(ZoeExportError, match="32x32"):
        _plan(tiny_onnx("test-N"), tmp_path, precision="int8", calib=other, legacy_precision=True)


def test_batch_profiles(tiny_dynamic, tiny_onnx):
    (profile,) = input_profiles(GraphInfo.read(tiny_dynamic)).profiles
    assert (profile.input, profile.min, profile.opt, profile.max) == ("image", (1, 3, 64, 96), (2, 3, 64, 96), (8, 3, 64, 96))
    (profile,) = input_profiles(GraphInfo.read(tiny_dynamic), (1, 4, 16)).profiles
    assert profile.max == (16, 3, 64, 96)
    assert input_profiles(GraphInfo.read(tiny_onnx("test-N"))).profiles == ()
    with pytest.raises(ZoeExportError, match="fixed batch.*--dynamic-batch"):
        input_profiles(GraphInfo.read(tiny_onnx("test-N")), (1, 2, 4))


# ------------------------------------------------------------------------- dynamic-size graphs

PROFILE = SizeProfile((32, 64), (64, 96), (96, 160))  # model sizes within SIZE_RANGE, multiples of 32


def _shape(layout, batch, size):
    return (batch, *size, 3) if layout == "nhwc" else (batch, 3, *size)


@pytest.mark.parametrize("io, input_format, layout", [
    ("model", "float-nchw", "nchw"), ("model", "uint8-nhwc", "nhwc"), ("frame", "uint8-nhwc", "nhwc")])
@pytest.mark.parametrize("batch", [1, None])
def test_a_size_profile_ranges_over_height_and_width_with_the_batch(io, input_format, layout, batch, tmp_path):
    graph = GraphInfo.read(dynamic_graph(tmp_path / "g.onnx", io=io, batch=batch, input_format=input_format))
    found = input_profiles(graph, None, PROFILE)
    (profile,) = found.profiles
    batches = DEFAULT_BATCH_PROFILE if batch is None else (1, 1, 1)
    assert profile.input == graph.card.input_name
    assert [profile.min, profile.opt, profile.max] == [_shape(layout, b, s) for b, s in
                                                       zip(batches, (PROFILE.min, PROFILE.opt, PROFILE.max))]
    assert found.size == PROFILE and found.batch == (DEFAULT_BATCH_PROFILE if batch is None else None)


def test_a_batch_profile_and_a_size_profile_together(tmp_path):
    graph = GraphInfo.read(dynamic_graph(tmp_path / "g.onnx", batch=None))
    found = input_profiles(graph, (2, 3, 5), PROFILE)
    (profile,) = found.profiles
    assert (profile.min, profile.opt, profile.max) == ((2, 3, 32, 64), (3, 3, 64, 96), (5, 3, 96, 160))
    assert (found.batch, found.size) == ((2, 3, 5), PROFILE)
    with pytest.raises(ZoeExportError, match="fixed batch.*--dynamic-batch"):  # H and W free, the batch is not
        input_profiles(GraphInfo.read(dynamic_graph(tmp_path / "b1.onnx", batch=1)), (1, 2, 4), PROFILE)


def test_default_size_profiles(tmp_path):
    model = GraphInfo.read(dynamic_graph(tmp_path / "m.onnx"))
    # the graph's whole range, tuned at its native size
    assert default_size_profile(model) == SizeProfile(SIZE_RANGE.min, model.card.size, SIZE_RANGE.max)
    assert input_profiles(model).size == default_size_profile(model)
    narrow = model.card.with_changes(size_range=SizeRange((96, 128), (128, 192)))
    clamped = default_size_profile(GraphInfo.read(dynamic_graph(tmp_path / "n.onnx", card=narrow)))
    assert clamped == SizeProfile((96, 128), (96, 128), (128, 192))  # native 64x96 lies below: OPT clamped into it
    frame = GraphInfo.read(dynamic_graph(tmp_path / "f.onnx", io="frame"))
    assert default_size_profile(frame) == DEFAULT_FRAME_PROFILE
    (profile,) = input_profiles(frame).profiles
    assert profile.max == (1, *DEFAULT_FRAME_PROFILE.max, 3)


def test_a_frame_graph_takes_any_positive_sizes(tmp_path):
    frame = GraphInfo.read(dynamic_graph(tmp_path / "f.onnx", io="frame"))
    odd = SizeProfile.parse("1x1:481x643:2161x3841")
    (profile,) = input_profiles(frame, None, odd).profiles
    assert (profile.min, profile.max) == ((1, 1, 1, 3), (1, 2161, 3841, 3))


@pytest.mark.parametrize("text, message", [
    ("32x64:64x100:96x160", r"size_profile= 32x64:64x100:96x160: .* must be a multiple of 32 \(e\.g\. "
                            r"size_profile= 32x64:64x128:96x160\)"),
    ("32x64:64x96:160x160", r"size_profile= 32x64:64x96:160x160: MAX 160x160 is outside the model sizes .* "
                            r"\(32x32:128x192, its size range\)\. Keep MIN and MAX within it, or export the graph "
                            r"again with a wider range: zoe-export onnx --dynamic-size 32x32:160x192\.$"),
    ("32x32:64x96:160x224", "MAX 160x224 is outside .* --dynamic-size 32x32:160x224"),
])
def test_size_profile_refusals_for_a_model_size_graph(text, message, tmp_path):
    graph = GraphInfo.read(dynamic_graph(tmp_path / "g.onnx"))
    with pytest.raises(ZoeExportError, match=message):
        input_profiles(graph, None, SizeProfile.parse(text))


def test_min_and_max_both_outside_the_range_are_named_together(tmp_path):
    narrow = SizeRange((64, 64), (128, 192))
    graph = GraphInfo.read(dynamic_graph(tmp_path / "g.onnx", size_range=narrow))
    with pytest.raises(ZoeExportError, match=r"MIN 32x32 and MAX 160x224 are outside .* \(64x64:128x192, its size "
                                             r"range\).* zoe-export onnx --dynamic-size 32x32:160x224\."):
        input_profiles(graph, None, SizeProfile.parse("32x32:64x96:160x224"))
    input_profiles(graph, None, SizeProfile.parse("64x64:64x96:128x192"))  # its range itself: taken


def test_a_size_profile_for_a_fixed_size_graph_names_the_exports_that_take_sizes(tiny_onnx, tmp_path):
    fixed = [GraphInfo.read(tiny_onnx("test-N")),
             GraphInfo.read(dynamic_graph(tmp_path / "f.onnx", io="frame", fixed_size=(480, 640)))]
    for graph in fixed:
        with pytest.raises(ZoeExportError) as info:
            input_profiles(graph, None, PROFILE)
        message = str(info.value)
        assert message.startswith(f"size_profile= {PROFILE.text}: {graph.path} takes one input size")
        assert "zoe-export onnx --dynamic-size" in message and "--io frame" in message
    assert input_profiles(fixed[1]).profiles == () and input_profiles(fixed[1]).size is None


def test_a_dynamic_graph_whose_card_has_no_range_is_refused(tmp_path):
    graph = GraphInfo.read(dynamic_graph(tmp_path / "g.onnx", size_range=None))
    for size_profile in (None, PROFILE):
        with pytest.raises(ZoeExportError, match="takes any height and width .* no size range.*--dynamic-size"):
            input_profiles(graph, None, size_profile)


def test_a_graph_dynamic_in_other_dimensions_is_refused(tmp_path):
    graph = GraphInfo.read(dynamic_graph(tmp_path / "g.onnx", fixed_size=("h", 96), size_range=None))
    with pytest.raises(ZoeExportError, match=r"input image \[1, 3, N, 96\] is dynamic beyond the batch"):
        input_profiles(graph)


def test_plans_record_the_batch_and_size_profiles(tmp_path, tiny_dynamic):
    plan = _plan(dynamic_graph(tmp_path / "g.onnx", batch=None), tmp_path, size_profile=PROFILE.text)
    assert (plan.batch_profile, plan.size_profile) == (DEFAULT_BATCH_PROFILE, PROFILE)
    assert f"size profile {PROFILE.text} (MIN:OPT:MAX height x width)" in plan.describe()
    fingerprint = plan.fingerprint()
    assert "size_profile" not in fingerprint and "batch_profile" not in fingerprint  # in the profiles already
    assert fingerprint["profiles"][0]["max"] == (8, 3, 96, 160)
    other = _plan(dynamic_graph(tmp_path / "g.onnx", batch=None), tmp_path, size_profile="32x64:32x64:96x160")
    assert other.fingerprint() != fingerprint  # another profile: another engine
    batch_only = _plan(tiny_dynamic, tmp_path)
    assert (batch_only.batch_profile, batch_only.size_profile) == (DEFAULT_BATCH_PROFILE, None)


def test_legacy_int8_calibrates_at_opt_which_must_be_the_calibration_size(tmp_path, tiny_calib):
    path = dynamic_graph(tmp_path / "g.onnx")
    with pytest.raises(ZoeExportError, match=r"calibrates at the size profile's OPT size, 96x160; .* made at "
                                             r"64x96 .* size_profile= 32x64:64x96:96x160"):
        _plan(path, tmp_path, precision="int8", calib=tiny_calib, legacy_precision=True,
              size_profile="32x64:96x160:96x160")
    plan = _plan(path, tmp_path, precision="int8", calib=tiny_calib, legacy_precision=True)  # default OPT: native
    assert plan.size_profile.opt == (64, 96) and plan.calibration is not None


def test_the_fingerprint_holds_what_decides_the_engine(tiny_converted, tmp_path):
    a = _plan(tiny_converted("fp16"), tmp_path)
    moved = _plan(tiny_converted("fp16"), tmp_path / "elsewhere", timing_cache=tmp_path / "t.cache")
    assert a.fingerprint() == moved.fingerprint()
    assert a.fingerprint() != _plan(tiny_converted("fp16"), tmp_path, workspace_gb=4).fingerprint()
    assert a.fingerprint() != _plan(tiny_converted("fp16"), tmp_path, trt=TRT11).fingerprint()


# ---------------------------------------------------------------------------------- loader chains

@pytest.fixture
def loaders(monkeypatch):
    """loader -> the arguments loader_chain gave it, by the parameter names Polygraphy documents.

    Polygraphy keeps what its loaders were given in private attributes; the constructor arguments
    are its public API, so the chain is checked through them (recorded by subclasses that
    loader_chain picks up from ``polygraphy.backend.trt``).
    """
    import inspect

    import polygraphy.backend.trt as polygraphy_trt

    given = {}
    for name in ("CreateConfig", "PostprocessConfig", "PostprocessNetwork", "EngineBytesFromNetwork"):
        base = getattr(polygraphy_trt, name)

        def __init__(self, *args, _base=base, **kwargs):
            bound = inspect.signature(_base.__init__).bind(self, *args, **kwargs)
            bound.apply_defaults()
            given[self] = {key: value for key, value in bound.arguments.items() if key != "self"}
            _base.__init__(self, *args, **kwargs)

        monkeypatch.setattr(polygraphy_trt, name, type(name, (base,), {"__init__": __init__}))
    return given


def test_strongly_typed_loader_chain(tiny_dynamic, tmp_path, loaders):
    plan = _plan(tiny_dynamic, tmp_path, timing_cache=tmp_path / "timing.cache", workspace_gb=1)
    chain = loader_chain(plan)
    assert isinstance(chain, EngineBytesFromNetwork) and chain.timing_cache_path == str(tmp_path / "timing.cache")
    network, postprocess = loaders[chain]["network"], loaders[chain]["config"]
    assert isinstance(network, NetworkFromOnnxChecked)
    assert network.path == tiny_dynamic and network.strongly_typed is True
    assert isinstance(postprocess, PostprocessConfig)
    config, build = loaders[postprocess]["config"], loaders[postprocess]["func"]
    assert isinstance(config, CreateConfig)
    assert (config.fp16, config.int8, config.tf32, config.precision_constraints) == (False, False, False, None)
    assert config.timing_cache_path is None  # no cache file yet: nothing to load
    (profile,) = config.profiles
    assert profile["image"].min == (1, 3, 64, 96) and profile["image"].max == (8, 3, 64, 96)
    assert isinstance(build, ConfigureBuild) and build.workspace_bytes == 2**30 and config.calibrator is None


def test_a_size_profile_goes_to_create_config(tmp_path, loaders):
    path = dynamic_graph(tmp_path / "g.onnx", io="frame", batch=None)
    (profile,) = _create_config(loaders, loader_chain(_plan(path, tmp_path, size_profile="120x160:480x640:720x1280",
                                                            batch_profile=(1, 1, 2)))).profiles
    shapes = profile["frame"]
    assert (shapes.min, shapes.opt, shapes.max) == ((1, 120, 160, 3), (1, 480, 640, 3), (2, 720, 1280, 3))


def _create_config(loaders, chain):
    """The CreateConfig inside ``chain``'s PostprocessConfig."""
    return loaders[loaders[chain]["config"]]["config"]


def test_an_existing_timing_cache_is_loaded(tiny_onnx, tmp_path, loaders):
    (tmp_path / "timing.cache").write_bytes(b"cache")
    chain = loader_chain(_plan(tiny_onnx("test-N"), tmp_path, timing_cache=tmp_path / "timing.cache"))
    assert _create_config(loaders, chain).timing_cache_path == str(tmp_path / "timing.cache")


def test_legacy_loader_chain_gives_the_calibrator_to_create_config(tiny_dynamic, tiny_calib, tmp_path, monkeypatch,
                                                                   loaders):
    made = []
    monkeypatch.setattr(plan_module, "entropy_calibrator", lambda calibration: made.append(calibration) or "calibrator")
    plan = _plan(tiny_dynamic, tmp_path, precision="int8", calib=tiny_calib, legacy_precision=True)
    chain = loader_chain(plan)
    pinned = loaders[chain]["network"]
    assert isinstance(pinned, PostprocessNetwork) and pinned.name == "PinLayers"
    assert isinstance(loaders[pinned]["network"], NetworkFromOnnxChecked)
    assert isinstance(loaders[pinned]["func"], PinLayers) and loaders[pinned]["func"].pins == plan.layer_pins
    config = _create_config(loaders, chain)
    assert (config.fp16, config.int8, config.precision_constraints) == (True, True, "obey")
    # Polygraphy sets the calibration profile (needed for a dynamic batch) only for a calibrator it was given
    assert config.calibrator == "calibrator" and made == [plan.calibration] and len(config.profiles) == 1
    assert _plan(tiny_dynamic, tmp_path, precision="fp16", legacy_precision=True).calibration is None
    assert _create_config(loaders, loader_chain(_plan(tiny_dynamic, tmp_path))).calibrator is None


# ------------------------------------------------------------------ what runs inside the build

def test_onnx_node_of_a_layer():
    nodes = {"/encoder/blocks.0/attn/Softmax": "fp32", "/head/Conv": "fp16"}
    assert onnx_node_of("Softmax_17", "[ONNX Layer: /encoder/blocks.0/attn/Softmax]", nodes) == "/encoder/blocks.0/attn/Softmax"
    fused = "[ONNX Layer: /other/Add]\x1f[ONNX Layer: /head/Conv]"
    assert onnx_node_of("fused", fused, nodes) == "/head/Conv"
    assert onnx_node_of("/head/Conv_output_0", "", nodes) == "/head/Conv"
    assert onnx_node_of("/head/Conv", "", nodes) == "/head/Conv"
    assert onnx_node_of("/head/Relu", "[ONNX Layer: /head/Relu]", nodes) is None


def _layer(name, metadata="", dtype="f32"):
    return FakeLayer10(name, None, [FakeTensor(f"{name}_out", (1,), dtype)], metadata)


@pytest.fixture
def fake_tensorrt(monkeypatch):
    """A stand-in module for the few TensorRT names these callables use (no TensorRT object is made)."""
    fake = types.SimpleNamespace(float32="f32", float16="f16", MemoryPoolType=types.SimpleNamespace(WORKSPACE="ws"),
                                 __version__="10.16.1.11")
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    return fake


def test_pin_layers_sets_precision_and_output_types(fake_tensorrt):
    soft, conv, other = _layer("s", "[ONNX Layer: /a/Softmax]"), _layer("/b/Conv"), _layer("x", dtype="int32")
    PinLayers({"/a/Softmax": "fp32", "/b/Conv": "fp16", "x": "fp32"})(FakeNetwork([], [soft, conv, other]))
    assert (soft.precision, soft.output_types) == ("f32", {0: "f32"})
    assert (conv.precision, conv.output_types) == ("f16", {0: "f16"})
    assert other.precision == "f32" and other.output_types == {}  # integer outputs keep their type


def test_pin_layers_refuses_to_lose_every_island(fake_tensorrt):
    with pytest.raises(ZoeExportError, match="no TensorRT layer could be matched"):
        PinLayers({"/a/Softmax": "fp32"})(FakeNetwork([], [_layer("unrelated")]))


def test_pinning_layers_needs_tensorrt_10(fake_tensorrt):
    fake_tensorrt.__version__ = "11.4.0.106"  # ILayer.precision and set_output_type are gone
    with pytest.raises(ZoeExportError, match="needs TensorRT 10; this is TensorRT 11"):
        PinLayers({"x": "fp32"})(FakeNetwork([], [_layer("x")]))


def test_configure_build_sets_the_workspace(fake_tensorrt):
    calls = []
    config = types.SimpleNamespace(set_memory_pool_limit=lambda pool, size: calls.append((pool, size)))
    ConfigureBuild(3 * 2**30)(None, None, config)
    assert calls == [("ws", 3 * 2**30)]
    ConfigureBuild(None)(None, None, config)
    assert len(calls) == 1


def test_configure_build_reports_progress_to_the_monitor(fake_tensorrt):
    from zoe_export.trt.progress import BuildProgress

    fake_tensorrt.IProgressMonitor = type("IProgressMonitor", (), {"__init__": lambda self: None})
    progress = BuildProgress(bars=False)
    config = types.SimpleNamespace()
    ConfigureBuild(None, progress)(None, None, config)
    monitor = config.progress_monitor
    assert isinstance(monitor, fake_tensorrt.IProgressMonitor)
    monitor.phase_start("Building engine", None, 2)
    assert monitor.step_complete("Building engine", 0) is True
    progress.cancelled = True
    assert monitor.step_complete("Building engine", 1) is False
