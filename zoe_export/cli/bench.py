"""``zoe-bench``: speed, parity and accuracy of backends, side by side and reproducible.

    zoe-bench --torch --variant M12-N --random-weights --onnx zoed_m12_n.onnx --onnx zoed_m12_n_int8.onnx \\
              --parity --output benchmarks/cpu_m12-n
    zoe-bench --engine engines/zoed_m12_n_fp16.engine --torch amp --variant M12-N --device cuda --parity
    zoe-bench --onnx zoed_m12_n_dyn.onnx --onnx zoed_m12_n_frame_flip.onnx --frame 720x1280
    zoe-bench --torch --variant M12-N --random-weights --openvino zoed_m12_n_int8.onnx --ov-precision f32,bf16 --parity
    zoe-bench eval --dataset nyu --data nyu_test/ --onnx zoed_m12_n.onnx

Each backend runs in its own worker process; the parent interleaves their timing rounds. The first
backend named is the base the others are compared to. ``zoe-bench eval`` is :mod:`.bench_eval`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ZoeExportError
from .args import (
    add_backend_args,
    add_common_args,
    at_least,
    backend_specs,
    cli_entry,
    positive_number,
    torch_model_options,
)


def _batch_sizes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give comma-separated batch sizes, e.g. 1,2,4,8") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoe-bench", description="Latency, throughput and parity of ZoeDepth "
                                     "backends, side by side (zoe-bench eval: accuracy on NYU / KITTI).")
    add_common_args(parser)
    add_backend_args(parser)
    g = parser.add_argument_group("timing")
    g.add_argument("--batch-sizes", type=_batch_sizes, default=(1,), metavar="1,2,4,8", help="default 1")
    g.add_argument("--warmup", type=at_least(0),
                   help="untimed calls per backend and batch size (default 1 on a CPU, 10 on a GPU; "
                        "at least one always runs, to size the timing rounds)")
    budget = g.add_mutually_exclusive_group()
    budget.add_argument("--iters", type=at_least(1), help="timed iterations per backend and batch size")
    budget.add_argument("--seconds", type=positive_number,
                        help="time budget per backend and batch size (default 120 on a CPU, where a full-size "
                             "forward takes seconds; 15 on a GPU)")
    g.add_argument("--images", metavar="DIR", help="images to run (default: the built-in scene and variants)")
    what = g.add_mutually_exclusive_group()
    what.add_argument("--size", metavar="HxW",
                      help="time every backend's model at this model size (multiples of 32; a fixed-size graph must "
                           "be built for it). Default: each card's size, a dynamic-size graph's default size")
    what.add_argument("--frame", metavar="HxW",
                      help="time each backend end to end on one synthetic HxW frame (e.g. 720x1280): "
                           "DepthEngine.predict, i.e. numpy pre/postprocessing around a model-io graph (at the "
                           "official keep-aspect size when it is dynamic), a frame graph alone; the report says "
                           "which path each took and compares their depth (REL) where they compute the same thing. "
                           "Batch 1; not with --parity or --profile")
    g = parser.add_argument_group("checks and outputs")
    g.add_argument("--parity", action="store_true", help="each backend against the FP32 reference, with pictures")
    g.add_argument("--reference", default="torch", metavar="torch|onnx:PATH",
                   help="the parity reference: torch (PyTorch FP32 with the model flags; default) or onnx:FP32.onnx")
    g.add_argument("--reference-mismatch-ok", action="store_true",
                   help="compare even when the reference's weights or options differ from what a graph or engine "
                        "records (otherwise an error; the report carries a warning)")
    g.add_argument("--profile", action="store_true",
                   help="per-operator profiles (ONNX Runtime's, PyTorch profiler's) into --output")
    g.add_argument("--output", metavar="DIR", help="write result.json, report.md, latency.png and pictures there")
    return parser


def reference_spec(args, specs):
    from ..bench.backends import onnx_spec, torch_spec

    if args.reference.startswith("onnx:"):
        spec = onnx_spec(args.reference[5:], "cpu", args.threads)
        if spec.precision != "fp32":
            raise ZoeExportError(f"--reference {args.reference}: the reference must be an FP32 graph, this is "
                                 f"{spec.precision}.")
        return spec  # on the CPU, FP32: as given, with what it read from the file
    if args.reference != "torch":
        raise ZoeExportError(f"--reference {args.reference}: give torch or onnx:PATH.")
    existing = next((s for s in specs if s.kind == "torch" and s.precision == "fp32"), None)
    if existing is not None:
        return existing
    if not args.variant or not (args.checkpoint or args.random_weights):
        raise ZoeExportError("--parity against PyTorch needs the model: --variant V and --checkpoint F (or "
                             "--random-weights, as the graphs were exported), or --reference onnx:FP32.onnx.")
    return torch_spec(args.variant, **torch_model_options(args))  # FP32, eager: whatever --amp/--compile ask


@cli_entry
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["eval"]:
        from . import bench_eval

        return bench_eval.main(argv[1:])
    args = build_parser().parse_args(argv)
    from .._files import check_folder_writable
    from .._log import setup_logging
    from ..bench.report import format_table, write_report
    from ..bench.session import BenchOptions, run_benchmark

    setup_logging(args.verbose)
    specs = backend_specs(args)
    if not specs:
        raise ZoeExportError("name at least one backend: --torch (with --variant), --onnx M.onnx, --engine E.engine or "
                             "--openvino M.onnx.")
    from ..sizes import MULTIPLE, parse_size

    options = BenchOptions(batch_sizes=args.batch_sizes, warmup=args.warmup, iters=args.iters, seconds=args.seconds,
                           images=args.images, parity=args.parity, profile=args.profile,
                           output=Path(args.output) if args.output else None,
                           reference_mismatch_ok=args.reference_mismatch_ok,
                           size=None if args.size is None else parse_size(args.size, "--size", MULTIPLE),
                           frame=None if args.frame is None else parse_size(args.frame, "--frame"))
    options.validate()
    if args.profile and not args.output:
        raise ZoeExportError("--profile writes profile files: add --output DIR.")
    _warn_ignored(args)
    if args.output:
        check_folder_writable(args.output, "--output")  # before the timing, not after it
    reference = reference_spec(args, specs) if args.parity else None
    result = run_benchmark(specs, options, reference, command="zoe-bench " + " ".join(argv))
    print(format_table(result))
    if args.output:
        for path in write_report(result, Path(args.output)).values():
            print(f"wrote    {path}")
    if result["interrupted"]:
        return 130
    failed = result["failures"] + [f"{b['name']} failed to run" for b in result["backends"] if b["error"]]
    if failed:
        print(f"error: {len(failed)} problem(s), see above: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


def _warn_ignored(args) -> None:
    """Flags that apply to something this run does not do are said to be ignored."""
    from .._log import log

    kinds = {kind for kind, _ in args.backends}
    torch_used = "torch" in kinds or (args.parity and args.reference == "torch")
    for flag, given, applies, what in (
            ("--reference", args.reference != "torch", args.parity, "--parity"),
            ("--reference-mismatch-ok", args.reference_mismatch_ok, args.parity, "--parity"),
            ("--provider", args.provider != "cpu", "onnxruntime" in kinds, "--onnx backends"),
            ("--ov-precision", args.ov_precision != ("f32",), "openvino" in kinds, "--openvino backends"),
            ("--ov-hint", args.ov_hint != "latency", "openvino" in kinds, "--openvino backends"),
            ("--device", args.device != "cpu", "torch" in kinds, "--torch"),
            ("--variant", bool(args.variant), torch_used, "--torch and a PyTorch parity reference"),
            ("--images", bool(args.images), args.frame is None,
             "timing on images (--frame times one synthetic frame)")):
        if given and not applies:
            log.warning("%s is ignored: it applies to %s, which this run does not use.", flag, what)


if __name__ == "__main__":
    sys.exit(main())
