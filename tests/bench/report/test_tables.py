"""The console summary: speed table, what was timed, problems, stage table; partial results as notes."""
from zoe_export.bench.report import format_table
from zoe_export.bench.report.tables import speed_table, stage_table


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


def test_speed_cells(result):
    columns, rows = speed_table(result)
    titles = [c.title for c in columns]
    assert "cmp p90" not in titles  # optional, and no backend reported it
    by_name = {(row[0], row[3]): dict(zip(titles, row)) for row in rows if len(row) == len(titles)}
    assert by_name["torch fp32 cpu", "1"]["vs base"] == "base"
    int8 = by_name["ort int8 cpu", "2"]
    assert [int8[t] for t in ("e2e p50", "vs base", "REL", "delta1", "parity", "RSS GB")] == \
        ["900", "0.47x", "0.08", "0.9100", "FAIL", "2.10"]
    (failed,) = [row for row in rows if len(row) < len(titles)]
    assert failed == ["trt fp16 cuda", "fp16", "cuda", "-", "FAILED: RuntimeError: no CUDA device"]


def test_stage_cells_keep_a_stage_only_one_backend_reported(result):
    result["backends"][1]["batches"]["1"]["stages_ms"]["fuse"] = {"p50": 3.0}
    columns, rows = stage_table(result)
    titles = [c.title for c in columns]
    assert titles[:2] == ["backend", "batch"] and titles[-2:] == ["fuse", "e2e p50"]
    assert rows[2][titles.index("fuse")] == "3.00" and rows[0][titles.index("fuse")] == "-"
    assert stage_table({"backends": [{"name": "a", "error": "boom"}]}) is None


def test_interrupted_and_skipped_batches_are_notes(result):
    result["interrupted"] = True
    del result["backends"][2]["batches"]["2"]  # int8 never reached batch 2
    result["backends"][1]["batches"]["2"] = {"skipped": "the graph has a fixed batch of 1"}
    result["warnings"] = ["SKIPPED ort fp32 cpu batch 2: the graph has a fixed batch of 1"]
    table = format_table(result)
    assert table.startswith("INTERRUPTED")
    assert "not measured (run interrupted)" in table and "skipped: the graph has a fixed batch of 1" in table
    assert "INTERRUPTED: the run was stopped early" in table and "SKIPPED ort fp32 cpu batch 2" in table


def test_a_result_with_nothing_in_it_still_prints():
    bare = {"base": "a", "backends": [{"name": "a", "error": "boom"},
                                      {"name": "b", "batches": {1: {"latency_ms": {"p50": 3}}}}]}
    for result in ({}, bare):
        assert "backend" in format_table(result)
    assert "FAILED: boom" in format_table(bare) and "3.00" in format_table(bare)
    assert "no timed calls" in format_table({})
