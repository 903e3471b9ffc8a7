"""The tables of a zoe-bench run as cells, and the console summary that prints them as fixed-width text.

The speed table (one row per backend and batch size) and the stage table (p50 ms of each stage) are built here
once, as columns and cells; :mod:`.markdown` lays the same cells out as markdown tables.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..timing import STAGES
from .numbers import MISSING, fmt_gb, fmt_ms, fmt_ratio, fmt_share, fmt_sig
from .reading import (
    Row,
    backends,
    clock_text,
    frame_plan,
    frame_rel_text,
    iterations_text,
    measured_rows,
    parity_overall,
    parity_verdict,
    rows,
    stage_names,
)


@dataclass(frozen=True)
class Column:
    """A table column: its title, how to write a row's cell, and how it is laid out."""

    title: str
    cell: Callable[[Row], str]
    numeric: bool = True  # right-aligned
    optional: bool = False  # left out where no row has a value


#: a free-text row keeps the cells of these first columns of the speed table (backend, precision, device, batch)
LEADING = 4


def _ratio_cell(row: Row, base: str | None) -> str:
    if row.name == base:
        return "base"
    return fmt_ratio((row.stats or {}).get("ratio_to_base"))


def speed_columns(result: dict) -> list[Column]:
    """Backend, batch, compute and end-to-end latency, images/s, ratio to base, memory, parity."""
    base = result.get("base")
    return [
        Column("backend", lambda r: r.name, numeric=False),
        Column("precision", lambda r: str(r.backend.get("precision") or MISSING), numeric=False),
        Column("device", lambda r: str(r.backend.get("device") or MISSING), numeric=False),
        Column("batch", lambda r: r.batch),
        Column("cmp p50", lambda r: fmt_ms(r.stage("compute", "p50"))),
        Column("cmp p90", lambda r: fmt_ms(r.stage("compute", "p90")), optional=True),
        Column("cmp p99", lambda r: fmt_ms(r.stage("compute", "p99")), optional=True),
        Column("cmp mean", lambda r: fmt_ms(r.stage("compute", "mean"))),
        Column("e2e p50", lambda r: fmt_ms(r.latency("p50"))),
        Column("e2e p90", lambda r: fmt_ms(r.latency("p90"))),
        Column("e2e p99", lambda r: fmt_ms(r.latency("p99"))),
        Column("e2e mean", lambda r: fmt_ms(r.latency("mean"))),
        Column("images/s", lambda r: fmt_ms((r.stats or {}).get("images_per_s"))),
        Column("vs base", lambda r: _ratio_cell(r, base)),
        Column("RSS GB", lambda r: fmt_gb(r.backend.get("peak_rss_mb"))),
        Column("GPU GB", lambda r: fmt_gb(r.backend.get("peak_gpu_mb"))),
        Column("REL", lambda r: fmt_sig(parity_overall(r.backend, "rel"))),
        Column("delta1", lambda r: fmt_share(parity_overall(r.backend, "delta1"))),
        Column("parity", lambda r: parity_verdict(r.backend)),
        Column("path", lambda r: str((frame_plan(r.backend) or {}).get("text") or MISSING), numeric=False,
               optional=True),
        Column("frame REL", lambda r: frame_rel_text(r.backend), optional=True),
    ]


def stage_columns(result: dict) -> list[Column]:
    """Backend, batch, p50 of each stage (a stage no backend reported outside STAGES is optional), e2e p50."""
    columns = [
        Column("backend", lambda r: r.name, numeric=False),
        Column("batch", lambda r: r.batch),
    ]
    for name in stage_names(result):
        columns.append(Column(name, lambda r, n=name: fmt_ms(r.stage(n, "p50")), optional=name not in STAGES))
    columns.append(Column("e2e p50", lambda r: fmt_ms(r.latency("p50"))))
    return columns


def cells(columns: list[Column], table_rows: list[Row], leading: int) -> tuple[list[Column], list[list[str]]]:
    """The text of each row; optional columns with no value anywhere are dropped.

    A row with a note keeps its first ``leading`` cells and then the note, which spans the rest.
    """
    full = {id(row): [c.cell(row) for c in columns] for row in table_rows if row.note is None}
    keep = [i for i, c in enumerate(columns)
            if not c.optional or any(values[i] != MISSING for values in full.values())]
    table = []
    for row in table_rows:
        if row.note is None:
            table.append([full[id(row)][i] for i in keep])
        else:
            table.append([columns[i].cell(row) for i in keep[:leading]] + [row.note])
    return [columns[i] for i in keep], table


def speed_table(result: dict) -> tuple[list[Column], list[list[str]]]:
    """The speed table's columns and cells: every backend and batch, failures and gaps as notes."""
    return cells(speed_columns(result), rows(result), LEADING)


def stage_table(result: dict) -> tuple[list[Column], list[list[str]]] | None:
    """The stage table's columns and cells, or None where nothing was measured."""
    measured = measured_rows(result)
    return cells(stage_columns(result), measured, 2) if measured else None


def text_table(columns: list[Column], table: list[list[str]]) -> list[str]:
    """Fixed-width columns, numbers right-aligned; a short row's last cell runs on unaligned."""
    width = len(columns)
    widths = [len(c.title) for c in columns]
    for row in table:
        if len(row) == width:
            widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(row: list[str]) -> str:
        out = []
        for i, cell in enumerate(row):
            if len(row) < width and i == len(row) - 1:
                out.append(cell)
            else:
                out.append(cell.rjust(widths[i]) if columns[i].numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return [line([c.title for c in columns]), "  ".join("-" * w for w in widths), *map(line, table)]


def method_lines(result: dict) -> list[str]:
    """What the speed table's columns mean: what was timed, by which clock, how often, against which base."""
    base = result.get("base") or "the first backend"
    options = result.get("options") or {}
    if options.get("frame"):
        timed = (f"timed: one DepthEngine.predict of a {options['frame']} frame per call (e2e): path host = numpy "
                 "preprocessing + the model + numpy postprocessing, frame graph = the graph alone; cmp = the model "
                 "calls (copies included on a GPU)")
    else:
        at = f" at model size {options['size']}" if options.get("size") else ""
        timed = ("timed: cmp = the model call alone (stage 'compute'); e2e = one whole call, "
                 f"preprocess + copies + compute + postprocess; ms per call of one batch{at}")
    lines = [
        timed,
        f"clock {clock_text(result)}; {iterations_text(result)}",
        (f"vs base: p50 compute latency / that of {base} at the same batch (below 1x is faster); "
         "images/s from the e2e calls; RSS = peak host memory of the process"),
    ]
    if options.get("frame"):
        lines.append("frame REL: mean |depth - ref| / ref against the first backend that computes the same thing "
                     "(same model size, padding and flip; 'ref' marks it, '-': nothing to compare with)")
    return lines


def problem_lines(result: dict) -> list[str]:
    """INTERRUPTED, each backend's error (first line), then the run's warnings and failed checks."""
    lines = []
    if result.get("interrupted"):
        lines.append("INTERRUPTED: the run was stopped early; the numbers cover only the calls that finished.")
    for backend in backends(result):
        if backend.get("error"):
            message = str(backend["error"]).strip().splitlines() or ["(no message)"]
            extra = len(message) - 1
            more = f" (+{extra} more line{'s' * (extra > 1)} in report.md)" if extra else ""
            lines.append(f"ERROR {backend.get('name')}: {message[0]}{more}")
    return lines + [str(line) for line in [*result.get("warnings", ()), *result.get("failures", ())]]


def format_table(result: dict) -> str:
    """The console summary: speed table, what was timed, problems, then the stages (p50 ms)."""
    lines = []
    if result.get("interrupted"):
        lines += ["INTERRUPTED: partial results", ""]
    lines += text_table(*speed_table(result))
    lines += ["", *method_lines(result)]
    lines += problem_lines(result)
    stages = stage_table(result)
    if stages is not None:
        lines += ["", "stages, p50 ms per call (- = stage not run by this backend)"]
        lines += text_table(*stages)
    return "\n".join(lines)
