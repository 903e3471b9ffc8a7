"""write_report: result.json, report.md and latency.png, each whole or not at all, the JSON first."""
import json

import pytest
from matplotlib.figure import Figure
from PIL import Image

from zoe_export.bench.report import Goal, format_table, markdown_report, result_json, write_report
from zoe_export.errors import ZoeExportError


def test_write_report_writes_three_files_and_json_round_trips(result, tmp_path):
    paths = write_report(result, tmp_path / "a" / "b")
    assert {p.name for p in paths.values()} == {"result.json", "report.md", "latency.png"}
    assert json.loads(paths["json"].read_text()) == result
    assert paths["markdown"].read_text() == markdown_report(result)
    with Image.open(paths["plot"]) as image:
        assert image.format == "PNG"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["latency.png", "report.md", "result.json"]


def test_interrupted_runs_write_their_partial_results(result, tmp_path):
    result["interrupted"] = True
    del result["backends"][2]["batches"]["2"]  # int8 never reached batch 2
    paths = write_report(result, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["interrupted"] is True
    assert "**Interrupted**" in paths["markdown"].read_text() and format_table(result).startswith("INTERRUPTED")


def test_goals_given_as_objects_are_written_as_records(result):
    goal = Goal("INT8 speedup", "speedup", ">=", 2.5, "x", measured=2.1, met=False)
    result["goals"] = [goal]
    (record,) = json.loads(result_json(result))["goals"]
    assert Goal.from_dict(record) == goal and record["target"] == "speedup >= 2.5x"
    assert "INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %" in markdown_report(result)


def test_write_report_into_a_file_fails_cleanly(result, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder")
    with pytest.raises(ZoeExportError, match="cannot write"):
        write_report(result, blocker)
    assert blocker.read_text() == "not a folder" and sorted(tmp_path.iterdir()) == [blocker]


def test_a_failing_plot_leaves_no_partial_file(result, tmp_path, monkeypatch):
    def broken_save(self, fname, *args, **kwargs):
        fname.write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", broken_save)
    with pytest.raises(ZoeExportError, match="No space left"):
        write_report(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "result.json"]
    assert json.loads((tmp_path / "result.json").read_text()) == result


def test_unserialisable_results_write_nothing(result, tmp_path):
    result["options"]["oops"] = object()
    with pytest.raises(TypeError):
        write_report(result, tmp_path)
    assert not any(tmp_path.iterdir())
