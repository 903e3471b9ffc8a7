"""The latency plot of a zoe-bench run, drawn with matplotlib: (a) p50/p90 latency per call, (b) images/s per batch.

matplotlib is imported when a plot is made, not with this module, and only its object API is used (a ``Figure``
on an Agg canvas, no pyplot): nothing global changes, no window opens, and a figure is freed once dropped.
An axis whose values span more than :data:`LOG_SCALE_SPAN` (a GPU beside a CPU run) is logarithmic.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..._files import atomic_output
from ..._lazy import require
from .numbers import finite, fmt_ms
from .reading import backends, batch_keys, batch_stats, machine_label, versions

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: the picture's size in pixels (width, height), drawn at DPI dots per inch
PLOT_SIZE = (1000, 600)
DPI = 100
#: values spanning more than this factor get a logarithmic axis
LOG_SCALE_SPAN = 30.0
#: a bar chart with more bars than this leaves out the numbers on the throughput bars (they would overlap)
MAX_LABELLED_BARS = 16

_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_FAILED = "#b4b4b4"
_INK, _GRID, _MUTED = "#222222", "#e3e3e3", "#777777"
_INSTALL = "pip install matplotlib (or reinstall zoe-export: pip install -e ., which lists it)"


def _matplotlib() -> tuple[Any, Any, Any]:
    """matplotlib's Figure, Agg canvas and Patch, or a ZoeExportError that says how to install it."""
    agg = require("matplotlib.backends.backend_agg", "the latency plot", _INSTALL)
    figure = require("matplotlib.figure", "the latency plot", _INSTALL)
    patches = require("matplotlib.patches", "the latency plot", _INSTALL)
    return figure.Figure, agg.FigureCanvasAgg, patches.Patch


def uses_log_scale(values: list[float | None]) -> bool:
    """Whether the positive ``values`` span more than LOG_SCALE_SPAN (a linear axis would hide the small ones)."""
    positive = [v for v in values if v is not None and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SCALE_SPAN


def _decade_below(values: list[float]) -> float:
    """A power of ten at least half a decade below the smallest positive value: where a log axis starts, so every
    bar shows (a log axis is only chosen where there are positive values)."""
    return 10.0 ** math.floor(math.log10(min(v for v in values if v > 0)) - 0.5)


def backend_colours(result: dict) -> dict[str, str]:
    """A colour per backend name; grey for a backend that failed before measuring anything."""
    colours, index = {}, 0
    for backend in backends(result):
        name = str(backend.get("name"))
        if backend.get("error") and not backend.get("batches"):
            colours[name] = _FAILED
        else:
            colours[name] = _PALETTE[index % len(_PALETTE)]
            index += 1
    return colours


def plot_title(result: dict) -> tuple[str, str]:
    """('zoe-bench on <machine>', '<started>  |  <versions>  |  INTERRUPTED ...')."""
    machine = result.get("machine") or {}
    title = f"zoe-bench on {machine_label(machine)}"
    details = [d for d in (str(result.get("started") or ""), versions(machine)) if d]
    if result.get("interrupted"):
        details.append("INTERRUPTED: partial results")
    return title, "  |  ".join(details)


def _slots(count: int) -> tuple[list[float], float]:
    """Offsets of ``count`` bars side by side within a group one unit wide, and the width of each."""
    width = 0.8 / max(count, 1)
    return [-0.4 + (i + 0.5) * width for i in range(count)], width


def _nothing_measured(ax: Axes) -> None:
    ax.text(0.5, 0.5, "nothing measured", transform=ax.transAxes, ha="center", va="center", color=_MUTED)


def _latency_panel(ax: Axes, result: dict, colours: dict[str, str]) -> None:
    """(a) horizontal bars of p50 end-to-end latency per backend, grouped by batch, p90 whiskers."""
    runs, batches = backends(result), batch_keys(result)
    offsets, height = _slots(len(runs))
    figures = {(i, g): ((batch_stats(b, batch) or {}).get("latency_ms") or {})
               for i, b in enumerate(runs) for g, batch in enumerate(batches)}
    log = uses_log_scale([finite(f.get(k)) for f in figures.values() for k in ("p50", "p90")])
    if log:
        ax.set_xscale("log")
    reach, smallest = 0.0, []
    for i, backend in enumerate(runs):
        ys, p50s, whiskers = [], [], []
        for g in range(len(batches)):
            p50, p90 = finite(figures[i, g].get("p50")), finite(figures[i, g].get("p90"))
            y = g + offsets[i]
            if p50 is None:
                ax.text(0.01, y, "failed" if backend.get("error") else "n/a", transform=ax.get_yaxis_transform(),
                        va="center", fontsize=8, color=_MUTED)
                continue
            ys.append(y)
            p50s.append(p50)
            whiskers.append(p90 - p50 if p90 is not None and p90 > p50 else 0.0)
            ax.annotate(f"{fmt_ms(p50)} ms", (p50 + whiskers[-1], y), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=8, color=_INK)
            reach = max(reach, p50 + whiskers[-1])
            smallest.append(p50)
        if ys:
            ax.barh(ys, p50s, height=height * 0.9, color=colours[str(backend.get("name"))],
                    label=str(backend.get("name")), xerr=[[0.0] * len(ys), whiskers],
                    error_kw={"ecolor": _INK, "elinewidth": 1, "capsize": 3})
    if reach > 0:  # room for the value after each whisker; a log axis starts below the shortest bar
        ax.set_xlim(_decade_below(smallest) if log else 0.0, reach * (3.0 if log else 1.25))
    else:
        _nothing_measured(ax)
    ax.set_yticks(range(len(batches)), [f"batch {b}" for b in batches])
    ax.set_ylim(max(len(batches), 1) - 0.5, -0.5)  # the first batch and backend at the top
    ax.set_xlabel("ms per call, end to end" + (" (log scale)" if log else ""))
    ax.set_title("(a) latency per call: bar p50, whisker p90", loc="left", fontsize=11)
    ax.grid(axis="x", which="both" if log else "major", color=_GRID)
    ax.set_axisbelow(True)


def _throughput_panel(ax: Axes, result: dict, colours: dict[str, str]) -> None:
    """(b) images/s per batch size, one bar per backend, grouped by batch."""
    runs, batches = backends(result), batch_keys(result)
    offsets, width = _slots(len(runs))
    rates = {(i, g): finite((batch_stats(b, batch) or {}).get("images_per_s"))
             for i, b in enumerate(runs) for g, batch in enumerate(batches)}
    log = uses_log_scale(list(rates.values()))
    if log:
        ax.set_yscale("log")
    measured = [r for r in rates.values() if r is not None]
    for i, backend in enumerate(runs):
        xs = [g + offsets[i] for g in range(len(batches)) if rates[i, g] is not None]
        heights = [rates[i, g] for g in range(len(batches)) if rates[i, g] is not None]
        if not xs:
            continue
        bars = ax.bar(xs, heights, width=width * 0.9, color=colours[str(backend.get("name"))],
                      label=str(backend.get("name")))
        if len(measured) <= MAX_LABELLED_BARS:
            ax.bar_label(bars, labels=[fmt_ms(h) for h in heights], padding=2, fontsize=8, color=_INK)
    if measured:
        ax.set_ylim(_decade_below(measured) if log else 0.0, max(measured) * (3.0 if log else 1.15))
    else:
        _nothing_measured(ax)
    ax.set_xticks(range(len(batches)), batches)
    ax.set_xlim(-0.5, max(len(batches), 1) - 0.5)
    ax.set_xlabel("batch size")
    ax.set_ylabel("images / s" + (" (log scale)" if log else ""))
    ax.set_title("(b) throughput per batch size", loc="left", fontsize=11)
    ax.grid(axis="y", which="both" if log else "major", color=_GRID)
    ax.set_axisbelow(True)


def render_latency_plot(result: dict, size: tuple[int, int] = PLOT_SIZE) -> Figure:
    """The latency plot as a matplotlib Figure on an Agg canvas, ``size`` pixels at DPI; nothing is written.

    Axes 0 is (a) latency, axes 1 is (b) throughput; each measured backend is one bar series (labelled with its
    name) in each, and the legend below names every backend, failed ones too.
    """
    figure_type, canvas_type, patch_type = _matplotlib()
    figure = figure_type(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI, layout="constrained")
    canvas_type(figure)
    title, subtitle = plot_title(result)
    figure.suptitle(f"{title}\n{subtitle}" if subtitle else title, fontsize=12, color=_INK)
    latency, throughput = figure.subplots(1, 2, width_ratios=(1.35, 1))
    colours = backend_colours(result)
    _latency_panel(latency, result, colours)
    _throughput_panel(throughput, result, colours)
    handles = [patch_type(facecolor=colours[str(b.get("name"))],
                          label=str(b.get("name")) + (" (failed)" if b.get("error") else "")) for b in backends(result)]
    if handles:
        figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), frameon=False,
                      fontsize=9)
    return figure


def plot_latency(result: dict, path: str | Path, size: tuple[int, int] = PLOT_SIZE) -> Path:
    """Write the latency plot as a PNG at ``path`` (atomically: a temporary file, renamed when whole).

    The figure was never registered with pyplot, so there is nothing to close: it is freed when this returns.
    """
    path = Path(path)
    figure = render_latency_plot(result, size)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)
    return path
