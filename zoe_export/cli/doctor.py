"""``zoe-export doctor [--smoke] [--json [FILE]]``: the report, a table on the console or JSON."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .args import add_common_args


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="what this machine has for each stage (TensorRT, CUDA, GPUs, ONNX Runtime, "
                                      "ModelOpt, torch); --smoke builds and runs tiny engines")
    add_common_args(p)
    p.add_argument("--smoke", action="store_true",
                   help="also build FP32 and FP16 engines of test-N in a temporary folder and compare them with ONNX "
                        "Runtime (parity, latency); refused without TensorRT and a GPU")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the report as JSON to FILE (without FILE: to stdout, instead of the table)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._files import atomic_output, check_writable
    from ..doctor import diagnose

    if args.json not in (None, "-"):
        check_writable(args.json, "--json")  # before the checks and the smoke builds
    report = diagnose(smoke=args.smoke)
    text = json.dumps(report.to_dict(), indent=2)
    if args.json == "-":
        print(text)
    else:
        _print(report)
        if args.json:
            with atomic_output(args.json) as tmp:
                tmp.write_text(text + "\n")
            print(f"wrote    {Path(args.json)}")
    return 0 if report.ok else 1


def _print(report) -> None:
    m = report.machine
    print(f"zoe-export {m['zoe_export']} on Python {m['python']}, {m['platform']}")
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        role = "" if check.required else " (optional)"
        print(f"  {check.name:{width}}  {check.status + role:15} {check.found}")
        if check.fix:
            print(f"  {'':{width}}  {'fix:':15} {check.fix}")
    if report.refused:
        print(f"smoke    refused before doing anything: {report.refused}")
    for result in report.smoke or ():
        if "error" in result:
            print(f"smoke    {result['precision']} engine: FAILED: {result['error']}")
            continue
        verdict = "passed" if result["passed"] else "FAILED: " + "; ".join(result["failures"])
        print(f"smoke    {result['precision']} engine vs ONNX Runtime: REL {result['rel']:.2e} (bound "
              f"{result['max_rel']:g}), delta1 {result['delta1']:.6f}, p50 {result['latency_p50_ms']:.2f} ms: {verdict}")
    if report.ok:
        print("result   ready: TensorRT engines can be built and run here" + (" (smoke test passed)" if report.smoke else ""))
    else:
        missing = ", ".join(f"{c.name} {c.status}" for c in report.problems)
        print(f"result   not ready{': ' + missing if missing else ''} (the fix lines above say how)")
