"""Reading one result dict (the JSON zoe-bench writes): backends, batch sizes, stages, parity, the machine, the rows.

The result may be partial: an interrupted run, a backend that failed to load (``error``), a batch size that was
never reached, a batch that was skipped. The readers here turn each of those into a row with a note, never a crash.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..timing import STAGES  # the stages of one call, in the order they run; a backend may lack some
from .numbers import MISSING, first_line, number


def backends(result: dict) -> list[dict]:
    """The backend records, in the order they ran (anything that is not a dict is left out)."""
    return [b for b in result.get("backends") or [] if isinstance(b, dict)]


def _batch_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 30, key)


def batch_keys(result: dict) -> list[str]:
    """Every batch size asked for or measured, as the string keys that JSON gives them, smallest first."""
    keys = {str(b) for b in (result.get("options") or {}).get("batch_sizes") or []}
    for backend in backends(result):
        keys.update(str(k) for k in backend.get("batches") or {})
    return sorted(keys, key=_batch_order)


def batch_stats(backend: dict, batch: str) -> dict | None:
    """The figures of ``backend`` at ``batch`` (a string or int key), or None where it has none."""
    batches = backend.get("batches") or {}
    stats = batches.get(batch, batches.get(int(batch)) if batch.isdigit() else None)
    return stats if isinstance(stats, dict) else None


def stage_names(result: dict) -> list[str]:
    """The known stages, then any other stage a backend reported, in the order first seen."""
    extra: list[str] = []
    for backend in backends(result):
        for stats in (backend.get("batches") or {}).values():
            for name in (stats or {}).get("stages_ms") or {}:
                if name not in STAGES and name not in extra:
                    extra.append(name)
    return [*STAGES, *extra]


def parity_verdict(backend: dict) -> str:
    """'PASS', 'FAIL', or '-' where parity was not checked or not judged."""
    parity = backend.get("parity")
    if not isinstance(parity, dict) or parity.get("passed") is None:
        return MISSING
    return "PASS" if parity["passed"] else "FAIL"


def parity_overall(backend: dict, metric: str) -> Any:
    """One overall parity figure of ``backend`` (rel, rmse, delta1, max_abs), or None."""
    parity = backend.get("parity")
    if not isinstance(parity, dict):
        return None
    return (parity.get("overall") or {}).get(metric)


def frame_plan(backend: dict) -> dict | None:
    """How ``backend`` ran the frame of a ``zoe-bench --frame`` run (path, model size, REL ...), or None."""
    plan = backend.get("frame")
    return plan if isinstance(plan, dict) else None


def frame_rel_text(backend: dict) -> str:
    """The backend's depth REL against the first backend computing the same thing; 'ref' for that first one."""
    plan = frame_plan(backend)
    if plan is None:
        return MISSING
    if number(plan.get("rel")) is not None:
        return f"{plan['rel']:.3g}"
    return "ref" if plan.get("compared") else MISSING


def machine_label(machine: dict) -> str:
    """'NVIDIA H100, x86_64 with 16 CPU cores' or 'x86_64 with 2 CPU cores'."""
    cpu = machine.get("processor") or "unknown CPU"
    if machine.get("cpu_count"):
        cpu += f" with {machine['cpu_count']} CPU cores"
    return f"{machine['gpu']}, {cpu}" if machine.get("gpu") else cpu


def versions(machine: dict) -> str:
    """'python 3.11.9, torch 2.5.1, onnxruntime 1.20.1': the versions the machine record has."""
    names = ("python", "torch", "onnxruntime", "tensorrt")
    return ", ".join(f"{n} {machine[n]}" for n in names if machine.get(n))


@dataclass(frozen=True)
class Row:
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


def rows(result: dict) -> list[Row]:
    """Measured batches of each backend in batch order; one line for a failure, one per missing batch."""
    found: list[Row] = []
    for backend in backends(result):
        for batch in batch_keys(result):
            stats = batch_stats(backend, batch)
            if stats is not None and stats.get("skipped"):
                found.append(Row(backend, batch, None, f"skipped: {first_line(stats['skipped'], 70)}"))
            elif stats is not None:
                found.append(Row(backend, batch, stats))
            elif not backend.get("error"):
                why = "not measured (run interrupted)" if result.get("interrupted") else "not measured"
                found.append(Row(backend, batch, None, why))
        if backend.get("error"):
            found.append(Row(backend, MISSING, None, f"FAILED: {first_line(backend['error'], 70)}"))
    return found


def measured_rows(result: dict) -> list[Row]:
    """The rows with numbers (no note)."""
    return [row for row in rows(result) if row.note is None]


def clock_text(result: dict) -> str:
    """'perf_counter', or per clock who used it: 'perf_counter (torch fp32 cpu); cuda-events (trt fp16)'."""
    by_clock: dict[str, list[str]] = {}
    for backend in backends(result):
        if backend.get("batches"):
            by_clock.setdefault(str(backend.get("clock") or "unknown clock"), []).append(str(backend.get("name")))
    if len(by_clock) <= 1:
        return next(iter(by_clock), "no clock (nothing timed)")
    return "; ".join(f"{clock} ({', '.join(names)})" for clock, names in by_clock.items())


def _span(values: list[int]) -> str:
    return str(values[0]) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def iterations_text(result: dict, *, warmup: bool = True) -> str:
    """'20 timed calls per backend and batch in 5 interleaved rounds, after 3 untimed warm-up calls'."""
    measured = [s for b in backends(result) for s in (b.get("batches") or {}).values() if isinstance(s, dict)]
    iterations = [int(s["iterations"]) for s in measured if number(s.get("iterations")) is not None]
    rounds = [int(s["rounds"]) for s in measured if number(s.get("rounds")) is not None]
    text = f"{_span(iterations)} timed calls per backend and batch" if iterations else "no timed calls"
    if rounds and max(rounds) > 1:
        text += f" in {_span(rounds)} interleaved rounds"
    elif rounds:
        text += " in one round per backend (not interleaved)"
    calls = (result.get("options") or {}).get("warmup")
    if warmup and calls is not None:
        text += f", after {calls} untimed warm-up calls"
    return text
