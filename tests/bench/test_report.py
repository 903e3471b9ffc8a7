"""zoe-bench outputs: console table, markdown report, latency plot, and writing them all or nothing."""
from __future__ import annotations

import copy
import json

import pytest
from PIL import Image

from zoe_export.bench import report
from zoe_export.bench.report import (
    format_table,
    goal_line,
    markdown_report,
    plot_latency,
    write_report,
)
from zoe_export.errors import ZoeExportError


def _stats(p50: float, batch: int, ratio: float | None, *, copies: bool = False) -> dict:
    """One batch's numbers: end-to-end p50 ``p50`` ms, compute about 80 % of it."""
    compute = 0.8 * p50
    stages = {"preprocess": {"p50": 0.1 * p50, "mean": 0.1 * p50},
              "compute": {"p50": compute, "mean": 1.02 * compute},
              "postprocess": {"p50": 0.05 * p50, "mean": 0.05 * p50}}
    if copies:
        stages["h2d"] = stages["d2h"] = {"p50": 0.02 * p50, "mean": 0.02 * p50}
    return {"iterations": 12, "rounds": 4,
            "latency_ms": {"p50": p50, "p90": 1.1 * p50, "p99": 1.2 * p50, "mean": 1.03 * p50, "min": 0.97 * p50},
            "images_per_s": 1000 * batch / (1.03 * p50), "stages_ms": stages, "ratio_to_base": ratio}


def _backend(name: str, kind: str, precision: str, batches: dict, **extra) -> dict:
    return {"name": name, "kind": kind, "precision": precision, "device": "cpu", "source": "M12-N random weights",
            "clock": "perf_counter", "load_s": 1.5, "peak_rss_mb": 2150.0, "peak_gpu_mb": None, "error": None,
            "batches": batches, "parity": None, "profile": None, **extra}


def _parity(passed: bool, rel: float, delta1: float) -> dict:
    return {"reference": "torch fp32", "precision": "int8", "bound": {"max_rel": 0.05, "min_delta1": 0.95},
            "passed": passed, "overall": {"rel": rel, "rmse": 0.2, "delta1": delta1, "max_abs": 1.4},
            "per_image": {"kitchen.png": {"rel": rel * 0.8, "rmse": 0.18, "delta1": 0.97, "max_abs": 1.1},
                          "street.png": {"rel": rel * 1.2, "rmse": 0.22, "delta1": delta1 - 0.01, "max_abs": 1.4}},
            "pictures": ["parity_ort_int8_kitchen.png"]}


@pytest.fixture
def result() -> dict:
    """torch base, ORT FP32 (passes parity), ORT INT8 (fails parity), TensorRT that failed to load."""
    return {
        "command": "zoe-bench --torch --onnx m.onnx --int8 m.int8.onnx --batch 1 2",
        "started": "2025-01-02T03:04:05", "seconds": 321.5, "interrupted": False,
        "machine": {"platform": "Linux-6.1-x86_64", "processor": "x86_64", "cpu_count": 2, "python": "3.11.9",
                    "torch": "2.5.1", "onnxruntime": "1.20.1", "tensorrt": None, "gpu": None},
        "options": {"batch_sizes": [1, 2], "warmup": 2, "iters": 12, "seconds": None, "images": None},
        "base": "torch fp32 cpu",
        "backends": [
            _backend("torch fp32 cpu", "torch", "fp32", {"1": _stats(1000.0, 1, 1.0), "2": _stats(1900.0, 2, 1.0)}),
            _backend("ort fp32 cpu", "onnxruntime", "fp32",
                     {"1": _stats(930.0, 1, 0.93), "2": _stats(1800.0, 2, 0.947)},
                     parity={**_parity(True, 1e-5, 1.0), "precision": "fp32"},
                     profile={"file": "ort_fp32.json", "top_ops": [{"op": "MatMul", "ms": 412.0, "share": 0.41}]}),
            _backend("ort int8 cpu", "onnxruntime", "int8", {"1": _stats(480.0, 1, 0.48), "2": _stats(900.0, 2, 0.47)},
                     parity=_parity(False, 0.08, 0.91)),
            _backend("trt fp16 cuda", "tensorrt", "fp16", {}, device="cuda", clock="cuda-events",
                     error="RuntimeError: no CUDA device\nTraceback line two"),
        ],
        "goals": [
            {"what": "ONNX Runtime FP32 vs PyTorch eager", "target": "ratio <= 1.0", "measured": 0.93, "met": True},
            {"what": "INT8 speedup", "target": "speedup >= 2.5", "measured": 2.1, "met": False},
        ],
    }


def test_table_shows_ratios_parity_verdicts_and_the_failure(result):
    table = format_table(result)
    assert "0.93x" in table and "0.48x" in table and "base" in table
    assert "PASS" in table and "FAIL" in table
    assert "FAILED: RuntimeError: no CUDA device" in table
    assert "ERROR trt fp16 cuda: RuntimeError: no CUDA device (+1 more line in report.md)" in table
    assert "12 timed calls" in table and "in 4 interleaved rounds" in table and "perf_counter" in table
    assert "INTERRUPTED" not in table
    stage_part = table.split("stages, p50 ms")[1]
    assert "preprocess" in stage_part and "h2d" in stage_part


def test_table_rows_line_up(result):
    lines = format_table(result).splitlines()
    header, rule = lines[0], lines[1]
    assert set(rule) <= {"-", " "} and len(rule) == len(header)
    torch_rows = [line for line in lines if line.startswith("torch fp32 cpu")]
    assert len(torch_rows) == 4  # 2 speed rows, 2 stage rows
    assert len(torch_rows[0]) <= len(header)


def test_goal_lines_say_met_or_missed_by_how_much(result):
    assert goal_line(result["goals"][1]) == "INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %"
    assert goal_line(result["goals"][0]) == "ONNX Runtime FP32 vs PyTorch eager: 0.93x, goal <= 1x: met, 7 % to spare"
    assert "not measured" in goal_line({"what": "x", "target": "ratio <= 1", "measured": None, "met": None})
    assert goal_line({"what": "odd", "target": "fast enough", "measured": 3, "met": False}) == \
        "odd: 3, goal fast enough: missed"


def test_markdown_has_every_section(result):
    md = markdown_report(result)
    assert md.startswith("# zoe-bench report")
    assert "zoe-bench --torch --onnx m.onnx" in md and "onnxruntime | 1.20.1" in md
    assert "INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %" in md
    for heading in ("## Machine", "## Options", "## Speed", "## Stages", "## Parity", "## Goals",
                    "## Profile", "## Errors", "## Method"):
        assert heading in md
    assert "### ort int8 cpu: FAIL" in md and "### ort fp32 cpu: PASS" in md
    assert "| street.png |" in md and "no: REL, delta1" in md
    assert "[parity_ort_int8_kitchen.png](parity_ort_int8_kitchen.png)" in md
    assert "![p50 latency and throughput](latency.png)" in md
    assert "| 0.93x |" in md and "Traceback line two" in md


def test_markdown_cells_escape_pipes(result):
    result["backends"][1]["name"] = "ort | fp32"
    md = markdown_report(result)
    assert "ort \\| fp32" in md


def test_interrupted_runs_say_so_everywhere(result, tmp_path):
    result["interrupted"] = True
    del result["backends"][2]["batches"]["2"]  # int8 never reached batch 2
    assert format_table(result).startswith("INTERRUPTED")
    assert "not measured (run interrupted)" in format_table(result)
    assert "**Interrupted**" in markdown_report(result)
    paths = write_report(result, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["interrupted"] is True


def _colours(path) -> int:
    with Image.open(path) as image:
        assert image.size == (1000, 600) and image.format == "PNG"
        return len(image.convert("RGB").getcolors(maxcolors=1 << 20))


def test_plot_is_a_drawn_png_of_the_expected_size(result, tmp_path):
    path = plot_latency(result, tmp_path / "latency.png")
    assert _colours(path) > 20  # text, grid, and one colour per backend


def test_plot_copes_with_one_backend_one_batch_and_nothing_measured(result, tmp_path):
    single = copy.deepcopy(result)
    single["backends"] = single["backends"][:1]
    single["backends"][0]["batches"] = {"1": single["backends"][0]["batches"]["1"]}
    single["options"]["batch_sizes"] = [1]
    assert _colours(plot_latency(single, tmp_path / "one.png")) > 5

    empty = copy.deepcopy(result)
    empty["backends"] = [empty["backends"][3]]  # only the failure
    assert _colours(plot_latency(empty, tmp_path / "none.png")) > 5
    assert "FAILED" in format_table(empty) and "## Errors" in markdown_report(empty)

    holes = copy.deepcopy(result)
    holes["backends"][1]["batches"]["2"]["latency_ms"] = {"p50": None}
    holes["backends"][1]["batches"]["2"]["images_per_s"] = float("nan")
    assert _colours(plot_latency(holes, tmp_path / "holes.png")) > 5


def test_write_report_writes_three_files_and_json_round_trips(result, tmp_path):
    paths = write_report(result, tmp_path / "a" / "b")
    assert {p.name for p in paths.values()} == {"result.json", "report.md", "latency.png"}
    assert json.loads(paths["json"].read_text()) == result
    assert paths["markdown"].read_text().startswith("# zoe-bench report")
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["latency.png", "report.md", "result.json"]


def test_write_report_into_a_file_fails_cleanly(result, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    with pytest.raises(ZoeExportError, match="cannot write"):
        write_report(result, blocker)
    assert blocker.read_text() == "not a folder" and sorted(tmp_path.iterdir()) == [blocker]


def test_a_failing_plot_leaves_no_partial_file(result, tmp_path, monkeypatch):
    def broken_save(self, fp, *args, **kwargs):
        fp.write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ZoeExportError, match="No space left"):
        write_report(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "result.json"]
    assert json.loads((tmp_path / "result.json").read_text()) == result


def test_unserialisable_results_write_nothing(result, tmp_path):
    result["options"]["oops"] = object()
    with pytest.raises(TypeError):
        write_report(result, tmp_path)
    assert not any(tmp_path.iterdir())


def test_numbers_keep_sensible_precision():
    assert [report._fmt_ms(v) for v in (0.0421, 4.2, 42.0, 420.4, None, float("inf"))] == \
        ["0.042", "4.20", "42.0", "420", "-", "inf"]
    assert report._nice_ticks(1.9)[-1] >= 1.9 and report._nice_ticks(0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_a_result_with_nothing_in_it_still_renders(tmp_path):
    bare = {"base": "a", "backends": [{"name": "a", "error": "boom"},
                                      {"name": "b", "batches": {1: {"latency_ms": {"p50": 3}}}}]}
    for result in ({}, bare):
        assert "backend" in format_table(result)
        assert markdown_report(result).startswith("# zoe-bench report")
        assert report.render_latency_plot(result).size == (1000, 600)
    assert "FAILED: boom" in format_table(bare) and "3.00" in format_table(bare)
