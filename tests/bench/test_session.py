"""zoe-bench runs: workers, interleaved rounds, budgets, parity, goals, interruption."""
import pytest

from zoe_export.bench import session
from zoe_export.bench.backends import BackendSpec, onnx_spec
from zoe_export.bench.session import BenchOptions, goals, run_benchmark
from zoe_export.bench.worker import Worker, WorkerError

TORCH = BackendSpec("torch", "test-N", "cpu", "fp32", {"weights": "random"})


@pytest.mark.slow
def test_an_interleaved_run_with_parity(tiny_dynamic, tiny_converted, tmp_path):
    int8 = onnx_spec(str(tiny_converted("int8")), "cpu")
    specs = [TORCH, onnx_spec(str(tiny_dynamic), "cpu"), int8]
    result = run_benchmark(specs, BenchOptions(batch_sizes=(1, 2), iters=3, parity=True, output=tmp_path,
                                               progress=False))
    base, fp32, q = result["backends"]
    assert result["base"] == "torch fp32 cpu" and not result["interrupted"]
    assert [b["error"] for b in result["backends"]] == [None, None, None]
    for backend in (base, fp32):
        for batch in ("1", "2"):
            figures = backend["batches"][batch]
            assert figures["iterations"] == 3 and figures["rounds"] >= 1
            assert set(figures["stages_ms"]) == {"preprocess", "compute", "postprocess"}
            assert 0 < figures["compute_ms"]["min"] <= figures["compute_ms"]["p50"] <= figures["latency_ms"]["p50"]
    assert base["batches"]["1"]["ratio_to_base"] == 1.0 and fp32["batches"]["2"]["ratio_to_base"] > 0
    assert "fixed batch of 1" in q["batches"]["2"]["skipped"] and q["batches"]["1"]["iterations"] == 3
    assert base["peak_rss_mb"] > 100 and base["clock"] == "perf_counter"
    assert fp32["parity"]["passed"] is True and fp32["parity"]["overall"]["rel"] < 1e-5  # FP32 bound
    assert q["parity"]["passed"] is None and q["parity"]["bound"] is None  # no INT8 budget recorded: measured only
    assert q["parity"]["overall"]["rel"] > fp32["parity"]["overall"]["rel"]
    assert all((tmp_path / p).is_file() for p in fp32["parity"]["pictures"]) and len(fp32["parity"]["pictures"]) == 2
    assert base["parity"] is None  # the reference itself
    assert [(g["metric"], g["comparison"], g["value"]) for g in result["goals"]] == [
        ("ratio", "<=", 1.0), ("speedup", ">=", 2.5), ("speedup", ">=", 4.0), ("speedup", ">=", 4.0)]  # CPU: b1, b2
    assert result["failures"] == [] and len(result["warnings"]) == 1  # the skipped batch, said in the console too
    assert result["warnings"][0].startswith(f"SKIPPED {q['name']} batch 2: the graph has a fixed batch of 1")


def test_failed_checks_are_parity_out_of_bound_non_finite_or_not_measured():
    def backend(name, parity):
        return {"name": name, "parity": parity}

    bound = {"max_rel": 1e-5, "min_delta1": 1.0}
    result = {"backends": [
        backend("ok", {"passed": True, "bound": bound, "overall": {"rel": 1e-7, "delta1": 1.0}, "reference": "r"}),
        backend("far", {"passed": False, "bound": bound, "overall": {"rel": 0.98, "delta1": 0.0}, "reference": "r",
                        "finite": True}),
        backend("nan", {"passed": False, "bound": bound, "overall": {"rel": float("nan"), "delta1": 0.0},
                        "reference": "r", "finite": False}),
        backend("unbounded", {"passed": None, "bound": None, "overall": {"rel": 0.1, "delta1": 0.9}}),
        backend("size", {"error": "input size 64x64 differs from the reference's 64x96"}),
        backend("no parity", None)]}
    found = session.failed_checks(result)
    assert [line.split(":")[0] for line in found] == ["PARITY FAIL far", "PARITY FAIL nan", "PARITY NOT MEASURED size"]
    assert "REL 0.98 (bound 1e-05), delta1 0.0000 (bound 1)" in found[0] and "non-finite output" in found[1]


@pytest.mark.slow
def test_a_time_budget_gives_at_least_three_iterations(tiny_onnx):
    result = run_benchmark([onnx_spec(str(tiny_onnx("test-N")), "cpu")], BenchOptions(seconds=0.05, progress=False))
    assert result["backends"][0]["batches"]["1"]["iterations"] >= 3


@pytest.mark.slow
def test_a_failing_backend_is_recorded_and_the_others_go_on(tiny_onnx, tmp_path):
    broken = BackendSpec("onnxruntime", str(tmp_path / "missing.onnx"), "cpu", "fp32", {"providers": ["CPUExecutionProvider"]})
    result = run_benchmark([onnx_spec(str(tiny_onnx("test-N")), "cpu"), broken], BenchOptions(iters=2, progress=False))
    assert result["backends"][0]["batches"]["1"]["iterations"] == 2
    assert "does not exist" in result["backends"][1]["error"] and result["backends"][1]["batches"] == {}


class _FakeWorker:
    """Stands in for a worker process: each run takes 10 ms of 'compute'; Ctrl-C on the 4th run."""

    calls = 0

    def __init__(self, spec):
        self.spec = spec

    def call(self, command, *args):
        if command == "open":
            return {"load_s": 0.1, "clock": "perf_counter", "height": 64, "width": 96, "batch": None,
                    "input_format": "float-nchw", "peak_rss_mb": 1.0, "peak_gpu_mb": None}
        if command == "run":
            _FakeWorker.calls += 1
            if _FakeWorker.calls == 4:
                raise KeyboardInterrupt
            return [{"preprocess": 0.001, "compute": 0.01, "postprocess": 0.001}] * args[1]
        return {"peak_rss_mb": 2.0, "peak_gpu_mb": None}

    def drain(self, timeout=0):
        return True

    def close(self):
        pass


def test_ctrl_c_stops_cleanly_and_keeps_what_was_measured(monkeypatch):
    monkeypatch.setattr(session, "Worker", _FakeWorker)
    monkeypatch.setattr(session, "ROUND_SECONDS", 0.01)
    specs = [TORCH, BackendSpec("onnxruntime", "m.onnx", "cpu", "fp32")]
    result = run_benchmark(specs, BenchOptions(iters=10, progress=False))
    assert result["interrupted"] is True
    timed = [b["batches"]["1"]["iterations"] for b in result["backends"]]
    assert timed == [1, 0]  # warm-ups (2 runs), one round of the base, then Ctrl-C
    assert result["backends"][0]["peak_rss_mb"] == 2.0


def test_a_dead_worker_is_an_error_not_a_hang():
    worker = Worker(BackendSpec("torch", "test-N", "cpu", "fp32", {"weights": "random"}))
    worker.process.kill()
    worker.process.join()
    with pytest.raises(WorkerError, match="worker process died"):
        worker.call("memory")
    worker.close()


def _result(kind, precision, ratio, parity=None):
    base = {"name": "torch fp32 cpu", "kind": "torch", "precision": "fp32", "device": "cpu", "batches": {"1": {}}}
    other = {"name": f"{kind} {precision}", "kind": kind, "precision": precision, "device": "cpu",
             "batches": {"1": {"ratio_to_base": ratio}}, "parity": parity}
    return {"backends": [base, other]}


def test_goals():
    (g,) = goals(_result("onnxruntime", "fp32", 0.9))
    assert g["met"] and g["measured"] == 0.9
    (g,) = goals(_result("onnxruntime", "fp32", 1.1))
    assert not g["met"]
    (g,) = goals(_result("onnxruntime", "int8", 0.5, {"passed": True}))
    assert g["measured"] == 2.0 and not g["met"]
    (g,) = goals(_result("onnxruntime", "int8", 0.25, {"passed": True}))
    assert g["met"]
    (g,) = goals(_result("onnxruntime", "int8", 0.25, {"passed": False}))
    assert not g["met"]  # fast but outside its budget


def _cpu_run(*backends):
    """A CPU run at batch 1: torch FP32 at 1 image/s, then (name, images/s, REL, delta1) per backend."""
    base = {"name": "torch fp32 cpu", "kind": "torch", "precision": "fp32", "device": "cpu",
            "batches": {"1": {"images_per_s": 1.0}}}
    others = [{"name": name, "kind": "openvino", "precision": "bf16", "device": "cpu",
               "batches": {"1": {"images_per_s": rate, "ratio_to_base": 1 / rate}},
               "parity": {"overall": {"rel": rel, "delta1": delta1}, "passed": True}}
              for name, rate, rel, delta1 in backends]
    return {"backends": [base, *others]}


def test_the_cpu_goal_is_the_fastest_backend_within_the_accuracy_bounds():
    (g,) = goals(_cpu_run(("fast but off", 9.0, 5e-3, 1.0), ("bf16", 4.5, 6e-4, 1.0), ("f32", 2.0, 1e-7, 1.0)))
    assert g["met"] and g["measured"] == 4.5 and "bf16" in g["what"] and "REL 6.00e-04" in g["what"]
    (g,) = goals(_cpu_run(("bf16", 3.0, 6e-4, 1.0), ("blurry", 9.0, 1e-4, 0.99)))
    assert not g["met"] and g["measured"] == 3.0  # missed: the faster one fails delta1
    (g,) = goals(_cpu_run(("off", 9.0, 5e-3, 1.0)))
    assert not g["met"] and "no backend is within the accuracy bounds" in g["what"]
    run = _cpu_run(("bf16", 4.5, 6e-4, 1.0))
    run["backends"][1]["parity"] = None
    assert goals(run) == []  # not measured without --parity


def test_options_are_checked():
    for options, message in [(BenchOptions(batch_sizes=(0,)), "positive"), (BenchOptions(iters=2, seconds=1), "exclude"),
                             (BenchOptions(iters=0), "at least 1")]:
        with pytest.raises(Exception, match=message):
            options.validate()


def test_bench_images_are_the_first_readable_images_of_the_folder_hidden_ones_skipped(tmp_path):
    import numpy as np
    from PIL import Image

    from zoe_export.errors import ZoeExportError

    for name in ["b.png", "a/c.jpg", ".a.png", ".cache/d.png", "e.png"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / name)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    assert list(session.bench_images(str(tmp_path), count=3)) == ["c", "b", "e"]  # sorted by path, broken skipped
    with pytest.raises(ZoeExportError, match="no images found"):
        session.bench_images(str(tmp_path / "absent"))


def test_parity_passes_only_within_the_bound_and_says_why_not(monkeypatch):
    import numpy as np

    from zoe_export.bench import parity

    monkeypatch.setattr(parity, "bound", lambda spec: {"max_rel": 0.05, "min_delta1": 0.9})
    spec = BackendSpec("onnxruntime", "m.onnx", "cpu", "int8", {})
    reference = np.ones((1, 1, 4, 4), np.float32)
    inputs = {"a": np.zeros((1, 3, 4, 4), np.float32), "b": np.zeros((1, 3, 4, 4), np.float32)}
    good = parity.compare_backend(spec, "torch", inputs, [reference] * 2, [reference * 1.01] * 2, None)
    assert good["passed"] is True and good["failures"] == []
    nan = reference.copy()
    nan[0, 0, 0, 0] = np.nan
    bad = parity.compare_backend(spec, "torch", inputs, [reference] * 2, [reference * 1.1, nan], None)
    assert bad["passed"] is False and bad["finite"] is False
    assert bad["failures"] == ["a: REL 0.1 > 0.05", "b: 1 non-finite values"]  # b's REL, delta1 are in bounds


def test_the_machine_names_the_cpu_features_and_runtimes_a_cpu_figure_depends_on(monkeypatch, tmp_path):
    from zoe_export.bench import latency

    info = latency.machine_info(torch_used=False)
    assert {"cpu", "cpu_flags", "onnxruntime", "openvino", "tensorrt"} <= set(info)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512f amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(cpuinfo if path == "/proc/cpuinfo" else path,
                                                                           *a, **k))
    assert latency._cpu() == {"cpu": "Test CPU", "cpu_flags": "avx2 avx512f amx_bf16"}
