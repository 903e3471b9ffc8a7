"""zoe-bench at one model size (size=) and end to end on a frame (frame=): options, the checks made before
anything runs, the frame timer, a run on tiny stand-in graphs (tests/fakes/graphs.py) and the report."""
import shutil

import numpy as np
import pytest
from fakes.graphs import dynamic_graph

from zoe_export.bench.backends import onnx_spec, torch_spec
from zoe_export.bench.report import format_table, markdown_report
from zoe_export.bench.session import BenchOptions, bench_frame, check_sizes, run_benchmark
from zoe_export.bench.timing import FrameTimer, HostTimer
from zoe_export.errors import ZoeExportError
from zoe_export.runtime import DepthEngine


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_graphs")
    made = {"dyn": dynamic_graph(folder / "dyn.onnx"), "frame": dynamic_graph(folder / "frame.onnx", io="frame"),
            "fixed": dynamic_graph(folder / "fixed.onnx", size_range=None, fixed_size=(64, 96))}
    made["dyn2"] = shutil.copy(made["dyn"], folder / "dyn2.onnx")
    return made


@pytest.mark.parametrize("options, match", [
    (BenchOptions(size=(64, 96), frame=(72, 100)), "size= and frame= exclude each other"),
    (BenchOptions(frame=(72, 100), batch_sizes=(1, 2)), "drop batch_sizes="),
    (BenchOptions(frame=(72, 100), parity=True), "drop parity=True"),
    (BenchOptions(frame=(72, 100), profile=True), "drop profile=True"),
    (BenchOptions(size=(64, 100)), r"size= \(64, 100\): give a height and width, multiples of 32"),
    (BenchOptions(frame=(0, 100)), r"frame= \(0, 100\): give a height and width, whole numbers"),
])
def test_options_are_checked(options, match):
    with pytest.raises(ZoeExportError, match=match):
        options.validate()


def test_what_each_backend_is_timed_on_is_checked_before_anything_runs(graphs):
    dyn, frame, fixed = (onnx_spec(str(graphs[k]), "cpu") for k in ("dyn", "frame", "fixed"))
    check_sizes([dyn, fixed], BenchOptions())
    check_sizes([dyn], BenchOptions(size=(64, 192)))
    check_sizes([dyn, frame, fixed], BenchOptions(frame=(72, 100)))
    for specs, options, match in [
        ([dyn, frame], BenchOptions(), r"\(frame.onnx\): it is a frame graph .*frame=\(H, W\)"),
        ([frame], BenchOptions(size=(64, 96)), "it is a frame graph"),
        ([fixed], BenchOptions(size=(64, 128)), r"\(fixed.onnx\): size= 64x128: this graph is fixed at 64x96"),
        ([dyn], BenchOptions(size=(64, 256)), r"\(dyn.onnx\): size= 64x256 is outside this graph's range 32x32:128"),
        ([dyn], BenchOptions(frame=(40, 400)), r"a 40x400 frame's model size .* is outside this graph's range"),
    ]:
        with pytest.raises(ZoeExportError, match=match):
            check_sizes(specs, options)


def test_the_pytorch_model_must_be_built_at_the_size(graphs):
    check_sizes([torch_spec("test-N", weights="random")], BenchOptions(size=(64, 96)))
    check_sizes([torch_spec("test-N", weights="random", dynamic_size="32x32:128x192")], BenchOptions(size=(64, 160)))
    with pytest.raises(ZoeExportError, match="the PyTorch model is built at 64x96: build it at that size with height= "
                                             "64 width= 160"):
        check_sizes([torch_spec("test-N", weights="random")], BenchOptions(size=(64, 160)))
    with pytest.raises(ZoeExportError, match="outside this graph's range"):  # the parity reference counts too
        check_sizes([onnx_spec(str(graphs["dyn"]), "cpu")], BenchOptions(size=(64, 160), parity=True),
                    torch_spec("test-N", weights="random", dynamic_size="32x32:64x128"))


def test_the_frame_timer_times_predict_stage_by_stage(graphs):
    frame = bench_frame((72, 100))
    assert frame.shape == (72, 100, 3) and frame.dtype == np.uint8 and frame.std() > 10  # a scene, not a flat image
    with DepthEngine(graphs["dyn"]) as engine:
        timer = FrameTimer(engine, frame)
        stages = timer.iteration(1)
        assert set(stages) == {"preprocess", "compute", "postprocess"} and all(v >= 0 for v in stages.values())
        assert timer.plan.path == "host" and timer.plan.model_size == engine.plan(72, 100).model_size
        with pytest.raises(ZoeExportError, match="one frame per call"):
            timer.iteration(2)
        with pytest.raises(ZoeExportError, match="does not combine with frame="):
            timer.prepare_batch(1)


def test_the_model_size_timer_runs_at_its_size(graphs):
    with DepthEngine(graphs["dyn"]) as engine:
        timer = HostTimer(engine, [bench_frame((40, 50))])
        assert timer.size == (64, 96) and timer.fit == "stretch"  # the card's default size, not "minimal"
        timer.size = (32, 160)
        prepared, x = timer.prepare_batch(2)
        assert x.shape == (2, 3, 32, 160)
        assert timer.iteration(2)["compute"] >= 0


@pytest.mark.slow
def test_a_frame_run_says_each_path_and_compares_what_computes_the_same(graphs, tmp_path):
    specs = [onnx_spec(str(graphs[k]), "cpu") for k in ("dyn", "dyn2", "frame", "fixed")]
    result = run_benchmark(specs, BenchOptions(frame=(40, 130), iters=2, warmup=0, progress=False))
    dyn, dyn2, frame, fixed = result["backends"]
    assert [b["error"] for b in result["backends"]] == [None] * 4 and result["failures"] == []
    assert result["options"]["frame"] == "40x130"
    for backend in result["backends"]:
        assert backend["batches"]["1"]["iterations"] == 2
        assert set(backend["batches"]["1"]["stages_ms"]) == {"preprocess", "compute", "postprocess"}
    assert (dyn["frame"]["path"], dyn["frame"]["model_size"], dyn["frame"]["fit"]) == ("host", [64, 160], "minimal")
    assert dyn["model"]["height"] == 64 and dyn["model"]["width"] == 160  # the size the frame ran at
    assert (fixed["frame"]["path"], fixed["frame"]["model_size"]) == ("host", [64, 96])
    assert (frame["frame"]["path"], frame["frame"]["flip"]) == ("frame graph", False)
    assert dyn["frame"]["compared"] == 1 and dyn["frame"]["reference"] is None
    assert dyn2["frame"]["reference"] == dyn["name"] and dyn2["frame"]["rel"] == 0.0  # the same graph: same depth
    for other in (frame, fixed):  # another model size, or no flip: nothing to compare with
        assert other["frame"]["rel"] is None and "no other backend computes the same" in other["frame"]["note"]
    table = format_table(result)
    assert "host 64x160 minimal flip" in table and "frame graph 64x96" in table and "frame REL" in table
    assert "one DepthEngine.predict of a 40x130 frame" in table
    report = markdown_report(result)
    assert "## Frame (40x130)" in report and f"| {dyn2['name']} | host | 64x160 | minimal | yes | yes | 0 |" in report


@pytest.mark.slow
def test_a_size_run_times_a_dynamic_graph_there(graphs):
    specs = [onnx_spec(str(graphs["dyn"]), "cpu"), onnx_spec(str(graphs["dyn2"]), "cpu")]
    result = run_benchmark(specs, BenchOptions(size=(32, 192), iters=2, warmup=0, progress=False))
    for backend in result["backends"]:
        assert (backend["model"]["height"], backend["model"]["width"]) == (32, 192) and backend["frame"] is None
        assert backend["batches"]["1"]["iterations"] == 2
    assert result["options"]["size"] == "32x192" and "at model size 32x192" in format_table(result)
    default = run_benchmark(specs[:1], BenchOptions(iters=1, warmup=0, progress=False))
    assert (default["backends"][0]["model"]["height"], default["backends"][0]["model"]["width"]) == (64, 96)


def _frame_result(plans):
    figures = {"iterations": 1, "latency_ms": {"p50": 2.0}, "stages_ms": {"compute": {"p50": 1.0}}}
    backends = [{"name": name, "precision": "fp32", "device": "cpu", "frame": plan, "batches": {"1": figures}}
                for name, plan in plans]
    return {"backends": backends, "base": plans[0][0], "options": {"batch_sizes": [1], "frame": "40x130"}}


def test_the_tables_show_the_path_and_the_frame_rel():
    plan = {"path": "host", "frame": [40, 130], "model_size": [64, 160], "fit": "minimal", "pad_input": True,
            "flip": True, "text": "host 64x160 minimal flip"}
    result = _frame_result([("a", {**plan, "compared": 1}), ("b", {**plan, "rel": 2.5e-6, "reference": "a"}),
                            ("c", {**plan, "text": "frame graph 64x96", "compared": 0})])
    lines = format_table(result).splitlines()
    header = lines[0].split()
    assert header[-3:] == ["path", "frame", "REL"]
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert rows["a"].endswith("ref") and rows["b"].endswith("2.5e-06") and rows["c"].endswith("-")
    plain = {**result, "options": {"batch_sizes": [1]}, "backends": [{**b, "frame": None} for b in result["backends"]]}
    assert "frame REL" not in format_table(plain) and "## Frame" not in markdown_report(plain)
