"""The outputs of a zoe-bench run: the console table, a markdown report, a latency plot, the files.

Everything here reads one result dict (the JSON that zoe-bench writes) and nothing else::

    print(format_table(result))
    paths = write_report(result, "bench-out")   # result.json, report.md, latency.png

The result may be partial: an interrupted run, a backend that failed to load (``error``), a batch size
that was never reached. Such gaps show as ``-`` or a plain sentence, never as a crash or a made-up
number. Latency is milliseconds per call of one batch; ``ratio_to_base`` is this backend's p50 compute
latency over the base backend's at the same batch size (below 1x is faster).
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import atomic_output
from ..errors import ZoeExportError
from .timing import (
    STAGES,  # the stages of one call, in the order they run; a backend may lack some
)

MISSING = "-"
PLOT_SIZE = (1000, 600)
FILE_NAMES = {"json": "result.json", "markdown": "report.md", "plot": "latency.png"}


# --------------------------------------------------------------------------- numbers as text


def _number(value: Any) -> float | None:
    """``value`` as a float, or None where it is missing or not a number (a bool is not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt_ms(value: Any) -> str:
    """A duration or rate with precision that suits its size: 0.042, 4.20, 42.0, 420."""
    v = _number(value)
    if v is None:
        return MISSING
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def _fmt_ratio(value: Any) -> str:
    v = _number(value)
    return MISSING if v is None else f"{v:.2f}x"


def _fmt_gb(megabytes: Any) -> str:
    v = _number(megabytes)
    return MISSING if v is None else f"{v / 1024:.2f}"


def _fmt_sig(value: Any, digits: int = 3) -> str:
    """Errors such as REL, RMSE, max abs: a few significant digits (1.2e-06, 0.0213)."""
    v = _number(value)
    return MISSING if v is None else f"{v:.{digits}g}"


def _fmt_share(value: Any) -> str:
    """delta1 and other shares in [0, 1]."""
    v = _number(value)
    return MISSING if v is None else f"{v:.4f}"


def _fmt_seconds(value: Any) -> str:
    v = _number(value)
    if v is None:
        return MISSING
    return f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min"


def _first_line(text: Any, limit: int = 80) -> str:
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --------------------------------------------------------------------------- reading the result


def _backends(result: dict) -> list[dict]:
    return [b for b in result.get("backends") or [] if isinstance(b, dict)]


def _batch_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 30, key)


def _batch_keys(result: dict) -> list[str]:
    """Every batch size asked for or measured, as the string keys that JSON gives them."""
    keys = {str(b) for b in (result.get("options") or {}).get("batch_sizes") or []}
    for backend in _backends(result):
        keys.update(str(k) for k in backend.get("batches") or {})
    return sorted(keys, key=_batch_order)


def _batch_stats(backend: dict, batch: str) -> dict | None:
    batches = backend.get("batches") or {}
    stats = batches.get(batch, batches.get(int(batch)) if batch.isdigit() else None)
    return stats if isinstance(stats, dict) else None


def _stage_names(result: dict) -> list[str]:
    """The known stages, then any other stage a backend reported, in the order first seen."""
    extra: list[str] = []
    for backend in _backends(result):
        for stats in (backend.get("batches") or {}).values():
            for name in (stats or {}).get("stages_ms") or {}:
                if name not in STAGES and name not in extra:
                    extra.append(name)
    return [*STAGES, *extra]


def _parity_verdict(backend: dict) -> str:
    parity = backend.get("parity")
    if not isinstance(parity, dict) or parity.get("passed") is None:
        return MISSING
    return "PASS" if parity["passed"] else "FAIL"


def _parity_overall(backend: dict, metric: str) -> Any:
    parity = backend.get("parity")
    if not isinstance(parity, dict):
        return None
    return (parity.get("overall") or {}).get(metric)


def _machine_label(machine: dict) -> str:
    """'NVIDIA H100, x86_64 with 16 CPU cores' or 'x86_64 with 2 CPU cores'."""
    cpu = machine.get("processor") or "unknown CPU"
    if machine.get("cpu_count"):
        cpu += f" with {machine['cpu_count']} CPU cores"
    return f"{machine['gpu']}, {cpu}" if machine.get("gpu") else cpu


def _versions(machine: dict) -> str:
    names = ("python", "torch", "onnxruntime", "tensorrt")
    return ", ".join(f"{n} {machine[n]}" for n in names if machine.get(n))


@dataclass(frozen=True)
class _Row:
    """One line of the speed or stage table: a backend at one batch size, or a sentence about it."""

    backend: dict
    batch: str
    stats: dict | None
    note: str | None = None  # free text in place of the numbers (failed, not measured)

    @property
    def name(self) -> str:
        return str(self.backend.get("name") or "?")

    def latency(self, key: str) -> Any:
        return ((self.stats or {}).get("latency_ms") or {}).get(key)

    def stage(self, name: str, key: str = "p50") -> Any:
        return (((self.stats or {}).get("stages_ms") or {}).get(name) or {}).get(key)


def _rows(result: dict) -> list[_Row]:
    """Measured batches of each backend in batch order; one line for a failure, one per missing batch."""
    rows: list[_Row] = []
    for backend in _backends(result):
        for batch in _batch_keys(result):
            stats = _batch_stats(backend, batch)
            if stats is not None and stats.get("skipped"):
                rows.append(_Row(backend, batch, None, f"skipped: {_first_line(stats['skipped'], 70)}"))
            elif stats is not None:
                rows.append(_Row(backend, batch, stats))
            elif not backend.get("error"):
                why = "not measured (run interrupted)" if result.get("interrupted") else "not measured"
                rows.append(_Row(backend, batch, None, why))
        if backend.get("error"):
            rows.append(_Row(backend, MISSING, None, f"FAILED: {_first_line(backend['error'], 70)}"))
    return rows


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Column:
    title: str
    cell: Callable[[_Row], str]
    numeric: bool = True
    optional: bool = False  # left out where no row has a value


#: a free-text row keeps the cells of these first columns (backend, precision, device, batch)
_LEADING = 4


def _ratio_cell(row: _Row, base: str | None) -> str:
    if row.name == base:
        return "base"
    return _fmt_ratio((row.stats or {}).get("ratio_to_base"))


def _speed_columns(result: dict) -> list[_Column]:
    base = result.get("base")
    return [
        _Column("backend", lambda r: r.name, numeric=False),
        _Column("precision", lambda r: str(r.backend.get("precision") or MISSING), numeric=False),
        _Column("device", lambda r: str(r.backend.get("device") or MISSING), numeric=False),
        _Column("batch", lambda r: r.batch),
        _Column("cmp p50", lambda r: _fmt_ms(r.stage("compute", "p50"))),
        _Column("cmp p90", lambda r: _fmt_ms(r.stage("compute", "p90")), optional=True),
        _Column("cmp p99", lambda r: _fmt_ms(r.stage("compute", "p99")), optional=True),
        _Column("cmp mean", lambda r: _fmt_ms(r.stage("compute", "mean"))),
        _Column("e2e p50", lambda r: _fmt_ms(r.latency("p50"))),
        _Column("e2e p90", lambda r: _fmt_ms(r.latency("p90"))),
        _Column("e2e p99", lambda r: _fmt_ms(r.latency("p99"))),
        _Column("e2e mean", lambda r: _fmt_ms(r.latency("mean"))),
        _Column("images/s", lambda r: _fmt_ms((r.stats or {}).get("images_per_s"))),
        _Column("vs base", lambda r: _ratio_cell(r, base)),
        _Column("RSS GB", lambda r: _fmt_gb(r.backend.get("peak_rss_mb"))),
        _Column("GPU GB", lambda r: _fmt_gb(r.backend.get("peak_gpu_mb"))),
        _Column("REL", lambda r: _fmt_sig(_parity_overall(r.backend, "rel"))),
        _Column("delta1", lambda r: _fmt_share(_parity_overall(r.backend, "delta1"))),
        _Column("parity", lambda r: _parity_verdict(r.backend)),
    ]


def _stage_columns(result: dict) -> list[_Column]:
    columns = [
        _Column("backend", lambda r: r.name, numeric=False),
        _Column("batch", lambda r: r.batch),
    ]
    for name in _stage_names(result):
        columns.append(_Column(name, lambda r, n=name: _fmt_ms(r.stage(n, "p50")), optional=name not in STAGES))
    columns.append(_Column("e2e p50", lambda r: _fmt_ms(r.latency("p50"))))
    return columns


def _cells(columns: list[_Column], rows: list[_Row], leading: int) -> tuple[list[_Column], list[list[str]]]:
    """The text of each row; optional columns with no value anywhere are dropped.

    A row with a note keeps its first ``leading`` cells and then the note, which spans the rest.
    """
    full = {id(row): [c.cell(row) for c in columns] for row in rows if row.note is None}
    keep = [i for i, c in enumerate(columns)
            if not c.optional or any(cells[i] != MISSING for cells in full.values())]
    table = []
    for row in rows:
        if row.note is None:
            table.append([full[id(row)][i] for i in keep])
        else:
            table.append([columns[i].cell(row) for i in keep[:leading]] + [row.note])
    return [columns[i] for i in keep], table


def _text_table(columns: list[_Column], rows: list[list[str]]) -> list[str]:
    """Fixed-width columns, numbers right-aligned; a short row's last cell runs on unaligned."""
    width = len(columns)
    widths = [len(c.title) for c in columns]
    for cells in rows:
        if len(cells) == width:
            widths = [max(w, len(c)) for w, c in zip(widths, cells)]

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            if len(cells) < width and i == len(cells) - 1:
                out.append(cell)
            else:
                out.append(cell.rjust(widths[i]) if columns[i].numeric else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    return [line([c.title for c in columns]), "  ".join("-" * w for w in widths), *map(line, rows)]


def _md(text: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _md_table(header: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    lines = [
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for cells in rows:
        padded = [_md(c) for c in cells] + [""] * (len(header) - len(cells))
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines)


def _md_columns_table(columns: list[_Column], rows: list[list[str]]) -> str:
    return _md_table([c.title for c in columns], rows, [c.numeric for c in columns])


# --------------------------------------------------------------------------- what was timed


def _clock_text(result: dict) -> str:
    """'perf_counter', or per clock who used it: 'perf_counter (torch fp32 cpu); cuda-events (trt fp16)'."""
    by_clock: dict[str, list[str]] = {}
    for backend in _backends(result):
        if backend.get("batches"):
            by_clock.setdefault(str(backend.get("clock") or "unknown clock"), []).append(str(backend.get("name")))
    if len(by_clock) <= 1:
        return next(iter(by_clock), "no clock (nothing timed)")
    return "; ".join(f"{clock} ({', '.join(names)})" for clock, names in by_clock.items())


def _span(values: list[int]) -> str:
    return str(values[0]) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def _iterations_text(result: dict, *, warmup: bool = True) -> str:
    """'20 timed calls per backend and batch in 5 interleaved rounds, after 3 untimed warm-up calls'."""
    measured = [s for b in _backends(result) for s in (b.get("batches") or {}).values() if isinstance(s, dict)]
    iterations = [int(s["iterations"]) for s in measured if _number(s.get("iterations")) is not None]
    rounds = [int(s["rounds"]) for s in measured if _number(s.get("rounds")) is not None]
    text = f"{_span(iterations)} timed calls per backend and batch" if iterations else "no timed calls"
    if rounds and max(rounds) > 1:
        text += f" in {_span(rounds)} interleaved rounds"
    elif rounds:
        text += " in one round per backend (not interleaved)"
    calls = (result.get("options") or {}).get("warmup")
    if warmup and calls is not None:
        text += f", after {calls} untimed warm-up calls"
    return text


def _method_lines(result: dict) -> list[str]:
    base = result.get("base") or "the first backend"
    return [
        ("timed: cmp = the model call alone (stage 'compute'); e2e = one whole call, "
         "preprocess + copies + compute + postprocess; ms per call of one batch"),
        f"clock {_clock_text(result)}; {_iterations_text(result)}",
        (f"vs base: p50 compute latency / that of {base} at the same batch (below 1x is faster); "
         "images/s from the e2e calls; RSS = peak host memory of the process"),
    ]


def _problem_lines(result: dict) -> list[str]:
    lines = []
    if result.get("interrupted"):
        lines.append("INTERRUPTED: the run was stopped early; the numbers cover only the calls that finished.")
    for backend in _backends(result):
        if backend.get("error"):
            message = str(backend["error"]).strip().splitlines() or ["(no message)"]
            extra = len(message) - 1
            more = f" (+{extra} more line{'s' * (extra > 1)} in report.md)" if extra else ""
            lines.append(f"ERROR {backend.get('name')}: {message[0]}{more}")
    return lines + [str(line) for line in [*result.get("warnings", ()), *result.get("failures", ())]]


# --------------------------------------------------------------------------- console


def format_table(result: dict) -> str:
    """The console summary: speed table, what was timed, problems, then the stages (p50 ms)."""
    speed_columns, speed_rows = _cells(_speed_columns(result), _rows(result), _LEADING)
    lines = []
    if result.get("interrupted"):
        lines += ["INTERRUPTED: partial results", ""]
    lines += _text_table(speed_columns, speed_rows)
    lines += ["", *_method_lines(result)]
    lines += _problem_lines(result)
    measured = [row for row in _rows(result) if row.note is None]
    if measured:
        stage_columns, stage_rows = _cells(_stage_columns(result), measured, 2)
        lines += ["", "stages, p50 ms per call (- = stage not run by this backend)"]
        lines += _text_table(stage_columns, stage_rows)
    return "\n".join(lines)


# --------------------------------------------------------------------------- goals


_TARGET = re.compile(
    r"^\s*(?P<name>.*?)\s*(?P<op><=|>=|<|>|==|=)\s*(?P<value>[-+]?[0-9.]+(?:e[-+]?\d+)?)\s*(?P<unit>x|%|ms)?\s*$",
    re.IGNORECASE,
)


def _parse_target(target: Any) -> tuple[str, str, float, str] | None:
    """'ratio <= 1.0' -> ('ratio', '<=', 1.0, 'x'); None where the target is not of that form."""
    match = _TARGET.match(str(target or ""))
    if not match:
        return None
    try:
        value = float(match["value"])
    except ValueError:
        return None
    name = match["name"]
    unit = match["unit"] or ("x" if re.search(r"ratio|speedup", name, re.IGNORECASE) else "")
    return name, match["op"], value, unit


def _goal_value(value: float, unit: str) -> str:
    return f"{value:.3g}{'' if unit in ('', 'x') else ' '}{unit}"


def _shortfall_percent(measured: float, op: str, goal: float) -> float | None:
    """How far ``measured`` is on the wrong side of ``goal``, in percent of the goal (negative: spare)."""
    if goal == 0:
        return None
    if op in ("<=", "<"):
        return 100 * (measured - goal) / abs(goal)
    if op in (">=", ">"):
        return 100 * (goal - measured) / abs(goal)
    return 100 * abs(measured - goal) / abs(goal)


def _percent(value: float) -> str:
    return f"{value:.1f} %" if abs(value) < 1 else f"{value:.0f} %"


def goal_line(goal: dict) -> str:
    """'INT8 speedup: 2.1x, goal >= 2.5x: missed by 16 %' (or 'met, 7 % to spare', 'not measured')."""
    what = str(goal.get("what") or "goal")
    target = _parse_target(goal.get("target"))
    measured = _number(goal.get("measured"))
    unit = target[3] if target else ""
    goal_text = f"goal {target[1]} {_goal_value(target[2], unit)}" if target else f"goal {goal.get('target')}"
    if measured is None:
        return f"{what}: not measured, {goal_text}"
    head = f"{what}: {_goal_value(measured, unit)}, {goal_text}"
    met = goal.get("met")
    shortfall = _shortfall_percent(measured, target[1], target[2]) if target else None
    if met is None:
        return f"{head}: not judged"
    if met:
        spare = f", {_percent(-shortfall)} to spare" if shortfall is not None and shortfall < 0 else ""
        return f"{head}: met{spare}"
    by = f" by {_percent(shortfall)}" if shortfall is not None and shortfall > 0 else ""
    return f"{head}: missed{by}"


# --------------------------------------------------------------------------- markdown


def _md_header(result: dict) -> str:
    machine = result.get("machine") or {}
    lines = ["# zoe-bench report", "", "```text", str(result.get("command") or "zoe-bench"), "```", ""]
    lines.append(f"Started {result.get('started') or MISSING}, took {_fmt_seconds(result.get('seconds'))}, "
                 f"on {_machine_label(machine)}.")
    if result.get("interrupted"):
        lines += ["", "> **Interrupted**: the run was stopped early; the numbers cover only the calls that finished."]
    failed = [b for b in _backends(result) if b.get("error")]
    if failed:
        lines += ["", "> **Failed backends**: " + ", ".join(_md(b.get("name")) for b in failed) + " (see Errors)."]
    return "\n".join(lines)


def _md_key_values(title: str, values: dict, first: tuple[str, ...] = ()) -> str:
    keys = [k for k in first if k in values] + [k for k in values if k not in first]
    if not keys:
        return ""
    rows = [[k, _value_text(values[k])] for k in keys]
    return f"## {title}\n\n" + _md_table(["what", "value"], rows, [False, False])


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _md_speed(result: dict) -> str:
    columns, rows = _cells(_speed_columns(result), _rows(result), _LEADING)
    notes = "\n".join(f"- {line}" for line in _method_lines(result))
    return f"## Speed\n\n{_md_columns_table(columns, rows)}\n\n{notes}"


def _md_stages(result: dict) -> str:
    measured = [row for row in _rows(result) if row.note is None]
    if not measured:
        return ""
    columns, rows = _cells(_stage_columns(result), measured, 2)
    return ("## Stages (p50 ms per call)\n\n"
            f"{_md_columns_table(columns, rows)}\n\n`-`: the backend has no such stage (no copies on the CPU).")


def _bound_text(bound: dict | None) -> str:
    if not bound:
        return "no bound"
    parts = []
    if bound.get("max_rel") is not None:
        parts.append(f"REL <= {_fmt_sig(bound['max_rel'])}")
    if bound.get("min_delta1") is not None:
        parts.append(f"delta1 >= {_fmt_share(bound['min_delta1'])}")
    parts += [f"{k} {v}" for k, v in bound.items() if k not in ("max_rel", "min_delta1")]
    return ", ".join(parts) or "no bound"


def _within_bound(metrics: dict, bound: dict | None) -> str:
    """'yes', or what broke the bound ('REL', 'delta1'); '-' without a bound or the numbers."""
    if not bound:
        return MISSING
    broken = []
    rel, delta1 = _number(metrics.get("rel")), _number(metrics.get("delta1"))
    if _number(bound.get("max_rel")) is not None and rel is not None and not rel <= bound["max_rel"]:
        broken.append("REL")
    if _number(bound.get("min_delta1")) is not None and delta1 is not None and not delta1 >= bound["min_delta1"]:
        broken.append("delta1")
    if rel is None and delta1 is None:
        return MISSING
    return "no: " + ", ".join(broken) if broken else "yes"


def _md_parity_of(backend: dict) -> str:
    parity = backend["parity"]
    bound = parity.get("bound")
    against = (f"Against {_md(parity.get('reference') or MISSING)}, "
               f"precision {_md(parity.get('precision') or MISSING)}; bound: {_bound_text(bound)}.")
    lines = [f"### {_md(backend.get('name'))}: {_parity_verdict(backend)}", "", against, ""]
    metric_rows = [("overall", parity.get("overall") or {})]
    metric_rows += [(name, m or {}) for name, m in (parity.get("per_image") or {}).items()]
    rows = [[name, _fmt_sig(m.get("rel")), _fmt_sig(m.get("rmse")), _fmt_share(m.get("delta1")),
             _fmt_sig(m.get("max_abs")), _within_bound(m, bound)] for name, m in metric_rows]
    lines.append(_md_table(["image", "REL", "RMSE m", "delta1", "max abs m", "within bound"], rows,
                           [False, True, True, True, True, False]))
    pictures = parity.get("pictures") or []
    if pictures:
        lines += ["", "Pictures: " + ", ".join(f"[{_md(p)}]({p})" for p in pictures)]
    return "\n".join(lines)


def _md_parity(result: dict) -> str:
    checked = [b for b in _backends(result) if isinstance(b.get("parity"), dict)]
    if not checked:
        return ""
    return "## Parity\n\n" + "\n\n".join(_md_parity_of(b) for b in checked)


def _md_profile(result: dict) -> str:
    parts = []
    for backend in _backends(result):
        profile = backend.get("profile")
        if not isinstance(profile, dict) or not profile.get("top_ops"):
            continue
        rows = [[str(op.get("op")), _fmt_ms(op.get("ms")),
                 MISSING if _number(op.get("share")) is None else f"{100 * op['share']:.1f} %"]
                for op in profile["top_ops"]]
        source = f" ([{_md(profile['file'])}]({profile['file']}))" if profile.get("file") else ""
        parts.append(f"### {_md(backend.get('name'))}{source}\n\n"
                     + _md_table(["op", "ms", "share"], rows, [False, True, True]))
    return "## Profile (top operators)\n\n" + "\n\n".join(parts) if parts else ""


def _md_goals(result: dict) -> str:
    goals = [g for g in result.get("goals") or [] if isinstance(g, dict)]
    if not goals:
        return ""
    return "## Goals\n\n" + "\n".join(f"- {_md(goal_line(g))}" for g in goals)


def _md_errors(result: dict) -> str:
    failed = [b for b in _backends(result) if b.get("error")]
    checks = [*result.get("failures", ()), *result.get("warnings", ())]
    if not failed and not checks:
        return ""
    return "## Errors and warnings\n\n" + "\n\n".join(
        [f"- {_md(line)}" for line in checks]
        + [f"**{_md(b.get('name'))}**\n\n```text\n{b['error']}\n```" for b in failed])


def _md_method(result: dict) -> str:
    options = result.get("options") or {}
    asked = (f"{options['iters']} timed calls asked for" if options.get("iters")
             else f"calls until {options['seconds']} s per backend and batch size are spent (at least 3)"
             if options.get("seconds") else "the default count")
    images = (f"the images in {options['images']}" if options.get("images")
              else "the built-in scene and generated variants of it")
    return "\n".join([
        "## Method",
        "",
        f"- Warm-up: {options.get('warmup', MISSING)} untimed calls per backend and batch before timing.",
        (f"- Timing: {asked}; measured {_iterations_text(result, warmup=False)}. Rounds that alternate "
         "between backends spread drift (heat, clock boost, other load) over all of them instead of one."),
        (f"- Clock: {_clock_text(result)}. perf_counter times the call on the host (after the backend "
         "synchronises); cuda-events time the GPU work between two events on the stream."),
        "- Batch: latency is per call of one batch; images/s counts the images of the batch.",
        ("- Stages: compute is the model alone; end-to-end adds preprocessing, host/device copies and "
         f"postprocessing. Inputs: {images}."),
        "- Memory: peak RSS is the host process's peak resident memory; GPU memory is as the backend reports it.",
    ])


def markdown_report(result: dict, *, plot: str | None = FILE_NAMES["plot"]) -> str:
    """The whole report as markdown; ``plot`` is the latency PNG's path relative to the report (None: no link)."""
    machine = dict(result.get("machine") or {})
    sections = [
        _md_header(result),
        _md_key_values("Machine", machine, ("gpu", "processor", "cpu_count", "platform", "python", "torch",
                                            "onnxruntime", "tensorrt")),
        _md_key_values("Options", dict(result.get("options") or {})),
        _md_goals(result),
        _md_speed(result),
        _md_stages(result),
        f"## Plot\n\n![p50 latency and throughput]({plot})" if plot else "",
        _md_parity(result),
        _md_profile(result),
        _md_errors(result),
        _md_method(result),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


# --------------------------------------------------------------------------- plot

_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
_FAILED = "#b4b4b4"
_INK, _GRID, _MUTED = "#222222", "#e3e3e3", "#777777"


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1, or no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _nice_ticks(upper: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5, 5 x 10^k) up to at least ``upper``."""
    if not math.isfinite(upper) or upper <= 0:
        upper = 1.0
    raw = upper / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [float(f"{i * step:.12g}") for i in range(math.ceil(upper / step - 1e-9) + 1)]


def _tick_text(value: float) -> str:
    return f"{value:g}" if value < 1e5 else f"{value:.0e}"


#: values spanning more than this factor get a logarithmic axis (a GPU next to a CPU run)
LOG_SCALE_SPAN = 30.0


@dataclass(frozen=True)
class _Scale:
    """Where a value falls along an axis, 0 at the start and 1 at the end; linear or logarithmic."""

    ticks: tuple[float, ...]
    log: bool = False

    def fraction(self, value: float) -> float:
        low, high = self.ticks[0], self.ticks[-1]
        if self.log:
            if value <= 0:
                return 0.0
            where = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        else:
            where = (value - low) / (high - low)
        return min(1.0, max(0.0, where))


def _log_ticks(low: float, high: float) -> tuple[float, ...]:
    """Decades around [low, high]; with 1-2-5 steps between them where there are few decades."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    steps = (1, 2, 5) if last - first <= 3 else (1,)
    return (*[float(f"{m * 10.0 ** e:.12g}") for e in range(first, last) for m in steps], 10.0 ** last)


def _scale_for(values: list[float | None], headroom: float) -> _Scale:
    """A linear axis from 0, or a log axis where the positive values span more than LOG_SCALE_SPAN."""
    positive = [v for v in values if v is not None and v > 0]
    if positive and max(positive) / min(positive) > LOG_SCALE_SPAN:
        return _Scale(_log_ticks(min(positive), max(positive) * headroom), log=True)
    return _Scale(tuple(_nice_ticks(max(positive, default=0.0) * headroom)))


def _backend_colours(result: dict) -> dict[str, str]:
    colours, index = {}, 0
    for backend in _backends(result):
        name = str(backend.get("name"))
        if backend.get("error") and not backend.get("batches"):
            colours[name] = _FAILED
        else:
            colours[name] = _PALETTE[index % len(_PALETTE)]
            index += 1
    return colours


def _finite(value: Any) -> float | None:
    v = _number(value)
    return v if v is not None and math.isfinite(v) else None


def _draw_vertical_text(image, left: int, middle: int, text: str, font, fill: str) -> None:
    """``text`` rotated a quarter turn counter-clockwise, left edge at ``left``, centred on ``middle``."""
    from PIL import Image, ImageDraw

    probe = ImageDraw.Draw(image)
    width, height = _text_size(probe, text, font)
    label = Image.new("RGBA", (width + 4, height + 6), (255, 255, 255, 0))
    ImageDraw.Draw(label).text((2, 0), text, font=font, fill=fill)
    rotated = label.rotate(90, expand=True)
    image.paste(rotated, (left, middle - rotated.height // 2), rotated)


@dataclass(frozen=True)
class _Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _draw_latency_panel(image, draw, box: _Box, result: dict, colours: dict[str, str]) -> None:
    """(a) horizontal bars of p50 end-to-end latency per backend, grouped by batch, p90 whiskers."""
    small, font = _font(11), _font(12)
    backends, batches = _backends(result), _batch_keys(result)
    draw.text((box.left, box.top - 22), "(a) latency per call: bar p50, whisker p90", font=_font(13), fill=_INK)
    values = [_finite((s.get("latency_ms") or {}).get(k)) for b in backends for batch in batches
              for s in [_batch_stats(b, batch) or {}] for k in ("p50", "p90")]
    scale = _scale_for(values, 1.08)
    for tick in scale.ticks:
        x = box.left + round(scale.fraction(tick) * box.width)
        draw.line([(x, box.top), (x, box.bottom)], fill=_GRID)
        w, _ = _text_size(draw, _tick_text(tick), small)
        draw.text((x - w // 2, box.bottom + 4), _tick_text(tick), font=small, fill=_INK)
    label = "ms per call (end to end" + (", log scale)" if scale.log else ")")
    w, _ = _text_size(draw, label, font)
    draw.text((box.left + (box.width - w) // 2, box.bottom + 20), label, font=font, fill=_INK)
    if not batches or not backends:
        draw.text((box.left + 10, box.top + 10), "nothing measured", font=font, fill=_MUTED)
    group_height = box.height / max(len(batches), 1)
    bar_height = max(3, min(28, int(group_height * 0.8 / max(len(backends), 1))))
    for g, batch in enumerate(batches):
        group_top = box.top + g * group_height + (group_height - bar_height * len(backends)) / 2
        text = f"batch {batch}"
        w, h = _text_size(draw, text, font)
        draw.text((box.left - w - 8, round(box.top + (g + 0.5) * group_height - h / 2)), text, font=font, fill=_INK)
        for i, backend in enumerate(backends):
            top = round(group_top + i * bar_height)
            _draw_latency_bar(draw, box, scale, top, bar_height, backend, _batch_stats(backend, batch),
                              colours[str(backend.get("name"))], small)
    draw.line([(box.left, box.top), (box.left, box.bottom)], fill=_INK)
    draw.line([(box.left, box.bottom), (box.right, box.bottom)], fill=_INK)


def _draw_latency_bar(draw, box: _Box, scale: _Scale, top: int, height: int, backend: dict,
                      stats: dict | None, colour: str, font) -> None:
    latency = (stats or {}).get("latency_ms") or {}
    p50, p90 = _finite(latency.get("p50")), _finite(latency.get("p90"))
    middle = top + height // 2
    if p50 is None:
        note = "failed" if backend.get("error") else "n/a"
        _, h = _text_size(draw, note, font)
        draw.text((box.left + 4, middle - h // 2 - 1), note, font=font, fill=_MUTED)
        return
    end = box.left + max(1, round(scale.fraction(p50) * box.width))
    draw.rectangle([box.left + 1, top + 1, end, top + height - 2], fill=colour)
    reach = end
    if p90 is not None and p90 > p50:
        reach = box.left + round(scale.fraction(p90) * box.width)
        cap = max(2, height // 3)
        draw.line([(end, middle), (reach, middle)], fill=_INK, width=1)
        draw.line([(reach, middle - cap), (reach, middle + cap)], fill=_INK, width=1)
    text = f"{_fmt_ms(p50)} ms"
    w, h = _text_size(draw, text, font)
    x = reach + 5 if reach + 5 + w <= box.right + 60 else max(box.left + 2, end - w - 4)
    draw.text((x, middle - h // 2 - 1), text, font=font, fill=_INK)


def _draw_throughput_panel(image, draw, box: _Box, result: dict, colours: dict[str, str]) -> None:
    """(b) images/s per batch size, one bar per backend, grouped by batch."""
    small, font = _font(11), _font(12)
    backends, batches = _backends(result), _batch_keys(result)
    draw.text((box.left - 40, box.top - 22), "(b) throughput per batch size", font=_font(13), fill=_INK)
    values = [_finite((_batch_stats(b, batch) or {}).get("images_per_s")) for b in backends for batch in batches]
    scale = _scale_for(values, 1.1)
    for tick in scale.ticks:
        y = box.bottom - round(scale.fraction(tick) * box.height)
        draw.line([(box.left, y), (box.right, y)], fill=_GRID)
        w, h = _text_size(draw, _tick_text(tick), small)
        draw.text((box.left - w - 6, y - h // 2 - 1), _tick_text(tick), font=small, fill=_INK)
    label = "images / s" + (" (log scale)" if scale.log else "")
    _draw_vertical_text(image, box.left - 62, box.top + box.height // 2, label, font, _INK)
    group_width = box.width / max(len(batches), 1)
    bar_width = max(3, min(60, int(group_width * 0.8 / max(len(backends), 1))))
    for g, batch in enumerate(batches):
        centre = box.left + (g + 0.5) * group_width
        text = str(batch)
        w, _ = _text_size(draw, text, font)
        draw.text((round(centre - w / 2), box.bottom + 4), text, font=font, fill=_INK)
        first = centre - bar_width * len(backends) / 2
        for i, backend in enumerate(backends):
            left = round(first + i * bar_width)
            rate = _finite((_batch_stats(backend, batch) or {}).get("images_per_s"))
            if rate is None:
                continue
            top = box.bottom - max(1, round(scale.fraction(rate) * box.height))
            colour = colours[str(backend.get("name"))]
            draw.rectangle([left + 1, top, left + bar_width - 2, box.bottom - 1], fill=colour)
            value = _fmt_ms(rate)
            w, h = _text_size(draw, value, small)
            if w <= bar_width + 6:
                draw.text((round(left + (bar_width - w) / 2), top - h - 4), value, font=small, fill=_INK)
    label = "batch size"
    w, _ = _text_size(draw, label, font)
    draw.text((box.left + (box.width - w) // 2, box.bottom + 20), label, font=font, fill=_INK)
    draw.line([(box.left, box.top), (box.left, box.bottom)], fill=_INK)
    draw.line([(box.left, box.bottom), (box.right, box.bottom)], fill=_INK)


def _legend_entries(result: dict, colours: dict[str, str]) -> list[tuple[str, str]]:
    entries = []
    for backend in _backends(result):
        name = str(backend.get("name"))
        entries.append((name + (" (failed)" if backend.get("error") else ""), colours[name]))
    return entries


def _legend_lines(draw, entries: list[tuple[str, str]], width: int, font) -> list[list[tuple[str, str, int]]]:
    """Entries flowed into lines no wider than ``width``: (text, colour, entry width) each."""
    lines: list[list[tuple[str, str, int]]] = [[]]
    used = 0
    for text, colour in entries:
        entry = 18 + _text_size(draw, text, font)[0] + 22
        if lines[-1] and used + entry > width:
            lines.append([])
            used = 0
        lines[-1].append((text, colour, entry))
        used += entry
    return lines


def _draw_legend(draw, lines: list[list[tuple[str, str, int]]], top: int, image_width: int, font) -> None:
    for row, line in enumerate(lines):
        x = (image_width - sum(entry for _, _, entry in line)) // 2
        y = top + row * 20
        for text, colour, entry in line:
            draw.rectangle([x, y + 2, x + 12, y + 14], fill=colour)
            draw.text((x + 18, y), text, font=font, fill=_INK)
            x += entry


def _plot_title(result: dict) -> tuple[str, str]:
    machine = result.get("machine") or {}
    title = f"zoe-bench on {_machine_label(machine)}"
    details = [d for d in (str(result.get("started") or ""), _versions(machine)) if d]
    if result.get("interrupted"):
        details.append("INTERRUPTED: partial results")
    return title, "  |  ".join(details)


def render_latency_plot(result: dict, size: tuple[int, int] = PLOT_SIZE):
    """The latency plot as a Pillow image (RGB): (a) p50/p90 latency bars, (b) images/s by batch."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    title, subtitle = _plot_title(result)
    draw.text((20, 12), title, font=_font(18), fill=_INK)
    draw.text((20, 38), subtitle, font=_font(12), fill=_MUTED)
    colours = _backend_colours(result)
    legend_font = _font(12)
    legend = _legend_lines(draw, _legend_entries(result, colours), width - 40, legend_font)
    legend_top = height - 12 - 20 * len(legend)
    plot_bottom = legend_top - 48
    split = round(width * 0.58)
    _draw_latency_panel(image, draw, _Box(80, 90, split - 70, plot_bottom), result, colours)
    _draw_throughput_panel(image, draw, _Box(split + 70, 90, width - 25, plot_bottom), result, colours)
    _draw_legend(draw, legend, legend_top, width, legend_font)
    return image


def plot_latency(result: dict, path: str | Path, size: tuple[int, int] = PLOT_SIZE) -> Path:
    """Write the latency plot as a PNG at ``path`` (atomically); returns the path."""
    path = Path(path)
    image = render_latency_plot(result, size)
    with atomic_output(path) as tmp:
        image.save(tmp, format="PNG")
    return path


# --------------------------------------------------------------------------- files


def _json_default(value: Any) -> Any:
    """Paths, numpy scalars and arrays, sets: as the JSON they stand for."""
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalar or array
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def result_json(result: dict) -> str:
    """The result as indented JSON (non-finite floats as Python writes them: NaN, Infinity)."""
    return json.dumps(result, indent=2, default=_json_default) + "\n"


def _write_text(path: Path, text: str) -> None:
    try:
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ZoeExportError(f"cannot write {path}: {exc.strerror or exc}. Choose a writable output folder.") from exc


def write_report(result: dict, folder: str | Path) -> dict[str, Path]:
    """Write result.json, report.md and latency.png into ``folder`` (created if needed).

    Each file appears whole or not at all. The JSON goes first, so a report or plot that cannot be
    made never costs the measurements. Returns {"json": ..., "markdown": ..., "plot": ...}.
    Raises ZoeExportError where the folder cannot be written.
    """
    folder = Path(folder)
    paths = {key: folder / name for key, name in FILE_NAMES.items()}
    _write_text(paths["json"], result_json(result))
    _write_text(paths["markdown"], markdown_report(result, plot=paths["plot"].name))
    try:
        plot_latency(result, paths["plot"])
    except OSError as exc:
        raise ZoeExportError(f"cannot write {paths['plot']}: {exc.strerror or exc}. "
                             "Choose a writable output folder.") from exc
    return paths


__all__ = [
    "FILE_NAMES",
    "format_table",
    "goal_line",
    "markdown_report",
    "plot_latency",
    "render_latency_plot",
    "result_json",
    "write_report",
]
