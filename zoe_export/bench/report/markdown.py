"""The markdown report of a zoe-bench run: header, machine, options, goals, speed, stages, plot link, parity,
profile, errors and the method, each section left out where the run has nothing for it."""
from __future__ import annotations

from typing import Any

from ...compare.tolerance import Tolerance
from .goals import goal_line, result_goals
from .numbers import MISSING, fmt_ms, fmt_seconds, fmt_share, fmt_sig, number
from .reading import backends, clock_text, frame_plan, frame_rel_text, iterations_text, machine_label, parity_verdict
from .tables import Column, method_lines, speed_table, stage_table

#: the plot's file name beside the report, as write_report names it
PLOT_LINK = "latency.png"


def md_escape(text: Any) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def md_table(header: list[str], rows: list[list[str]], numeric: list[bool]) -> str:
    """A markdown table, numeric columns right-aligned; short rows are padded with empty cells."""
    lines = [
        "| " + " | ".join(md_escape(h) for h in header) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for cells in rows:
        padded = [md_escape(c) for c in cells] + [""] * (len(header) - len(cells))
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines)


def _columns_table(columns: list[Column], rows: list[list[str]]) -> str:
    return md_table([c.title for c in columns], rows, [c.numeric for c in columns])


def _header(result: dict) -> str:
    machine = result.get("machine") or {}
    lines = ["# zoe-bench report", "", "```text", str(result.get("command") or "zoe-bench"), "```", ""]
    lines.append(f"Started {result.get('started') or MISSING}, took {fmt_seconds(result.get('seconds'))}, "
                 f"on {machine_label(machine)}.")
    if result.get("interrupted"):
        lines += ["", "> **Interrupted**: the run was stopped early; the numbers cover only the calls that finished."]
    failed = [b for b in backends(result) if b.get("error")]
    if failed:
        names = ", ".join(md_escape(b.get("name")) for b in failed)
        lines += ["", f"> **Failed backends**: {names} (see Errors)."]
    return "\n".join(lines)


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _key_values(title: str, values: dict, first: tuple[str, ...] = ()) -> str:
    keys = [k for k in first if k in values] + [k for k in values if k not in first]
    if not keys:
        return ""
    rows = [[k, _value_text(values[k])] for k in keys]
    return f"## {title}\n\n" + md_table(["what", "value"], rows, [False, False])


def _goals(result: dict) -> str:
    goals = result_goals(result)
    if not goals:
        return ""
    return "## Goals\n\n" + "\n".join(f"- {md_escape(goal_line(g))}" for g in goals)


def _speed(result: dict) -> str:
    notes = "\n".join(f"- {line}" for line in method_lines(result))
    return f"## Speed\n\n{_columns_table(*speed_table(result))}\n\n{notes}"


def _stages(result: dict) -> str:
    stages = stage_table(result)
    if stages is None:
        return ""
    return ("## Stages (p50 ms per call)\n\n"
            f"{_columns_table(*stages)}\n\n`-`: the backend has no such stage (no copies on the CPU).")


def _bound_text(bound: dict | None) -> str:
    if not bound:
        return "no bound"
    parts = []
    if bound.get("max_rel") is not None:
        parts.append(f"REL <= {fmt_sig(bound['max_rel'])}")
    if bound.get("min_delta1") is not None:
        parts.append(f"delta1 >= {fmt_share(bound['min_delta1'])}")
    parts += [f"{k} {v}" for k, v in bound.items() if k not in ("max_rel", "min_delta1")]
    return ", ".join(parts) or "no bound"


def _within_bound(metrics: dict, bound: dict | None) -> str:
    """'yes', or what broke the bound ('REL', 'delta1'); '-' without a bound or the numbers."""
    rel, delta1 = number(metrics.get("rel")), number(metrics.get("delta1"))
    if not bound or (rel is None and delta1 is None):
        return MISSING
    broken = Tolerance.from_bound(bound).depth_breaches({"rel": rel, "delta1": delta1})
    return "no: " + ", ".join(broken) if broken else "yes"


def _parity_of(backend: dict) -> str:
    parity = backend["parity"]
    bound = parity.get("bound")
    against = (f"Against {md_escape(parity.get('reference') or MISSING)}, "
               f"precision {md_escape(parity.get('precision') or MISSING)}; bound: {_bound_text(bound)}.")
    lines = [f"### {md_escape(backend.get('name'))}: {parity_verdict(backend)}", "", against, ""]
    metric_rows = [("overall", parity.get("overall") or {})]
    metric_rows += [(name, m or {}) for name, m in (parity.get("per_image") or {}).items()]
    rows = [[name, fmt_sig(m.get("rel")), fmt_sig(m.get("rmse")), fmt_share(m.get("delta1")),
             fmt_sig(m.get("max_abs")), _within_bound(m, bound)] for name, m in metric_rows]
    lines.append(md_table(["image", "REL", "RMSE m", "delta1", "max abs m", "within bound"], rows,
                          [False, True, True, True, True, False]))
    pictures = parity.get("pictures") or []
    if pictures:
        lines += ["", "Pictures: " + ", ".join(f"[{md_escape(p)}]({p})" for p in pictures)]
    return "\n".join(lines)


def _parity(result: dict) -> str:
    checked = [b for b in backends(result) if isinstance(b.get("parity"), dict)]
    if not checked:
        return ""
    return "## Parity\n\n" + "\n\n".join(_parity_of(b) for b in checked)


def _frame(result: dict) -> str:
    """zoe-bench --frame: which path each backend took for the frame, and how its depth compares."""
    planned = [(b, frame_plan(b)) for b in backends(result) if frame_plan(b)]
    if not planned:
        return ""
    size = (result.get("options") or {}).get("frame") or MISSING
    rows = [[str(b.get("name")), str(p.get("path")), "x".join(map(str, p.get("model_size") or [])) or MISSING,
             str(p.get("fit")), "yes" if p.get("pad_input") else "no", "yes" if p.get("flip") else "no",
             frame_rel_text(b), fmt_sig(p.get("max_abs")), str(p.get("reference") or p.get("note") or p.get("error")
                                                              or MISSING)] for b, p in planned]
    table = md_table(["backend", "path", "model size", "fit", "pad", "flip", "REL", "max abs m", "against"], rows,
                     [False, False, False, False, False, False, True, True, False])
    return (f"## Frame ({md_escape(size)})\n\nEach call is `DepthEngine.predict` of one synthetic {md_escape(size)} "
            "frame. Path host: numpy preprocessing (reflect padding, resize), the model, numpy postprocessing (flip "
            "average, bicubic back to the frame); a dynamic-size graph runs the frame at the official keep-aspect "
            "size. Path frame graph: the official infer() inside the graph, the frame in as it is. REL compares a "
            "backend's depth with the first backend's that computes the same thing (same model size, padding and "
            "flip).\n\n" + table)


def _profile(result: dict) -> str:
    parts = []
    for backend in backends(result):
        profile = backend.get("profile")
        if not isinstance(profile, dict) or not profile.get("top_ops"):
            continue
        rows = [[str(op.get("op")), fmt_ms(op.get("ms")),
                 MISSING if number(op.get("share")) is None else f"{100 * op['share']:.1f} %"]
                for op in profile["top_ops"]]
        source = f" ([{md_escape(profile['file'])}]({profile['file']}))" if profile.get("file") else ""
        parts.append(f"### {md_escape(backend.get('name'))}{source}\n\n"
                     + md_table(["op", "ms", "share"], rows, [False, True, True]))
    return "## Profile (top operators)\n\n" + "\n\n".join(parts) if parts else ""


def _errors(result: dict) -> str:
    failed = [b for b in backends(result) if b.get("error")]
    checks = [*result.get("failures", ()), *result.get("warnings", ())]
    if not failed and not checks:
        return ""
    return "## Errors and warnings\n\n" + "\n\n".join(
        [f"- {md_escape(line)}" for line in checks]
        + [f"**{md_escape(b.get('name'))}**\n\n```text\n{b['error']}\n```" for b in failed])


def _method(result: dict) -> str:
    options = result.get("options") or {}
    asked = (f"{options['iters']} timed calls asked for" if options.get("iters")
             else f"calls until {options['seconds']} s per backend and batch size are spent (at least 3)"
             if options.get("seconds") else "the default count")
    images = (f"the images in {options['images']}" if options.get("images")
              else "the built-in scene and generated variants of it")
    if options.get("frame"):
        images = f"one {options['frame']} frame made from the built-in scene (see Frame)"
    elif options.get("size"):
        images += f", at model size {options['size']} for every backend"
    return "\n".join([
        "## Method",
        "",
        f"- Warm-up: {options.get('warmup', MISSING)} untimed calls per backend and batch before timing.",
        (f"- Timing: {asked}; measured {iterations_text(result, warmup=False)}. Rounds that alternate "
         "between backends spread drift (heat, clock boost, other load) over all of them instead of one."),
        (f"- Clock: {clock_text(result)}. perf_counter times the call on the host (after the backend "
         "synchronises); cuda-events time the GPU work between two events on the stream."),
        "- Batch: latency is per call of one batch; images/s counts the images of the batch.",
        ("- Stages: compute is the model alone; end-to-end adds preprocessing, host/device copies and "
         f"postprocessing. Inputs: {images}."),
        "- Memory: peak RSS is the host process's peak resident memory; GPU memory is as the backend reports it.",
    ])


def markdown_report(result: dict, *, plot: str | None = PLOT_LINK) -> str:
    """The whole report as markdown; ``plot`` is the latency PNG's path relative to the report (None: no link)."""
    machine = dict(result.get("machine") or {})
    sections = [
        _header(result),
        _key_values("Machine", machine, ("gpu", "processor", "cpu_count", "platform", "python", "torch",
                                         "onnxruntime", "tensorrt")),
        _key_values("Options", dict(result.get("options") or {})),
        _goals(result),
        _speed(result),
        _stages(result),
        _frame(result),
        f"## Plot\n\n![p50 latency and throughput]({plot})" if plot else "",
        _parity(result),
        _profile(result),
        _errors(result),
        _method(result),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"
