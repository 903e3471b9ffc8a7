"""Writing a zoe-bench run's files: result.json, report.md and latency.png, each whole or not at all."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ..._files import atomic_output
from ...errors import ZoeExportError
from .markdown import markdown_report
from .plot import plot_latency

FILE_NAMES = {"json": "result.json", "markdown": "report.md", "plot": "latency.png"}


def _json_default(value: Any) -> Any:
    """Paths, numpy scalars and arrays, sets, dataclasses (a Goal): as the JSON they stand for."""
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalar or array
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.as_dict() if hasattr(value, "as_dict") else dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def result_json(result: dict) -> str:
    """The result as indented JSON (non-finite floats as Python writes them: NaN, Infinity)."""
    return json.dumps(result, indent=2, default=_json_default) + "\n"


def _cannot_write(path: Path, exc: OSError) -> ZoeExportError:
    return ZoeExportError(f"cannot write {path}: {exc.strerror or exc}. Choose a writable output folder.")


def _write_text(path: Path, text: str) -> None:
    try:
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _cannot_write(path, exc) from exc


def write_report(result: dict, folder: str | Path) -> dict[str, Path]:
    """Write result.json, report.md and latency.png into ``folder`` (created if needed).

    Each file appears whole or not at all. The JSON goes first, so a report or plot that cannot be
    made never costs the measurements. Returns {"json": ..., "markdown": ..., "plot": ...}.
    Raises ZoeExportError where the folder cannot be written (or matplotlib is missing, after the JSON and report).
    """
    folder = Path(folder)
    paths = {key: folder / name for key, name in FILE_NAMES.items()}
    _write_text(paths["json"], result_json(result))
    _write_text(paths["markdown"], markdown_report(result, plot=paths["plot"].name))
    try:
        plot_latency(result, paths["plot"])
    except OSError as exc:
        raise _cannot_write(paths["plot"], exc) from exc
    return paths
