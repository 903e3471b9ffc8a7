"""The outputs of a zoe-bench run: the console table, a markdown report, a latency plot, the files.

Everything here reads one result dict (the JSON that zoe-bench writes) and nothing else::

    print(format_table(result))
    paths = write_report(result, "bench-out")   # result.json, report.md, latency.png

The result may be partial: an interrupted run, a backend that failed to load (``error``), a batch size
that was never reached. Such gaps show as ``-`` or a plain sentence, never as a crash or a made-up
number. Latency is milliseconds per call of one batch; ``ratio_to_base`` is this backend's p50 compute
latency over the base backend's at the same batch size (below 1x is faster).

The modules, one job each: :mod:`.numbers` (figures as text), :mod:`.reading` (the result dict's parts and
table rows), :mod:`.tables` (console tables), :mod:`.goals` (goals as data), :mod:`.markdown` (report.md),
:mod:`.plot` (latency.png with matplotlib) and :mod:`.writing` (the files, each written atomically).
"""
from __future__ import annotations

from .writing import FILE_NAMES, result_json, write_report
from .goals import Goal, goal_line
from .markdown import markdown_report
from .plot import plot_latency, render_latency_plot
from .tables import format_table

__all__ = [
    "FILE_NAMES",
    "Goal",
    "format_table",
    "goal_line",
    "markdown_report",
    "plot_latency",
    "render_latency_plot",
    "result_json",
    "write_report",
]
