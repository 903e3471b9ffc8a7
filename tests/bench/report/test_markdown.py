"""report.md: every section the run has something for, tables that escape their cells, partial runs said plainly."""
from zoe_export.bench.report import FILE_NAMES, markdown_report
from zoe_export.bench.report.markdown import PLOT_LINK, md_table


def test_markdown_has_every_section(result):
    md = markdown_report(result)
    assert md.startswith("# zoe-bench report")
    assert "zoe-bench --torch --onnx m.onnx" in md and "onnxruntime | 1.20.1" in md
    assert "Started 2025-01-02T03:04:05, took 5.4 min, on x86_64 with 2 CPU cores." in md
    assert "- INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %" in md
    for heading in ("## Machine", "## Options", "## Speed", "## Stages", "## Plot", "## Parity", "## Goals",
                    "## Profile", "## Errors", "## Method"):
        assert heading in md
    assert "### ort int8 cpu: FAIL" in md and "### ort fp32 cpu: PASS" in md
    assert "bound: REL <= 0.05, delta1 >= 0.9500." in md
    assert "| street.png |" in md and "no: REL, delta1" in md
    assert "[parity_ort_int8_kitchen.png](parity_ort_int8_kitchen.png)" in md
    assert "![p50 latency and throughput](latency.png)" in md
    assert "| MatMul | 412 | 41.0 % |" in md and "### ort fp32 cpu ([ort_fp32.json](ort_fp32.json))" in md
    assert "| 0.93x |" in md and "Traceback line two" in md
    assert "> **Failed backends**: trt fp16 cuda (see Errors)." in md


def test_speed_table_rows_match_the_console(result):
    md = markdown_report(result)
    speed = md.split("## Speed")[1].split("## Stages")[0]
    rows = [line for line in speed.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 3 * 2 + 1  # header, rule, three backends at two batch sizes, the failure
    assert rows[1].startswith("|---|---|---|---:|")  # text columns left, numbers right
    assert rows[-1].startswith("| trt fp16 cuda | fp16 | cuda | - | FAILED: RuntimeError: no CUDA device |")


def test_sections_without_content_are_left_out(result):
    result["goals"] = []
    for b in result["backends"]:
        b["parity"] = b["profile"] = None
    result["backends"] = result["backends"][:3]
    md = markdown_report(result, plot=None)
    for heading in ("## Goals", "## Parity", "## Profile", "## Errors", "## Plot"):
        assert heading not in md
    assert markdown_report({}).startswith("# zoe-bench report")


def test_markdown_cells_escape_pipes(result):
    result["backends"][1]["name"] = "ort | fp32"
    md = markdown_report(result)
    assert "ort \\| fp32" in md
    assert md_table(["a", "b"], [["x|y"]], [False, True]) == "| a | b |\n|---|---:|\n| x\\|y |  |"


def test_interrupted_runs_say_so(result):
    result["interrupted"] = True
    md = markdown_report(result)
    assert "**Interrupted**" in md


def test_the_plot_link_is_the_file_write_report_writes():
    assert PLOT_LINK == FILE_NAMES["plot"]
