"""``zoe-export doctor``: what this machine has for every stage, and (``--smoke``) whether the GPU path works.

    report = diagnose(smoke=True)
    report.ok          # every required component works (and the smoke engines passed)
    report.to_dict()   # what --json writes

The first command to run on a GPU machine, and what to paste into a bug report.
"""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field, replace

from .. import __version__
from . import checks as _checks
from .checks import OK, Check

#: what --smoke needs beyond the TensorRT stack: the tiny model is exported with torch and compared on ONNX Runtime
SMOKE_NEEDS = ("onnxruntime", "torch")


@dataclass
class Report:
    checks: list[Check]
    smoke: list[dict] | None = None  # one result per engine when --smoke ran
    refused: str | None = None  # why --smoke did not run
    machine: dict = field(default_factory=lambda: {
        "zoe_export": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "executable": sys.executable})

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if c.required and c.status != OK]

    @property
    def ok(self) -> bool:
        smoke_ok = self.smoke is None or all(r["passed"] for r in self.smoke)
        return not self.problems and self.refused is None and smoke_ok

    def to_dict(self) -> dict:
        return {"ok": self.ok, "machine": self.machine, "checks": [c.to_dict() for c in self.checks],
                "smoke": self.smoke, "smoke_refused": self.refused}


def diagnose(smoke: bool = False) -> Report:
    """Check every component; with ``smoke``, build and run test-N engines unless something they need is missing."""
    checks = _checks.check_all()
    if smoke:
        checks = [replace(c, required=c.required or c.name in SMOKE_NEEDS) for c in checks]
    report = Report(checks)
    if not smoke:
        return report
    if report.problems:
        report.refused = "the smoke test needs " + ", ".join(f"{c.name} ({c.status})" for c in report.problems)
        return report
    from .smoke import run_smoke

    report.smoke = run_smoke()
    return report


__all__ = ["Check", "Report", "diagnose"]
