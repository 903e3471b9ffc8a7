"""The precision stage on dynamic-size graphs: FP16 and INT8 graphs that take every size of the FP32 graph's range.

The tiny export (the session's shared dynamic_n) takes test-N at 32x32 to 192x256; its default size, where
it is calibrated and measured by default, is 64x96.
"""
import dataclasses
import json

import onnx
import pytest

from zoe_export.compare.metrics import compare_outputs
from zoe_export.errors import ZoeExportError
from zoe_export.export import read_card
from zoe_export.export.inputs import verification_inputs
from zoe_export.precision import PrecisionOptions, convert_graph, convert_precision
from zoe_export.precision.graph import restore_shapes
from zoe_export.precision.modelopt_backend import modelopt_version
from zoe_export.registry import get_precision
from zoe_export.runtime import OnnxrtRunner
from zoe_export.sizes import SizeRange

pytestmark = pytest.mark.slow  # each needs the tiny dynamic-size export (~20 s, once per session) or a conversion

BACKENDS = ["builtin", pytest.param("modelopt", marks=pytest.mark.skipif(
    modelopt_version() is None, reason="nvidia-modelopt is not installed (pip install 'zoe-export[modelopt]')"))]
#: the range's ends, the default size, the other aspect ratio, and a long thin size
SIZES = [(32, 32), (64, 96), (96, 64), (32, 192), (192, 256)]
#: the range of the tiny export (the tiny_dynamic_size fixture)
DYNAMIC_RANGE = "32x32:192x256"
#: the INT8 accuracy budget of these conversions (REL on held-out samples, recorded in the card)
BUDGET = 0.01


@pytest.fixture(scope="session")
def dynamic_converted(tiny_dynamic_size, tiny_calib, tmp_path_factory):
    """(precision, backend) -> (path, manifest): the tiny dynamic-size export converted (INT8: calibrated at 64x96)."""
    folder = tmp_path_factory.mktemp("dynamic-converted")
    made = {}

    def get(precision: str, backend: str):
        if (precision, backend) not in made:
            options = PrecisionOptions("fp16", backend=backend) if precision == "fp16" else PrecisionOptions(
                "int8", calib=tiny_calib, calib_method="max", max_rel_drift=BUDGET, backend=backend)
            path = folder / f"n_dyn_{precision}_{backend}.onnx"
            made[precision, backend] = path, convert_precision(tiny_dynamic_size, path, options, progress=False)
        return made[precision, backend]

    return get


def _outputs(path, feeds, graph_optimization):
    with OnnxrtRunner(path, graph_optimization=graph_optimization) as runner:
        return [runner.infer(feed) for feed in feeds]


def _feeds(sizes=SIZES):
    """The structured scene and noise at each size."""
    return [{"image": array} for size in sizes for array in verification_inputs(*size, "float-nchw", 1).values()]


def _assert_matches_fp32_across_the_range(converted, fp32, tolerance):
    feeds = _feeds()
    reference = _outputs(fp32, feeds, "disabled")
    for graph_optimization in ("disabled", "all"):  # "all": what broke on ModelOpt's shapes (buffers reused by symbol)
        for feed, out, ref in zip(feeds, _outputs(converted, feeds, graph_optimization), reference):
            assert out["metric_depth"].shape == ref["metric_depth"].shape == (1, 1, *feed["image"].shape[2:])
            failures = [f for r in compare_outputs(out, ref, tolerance) for f in r.failures]
            assert not failures, (feed["image"].shape, graph_optimization, failures)


def _free_size(path):
    dims = onnx.load(path, load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


@pytest.mark.parametrize("backend", BACKENDS)
def test_fp16_of_a_dynamic_graph_takes_its_whole_range(backend, dynamic_converted, tiny_dynamic_size):
    path, manifest = dynamic_converted("fp16", backend)
    card = read_card(path)
    assert card.precision == "fp16" and card.size_range == SizeRange.parse(DYNAMIC_RANGE) and card.size == (64, 96)
    assert _free_size(path) == _free_size(tiny_dynamic_size) and isinstance(_free_size(path)[2], str)
    _assert_matches_fp32_across_the_range(path, tiny_dynamic_size, get_precision("fp16").tolerance)
    # measured at the default size and at the range's ends, and says so
    assert manifest["sizes"] == {"size_range": DYNAMIC_RANGE, "default": "64x96", "calibration": None,
                                 "parity": ["32x32", "64x96", "192x256"]}
    assert {"input0", "input1", "32x32 input0", "192x256 input0"} == set(manifest["parity"]["cases"])
    assert manifest["parity"]["passed"] and manifest["parity"]["sizes"] == ["32x32", "64x96", "192x256"]
    assert json.loads(path.with_name(path.name + ".json").read_text())["sizes"] == manifest["sizes"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_int8_of_a_dynamic_graph_takes_its_whole_range_within_budget(backend, dynamic_converted, tiny_dynamic_size,
                                                                     tiny_calib):
    path, manifest = dynamic_converted("int8", backend)
    card = read_card(path)
    assert card.precision == "int8" and card.size_range == SizeRange.parse(DYNAMIC_RANGE)
    assert _free_size(path) == _free_size(tiny_dynamic_size)
    assert card.int8_budget_rel == BUDGET and manifest["search"]["met"]
    # INT8's bound is the budget the card records; the registry's bounds (finite values, routing) hold too
    bound = dataclasses.replace(get_precision("int8").tolerance, max_rel=card.int8_budget_rel)
    _assert_matches_fp32_across_the_range(path, tiny_dynamic_size, bound)
    assert manifest["sizes"] == {"size_range": DYNAMIC_RANGE, "default": "64x96", "calibration": ["64x96"],
                                 "parity": ["32x32", "64x96", "192x256"]}
    assert manifest["calibration"]["sizes"] == ["64x96"] and manifest["calibration"]["sets"][0]["size"] == "64x96"


def test_calibration_runs_at_the_sets_size_within_the_range(tiny_dynamic_size, calib_at, tmp_path):
    out = tmp_path / "int8_96x128.onnx"
    manifest = convert_precision(tiny_dynamic_size, out, PrecisionOptions(
        "int8", calib=calib_at(96, 128), calib_method="max", holdout=1, backend="builtin"), progress=False)
    assert manifest["sizes"]["calibration"] == ["96x128"]
    assert manifest["sizes"]["parity"] == ["32x32", "64x96", "96x128", "192x256"]  # held out at the set's size
    heldout = [case for case in manifest["parity"]["cases"] if case.startswith("heldout:")]
    assert len(heldout) == 1 and manifest["parity"]["heldout"]["cases"] == 1
    assert _outputs(out, _feeds([(32, 32), (192, 256)]), "all")  # runs at the ends


def test_a_mix_of_sizes_calibrates_and_measures_at_each(tiny_dynamic_size, tiny_calib, calib_at, tmp_path):
    from zoe_export.calib import CalibrationSet

    sets = (tiny_calib, calib_at(96, 128))
    out = tmp_path / "int8_mix.onnx"
    manifest = convert_precision(tiny_dynamic_size, out, PrecisionOptions(
        "int8", calib=sets, calib_method="max", holdout=1, backend="builtin"), progress=False)
    calibration = manifest["calibration"]
    assert calibration["sizes"] == ["64x96", "96x128"] and calibration["samples"] == 9 + 4
    assert [s["samples"] for s in calibration["sets"]] == [9, 4]
    ids = [CalibrationSet(s).id for s in sets]
    assert calibration["id"] == "+".join(ids) == read_card(out).calibration.set_id
    heldout = sorted(case for case in manifest["parity"]["cases"] if case.startswith("heldout:"))
    assert [case.split(":")[1] for case in heldout] == ["64x96", "96x128"]  # one held out of each set
    assert manifest["sizes"]["calibration"] == ["64x96", "96x128"]


def test_ranges_from_a_mix_cover_every_size(tiny_dynamic_size, tiny_calib, calib_at):
    from zoe_export.calib import CalibrationSet, open_calibration
    from zoe_export.precision import calibrate, select_int8
    from zoe_export.precision.int8 import activation_inputs

    model = onnx.load(tiny_dynamic_size)
    tensors = activation_inputs(model, select_int8(model).quantize)[:6]
    alone = [calibrate(model, tensors, iter(CalibrationSet(s)), "max", progress=False)
             for s in (tiny_calib, calib_at(96, 128))]
    mixed = calibrate(model, tensors, iter(open_calibration([tiny_calib, calib_at(96, 128)])), "max", progress=False)
    for tensor in tensors:
        assert mixed[tensor] == (min(a[tensor][0] for a in alone), max(a[tensor][1] for a in alone))


def test_a_set_outside_the_range_is_refused_before_the_slow_part(tiny_dynamic_size, calib_at, tmp_path, monkeypatch):
    import zoe_export.precision.convert as convert

    monkeypatch.setattr(convert, "compute_references", lambda *a: pytest.fail("the slow part started"))
    with pytest.raises(ZoeExportError, match=r"224x96 inputs, outside the size range 32x32:192x256 .*"
                                             r"zoe-export calib --height 64 --width 96"):
        convert_precision(tiny_dynamic_size, tmp_path / "x.onnx",
                          PrecisionOptions("int8", calib=calib_at(224, 96), backend="builtin"))
    with pytest.raises(ZoeExportError, match="outside the size range"):  # one set of a mix is enough
        convert_precision(tiny_dynamic_size, tmp_path / "x.onnx",
                          PrecisionOptions("int8", calib=(calib_at(64, 96), calib_at(224, 96)), backend="builtin"))
    assert not any(tmp_path.iterdir())


def test_export_and_convert_refuses_a_set_outside_the_range_before_exporting(calib_at, tmp_path, monkeypatch):
    import zoe_export.export as export
    from zoe_export.models import load_model
    from zoe_export.precision import export_and_convert

    monkeypatch.setattr(export, "export_onnx", lambda *a, **k: pytest.fail("exported"))
    model = load_model("test-N", weights="random", dynamic_size=DYNAMIC_RANGE)
    refused = r"32x288 inputs, outside the size range 32x32:192x256 of test-N \(float-nchw\)"
    with pytest.raises(ZoeExportError, match=refused):
        export_and_convert(model, tmp_path / "x.onnx",
                           precision_options=PrecisionOptions("int8", calib=calib_at(32, 288), backend="builtin"))


def test_convert_graph_measures_against_the_dynamic_pytorch_model(tiny_dynamic_size, tmp_path):
    """``zoe-export trt --onnx dyn.onnx --fp16`` converts this way: the reference is rebuilt from the card's seed."""
    manifest = convert_graph(tiny_dynamic_size, tmp_path / "g.onnx", PrecisionOptions("fp16", backend="builtin"))
    assert manifest["reference"] == "PyTorch (FP32)" and manifest["parity"]["passed"]
    assert manifest["sizes"]["parity"] == ["32x32", "64x96", "192x256"]


def test_range_ends_can_be_left_out(tiny_dynamic_size, tmp_path):
    manifest = convert_precision(tiny_dynamic_size, tmp_path / "d.onnx",
                                 PrecisionOptions("fp16", backend="builtin", range_ends=False), progress=False)
    assert manifest["sizes"]["parity"] == ["64x96"] and set(manifest["parity"]["cases"]) == {"input0", "input1"}


def test_restore_shapes_undoes_placeholder_symbols(tiny_dynamic_size):
    """What ModelOpt does to a graph's shapes (every concrete dim -> ``unk``), undone: the source's declarations."""
    source = onnx.load(tiny_dynamic_size)
    mangled = onnx.ModelProto()
    mangled.CopyFrom(source)
    for value in (*mangled.graph.value_info, *mangled.graph.output):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_value:
                dim.dim_param = "unk"
    produced = {name for node in source.graph.node for name in node.output}
    target = next(v for v in mangled.graph.value_info if v.name in produced and len(v.type.tensor_type.shape.dim) == 4)
    after = next(i for i, n in enumerate(mangled.graph.node) if target.name in n.output)
    cast = onnx.helper.make_node("Cast", [target.name], ["extra/cast"], name="extra", to=10)
    mangled.graph.node.insert(after + 1, cast)  # a converter's new tensor (nothing reads it) with a placeholder shape
    mangled.graph.value_info.append(onnx.helper.make_tensor_value_info("extra/cast", 10, ["unk"] * 4))
    mangled.graph.value_info.append(onnx.helper.make_tensor_value_info("gone", 1, ["unk"]))  # written by no node
    assert restore_shapes(mangled, source) > 0
    shapes = {v.name: v.type.tensor_type.shape for v in (*mangled.graph.value_info, *mangled.graph.output)}
    assert "gone" not in shapes
    assert set(shapes) == {v.name for v in (*source.graph.value_info, *source.graph.output)} & produced | {"extra/cast"}
    for value in (*source.graph.value_info, *source.graph.output):
        if value.name in produced:
            assert shapes[value.name] == value.type.tensor_type.shape, value.name
    assert shapes["extra/cast"] == shapes[cast.input[0]]
    assert not any(d.dim_param == "unk" for shape in shapes.values() for d in shape.dim)
