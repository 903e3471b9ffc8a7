"""latency.png: a matplotlib chart of the same data as the tables, checked as a Figure and as the PNG it writes."""
import copy
import subprocess
import sys

import pytest
from matplotlib.container import BarContainer
from PIL import Image

from zoe_export.bench.report import plot_latency, render_latency_plot
from zoe_export.bench.report.plot import PLOT_SIZE, uses_log_scale
from zoe_export.errors import ZoeExportError


def _series(ax) -> dict[str, list[float]]:
    """Each bar series of ``ax`` by its label: the bars' lengths (widths of horizontal bars, else heights)."""
    return {c.get_label(): [bar.get_width() if c.orientation == "horizontal" else bar.get_height() for bar in c]
            for c in ax.containers if isinstance(c, BarContainer)}


def test_one_series_per_measured_backend_in_each_panel(result):
    figure = render_latency_plot(result)
    latency, throughput = figure.axes
    measured = ["torch fp32 cpu", "ort fp32 cpu", "ort int8 cpu"]  # trt failed: no bars
    assert _series(latency) == {"torch fp32 cpu": [1000.0, 1900.0], "ort fp32 cpu": [930.0, 1800.0],
                                "ort int8 cpu": [480.0, 900.0]}
    assert list(_series(throughput)) == measured
    assert _series(throughput)["ort int8 cpu"] == pytest.approx([1000 / (1.03 * 480), 2000 / (1.03 * 900)])
    whiskers = [c.errorbar for c in latency.containers if isinstance(c, BarContainer)]
    assert all(w is not None for w in whiskers)  # p90 whiskers on every latency series
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [*measured, "trt fp16 cuda (failed)"]


def test_axes_are_labelled_and_linear_for_close_values(result):
    figure = render_latency_plot(result)
    latency, throughput = figure.axes
    assert latency.get_xscale() == "linear" and throughput.get_yscale() == "linear"
    assert latency.get_xlabel() == "ms per call, end to end" and throughput.get_ylabel() == "images / s"
    assert throughput.get_xlabel() == "batch size"
    assert [t.get_text() for t in latency.get_yticklabels()] == ["batch 1", "batch 2"]
    assert latency.get_title(loc="left").startswith("(a) latency per call")
    assert throughput.get_title(loc="left").startswith("(b) throughput")
    assert figure.get_suptitle().startswith("zoe-bench on x86_64 with 2 CPU cores\n2025-01-02T03:04:05")


def test_values_spanning_decades_get_log_axes(gpu_and_cpu):
    latency, throughput = render_latency_plot(gpu_and_cpu).axes
    assert latency.get_xscale() == "log" and throughput.get_yscale() == "log"
    assert "(log scale)" in latency.get_xlabel() and "(log scale)" in throughput.get_ylabel()
    assert latency.get_xlim()[0] <= 1.0  # the GPU's 4 ms bar shows
    assert len(_series(latency)) == 4
    assert uses_log_scale([2.0, 100.0]) and not uses_log_scale([2.0, 50.0, None, 0.0]) and not uses_log_scale([])


def test_plot_is_a_png_of_the_expected_size(result, tmp_path):
    path = plot_latency(result, tmp_path / "latency.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == PLOT_SIZE == (1000, 600)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20  # text, grid, a colour per backend
    assert [p.name for p in tmp_path.iterdir()] == ["latency.png"]  # no temporary file left
    with Image.open(plot_latency(result, tmp_path / "big.png", size=(1600, 900))) as image:
        assert image.size == (1600, 900)


def test_plot_copes_with_one_backend_one_batch_and_nothing_measured(result, tmp_path):
    single = copy.deepcopy(result)
    single["backends"] = single["backends"][:1]
    single["backends"][0]["batches"] = {"1": single["backends"][0]["batches"]["1"]}
    single["options"]["batch_sizes"] = [1]
    assert _series(render_latency_plot(single).axes[0]) == {"torch fp32 cpu": [1000.0]}

    failed = copy.deepcopy(result)
    failed["backends"] = [failed["backends"][3]]  # only the failure
    figure = render_latency_plot(failed)
    assert all(not _series(ax) for ax in figure.axes)
    assert "nothing measured" in [t.get_text() for t in figure.axes[0].texts]

    holes = copy.deepcopy(result)
    holes["backends"][1]["batches"]["2"]["latency_ms"] = {"p50": None}
    holes["backends"][1]["batches"]["2"]["images_per_s"] = float("nan")
    latency, throughput = render_latency_plot(holes).axes
    assert _series(latency)["ort fp32 cpu"] == [930.0] and len(_series(throughput)["ort fp32 cpu"]) == 1

    for bare in ({}, {"backends": [{"name": "a", "error": "boom"}, {"name": "b", "batches": {1: {}}}]}):
        with Image.open(plot_latency(bare, tmp_path / "bare.png")) as image:
            assert image.size == PLOT_SIZE


def test_missing_matplotlib_says_how_to_install_it(result, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if it were not installed
    with pytest.raises(ZoeExportError, match="pip install matplotlib"):
        plot_latency(result, tmp_path / "latency.png")
    assert not any(tmp_path.iterdir())


def test_matplotlib_is_imported_only_to_plot():
    code = "import sys, zoe_export.bench.report; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_zero_and_negative_figures_do_not_break_a_log_axis(gpu_and_cpu):
    gpu_and_cpu["backends"][0]["batches"]["1"]["images_per_s"] = 0.0
    gpu_and_cpu["backends"][1]["batches"]["1"]["latency_ms"]["p50"] = -1.0
    latency, throughput = render_latency_plot(gpu_and_cpu).axes
    assert throughput.get_yscale() == "log" and 0 < throughput.get_ylim()[0] <= 0.1
    assert latency.get_xscale() == "log" and latency.get_xlim()[0] > 0
