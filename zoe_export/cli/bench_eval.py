"""``zoe-bench eval``: one backend against ground truth with the paper's protocol (NYU Depth v2, KITTI Eigen)."""
from __future__ import annotations

import argparse

from ..errors import ZoeExportError
from .args import add_backend_args, add_common_args, at_least, backend_specs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoe-bench eval", description="Accuracy against ground truth with the "
                                     "paper's protocol (NYU Depth v2 Eigen split, KITTI Eigen split).")
    add_common_args(parser)
    parser.add_argument("--dataset", choices=("nyu", "kitti"), required=True)
    parser.add_argument("--data", required=True, metavar="DIR", help="the dataset's folder (layouts: README)")
    parser.add_argument("--split", metavar="FILE", help="the split file (KITTI: required; NYU: optional)")
    parser.add_argument("--limit", type=at_least(1), help="evaluate only the first N samples")
    parser.add_argument("--reference-result", metavar="JSON", help="a stored result to compute mRI against")
    parser.add_argument("--output", metavar="DIR", help="write eval.json there")
    add_backend_args(parser)
    return parser


def main(argv: list[str]) -> int:
    """``zoe-bench eval ARGS`` (``zoe-bench`` hands its arguments after ``eval`` here, inside its error handling)."""
    args = build_parser().parse_args(argv)
    from .._log import setup_logging

    setup_logging(args.verbose)
    return run(args)


def run(args: argparse.Namespace) -> int:
    from ..bench.eval_run import run_eval

    specs = backend_specs(args)
    if len(specs) != 1:
        raise ZoeExportError("zoe-bench eval takes one backend: --engine E, --onnx M or --torch (with --variant).")
    result = run_eval(specs[0], args.dataset, args.data, args.split, limit=args.limit,
                      reference_result=args.reference_result, output=args.output)
    _report(result)
    if result["path"]:
        print(f"wrote    {result['path']}")
    return 130 if result.get("interrupted") else 0


def _report(result: dict) -> None:
    from ..bench.evaluation import METRICS

    mean = result["mean"]
    print(f"eval     {result['backend']} on {result['count']} image(s) ({result['protocol']}), "
          f"{result['skipped']} without valid pixels, {result['dataset_skipped']} split lines without ground truth")
    print("metrics  " + "  ".join(f"{m} {mean[m]:.4f}" for m in METRICS if m in mean))
    if "reference" in result:
        imp = result["reference"]["improvement"]
        mri = "n/a" if imp["mri_theta"] is None else f"{imp['mri_theta']:+.2%}"
        rel = "n/a" if imp["rel"] is None else f"{imp['rel']:+.2%}"
        print(f"vs       {result['reference']['name']}: REL improvement {rel}, mRI-theta {mri}"
              + (f" (missing {', '.join(imp['missing'])})" if imp["missing"] else ""))
    if result.get("interrupted"):
        print("interrupted: the figures cover the images evaluated so far")
