"""A run's summary: ``predict_summary.json`` (every input, its files, timing, errors) and the console report."""
from __future__ import annotations

import json
import time
from pathlib import Path

from .._files import atomic_output
from .pipeline import STAGES, RunResult

#: exit statuses beyond 0 (all well) and 1 (an error stopped the run)
SOME_FAILED = 3  # some inputs (or frames) failed and were skipped; the rest was written
INTERRUPTED = 130  # stopped with Ctrl-C (128 + SIGINT, as shells report it)
SUMMARY_NAME = "predict_summary.json"


def exit_status(result: RunResult) -> int:
    """0 when every input was read and written, 3 when some failed, 130 when Ctrl-C stopped a run that had more to
    read (stopping a live stream is how it ends: 0). Files of other types in a folder are listed, not failures."""
    if result.interrupted and not all(r.source.is_live for r in result.records):
        return INTERRUPTED
    return SOME_FAILED if result.failed_inputs else 0


def summary_dict(result: RunResult, model: dict, backend: str, options: dict) -> dict:
    wall = result.wall
    busy = sum(result.stages.values())
    return {
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "model": model,
        "backend": backend,
        "options": options,
        "exit_status": exit_status(result),
        "interrupted": result.interrupted,
        "frames": result.frames,
        "inputs_failed": len(result.failed_inputs),
        "seconds": round(wall, 3),
        "frames_per_s": round(result.frames_per_s, 4),
        "compute_frames_per_s": round(result.compute_frames_per_s, 4),
        # how much of the wall time the backend was busy, and how many stages ran at once on average
        "backend_busy": round(result.stages["compute"] / wall, 4) if wall > 0 else None,
        "overlap": round(busy / wall, 3) if wall > 0 else None,
        "stages_s": {name: round(result.stages[name], 3) for name in STAGES},
        "inputs": [record.as_dict() for record in result.records],
        "not_read": [{"input": s.location, "reason": s.reason} for s in result.skipped],
    }


def write_summary(path: Path, summary: dict) -> Path:
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def print_report(result: RunResult, summary_path: Path | None) -> None:
    """What happened, in a few lines: per failed or skipped input one line, then the totals and the stage split."""
    for skipped in result.skipped:
        print(f"skipped  {skipped.location}: {skipped.reason}")
    for record in result.records:
        if record.status in ("failed", "partial", "interrupted"):
            first = record.errors[0] if record.errors else "not finished"
            more = f" ({record.failed_frames} frames failed)" if record.failed_frames > 1 else ""
            print(f"{record.status:<8} {record.source.location}: {first}{more}")
        for kind, path in record.outputs.items():
            if kind == "video":
                print(f"wrote    {path}  (depth video, {record.frames} frames)")
    ok = sum(r.status == "ok" for r in result.records)
    existing = sum(r.status == "skipped" for r in result.records)
    stages = ", ".join(f"{name} {result.stages[name]:.1f} s" for name in STAGES)
    print(f"frames   {result.frames} written ({ok} of {len(result.records)} inputs ok"
          + (f", {existing} already done" if existing else "")
          + f") in {result.wall:.1f} s: {result.frames_per_s:.2f} frames/s end to end, "
          f"{result.compute_frames_per_s:.2f} frames/s inside the backend")
    print(f"stages   {stages} (summed over threads)")
    if summary_path is not None:
        print(f"wrote    {summary_path}  (every input, its files, timing and errors)")
