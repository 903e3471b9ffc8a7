"""Argument groups shared by the command-line tools, and the one place CLI flags map to the API."""
from __future__ import annotations

import argparse
import functools
import math
import sys
from typing import Callable

from .._files import folders_removed_on_failure
from ..errors import ZoeExportError, command_line

DOMAINS = ("auto", "nyu", "kitti")


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum`` (seeds, counts, sizes)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below {minimum}: give {minimum} or more")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number above zero (depths, budgets, seconds, gigabytes)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number above 0")
    return value


def add_model_args(parser: argparse.ArgumentParser, default_variant: str | None = None, required: bool = True) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--variant", default=default_variant, required=required and default_variant is None,
                   help="M12-N, M12-K or M12-NK (test-N/K/NK: toy-width test models)"
                   + (f"; default {default_variant}" if default_variant else ""))
    g.add_argument("--checkpoint", metavar="PATH",
                   help="checkpoint file; default: the official release, downloaded once into the cache")
    g.add_argument("--random-weights", action="store_true",
                   help="seeded random weights instead of a checkpoint (smoke runs, timing; depth is meaningless)")
    g.add_argument("--seed", type=at_least(0), help="seed of --random-weights (default 0)")
    g.add_argument("--sha256", metavar="HEX", help="pin the checkpoint file's sha256")
    g.add_argument("--height", type=int, help="input height, a multiple of 32 (default: the variant's native size)")
    g.add_argument("--width", type=int, help="input width, a multiple of 32 (default: the variant's native size)")
    g.add_argument("--max-depth", type=positive_number,
                   help="K only: upper end of the bins in metres (default 80; 10 = torch.hub)")
    g.add_argument("--domain", choices=DOMAINS, default="auto",
                   help="NK only: route per sample (auto) or keep one head")


def load_model_from_args(args: argparse.Namespace):
    """The model the flags describe (the only mapping from model flags to ``load_model``)."""
    from ..models import load_model

    return load_model(
        args.variant,
        args.checkpoint,
        height=args.height,
        width=args.width,
        max_depth=args.max_depth,
        domain=args.domain,
        weights="random" if args.random_weights else None,
        sha256=args.sha256,
        seed=args.seed,
        dynamic_size=getattr(args, "dynamic_size", None),
    )


def add_precision_args(group, high_precision: str) -> None:
    """How an FP32 graph becomes FP16 or INT8 (zoe-export onnx --precision, zoe-export trt --fp16/--int8)."""
    group.add_argument("--calib", metavar="DIR", help="calibration set from zoe-export calib (INT8)")
    group.add_argument("--calib-method", choices=("entropy", "max"), default="entropy",
                       help="activation ranges: entropy (KL, 2048-bin histograms; default) or max")
    group.add_argument("--keep-precision", nargs="+", metavar="PATTERN",
                       help="fnmatch patterns on '<module path>/<node>' kept out of INT8, replacing the defaults "
                            "(BEiT attention, patch embedding, metric head); 'none' quantizes every Conv/MatMul")
    group.add_argument("--high-precision", choices=("fp32", "fp16"), default=high_precision,
                       help=f"what the INT8 graph runs elsewhere: fp32 (ONNX Runtime CPU) or fp16 (TensorRT); "
                            f"default {high_precision}")
    group.add_argument("--max-rel-drift", type=positive_number, metavar="REL",
                       help="INT8 accuracy budget: keep the fewest layer groups out of INT8 so that REL on held-out "
                            "calibration samples stays within it (e.g. 0.01)")
    group.add_argument("--holdout", type=at_least(0), default=2,
                       help="calibration samples held out to measure INT8 drift (default 2)")
    group.add_argument("--measure-on", choices=("onnxruntime", "openvino", "openvino:f32", "openvino:bf16"),
                       default="onnxruntime",
                       help="where the INT8 budget search and parity are measured: the backend that will run the "
                            "graph. onnxruntime (its emulation of INT8 in f32; default) or openvino (= openvino:f32), "
                            "openvino:bf16 (OpenVINO CPU: INT8 kernels, the rest in f32 or bf16; the ONNX Runtime "
                            "figure is kept beside for comparison)")
    group.add_argument("--backend", choices=("auto", "modelopt", "builtin"), default="auto",
                       help="converter: auto = NVIDIA Model Optimizer (AutoCast, INT8 quantizer) when installed and "
                            "this machine's memory holds it (M12 INT8: ~21 GB, FP16: ~12 GB), else builtin (our FP16 "
                            "converter, ONNX Runtime's QDQ quantizer: ~7 GB); both get the same islands, INT8 "
                            "selection and ranges")


def precision_flags_given(args: argparse.Namespace, high_precision: str) -> list[str]:
    """The precision flags set away from their defaults (they tune a conversion: useless without one)."""
    defaults = {"calib": None, "calib_method": "entropy", "keep_precision": None, "high_precision": high_precision,
                "max_rel_drift": None, "holdout": 2, "backend": "auto", "measure_on": "onnxruntime"}
    return ["--" + name.replace("_", "-") for name, default in defaults.items() if getattr(args, name) != default]


def precision_options_from_args(args: argparse.Namespace, precision: str):
    """The one mapping from the precision flags to :class:`~zoe_export.precision.PrecisionOptions`."""
    from ..precision import PrecisionOptions

    if precision == "fp16":
        from .._log import log

        for flag in set(precision_flags_given(args, args.high_precision)) & {"--calib-method", "--holdout"}:
            log.warning("%s is ignored: FP16 conversion calibrates nothing.", flag)
    keep = None if args.keep_precision is None else tuple(p for p in args.keep_precision if p != "none")
    options = PrecisionOptions(
        precision=precision, calib=args.calib, calib_method=args.calib_method, keep_precision=keep,
        high_precision=args.high_precision, max_rel_drift=args.max_rel_drift, holdout=args.holdout,
        verify=getattr(args, "verify", True), backend=args.backend, measure_on=args.measure_on,
    )
    options.validate()
    if options.calib is not None:
        from ..calib import CalibrationSet

        CalibrationSet(options.calib).split(options.holdout)  # readable, and big enough, before the slow part
    return options


class _Backend(argparse.Action):
    """Keeps --engine / --onnx / --torch in the order given: the first is the base."""

    def __call__(self, parser, namespace, value, option_string=None):
        backends = list(getattr(namespace, "backends", None) or [])
        backends.append((self.dest, value))
        namespace.backends = backends


def add_backend_args(parser: argparse.ArgumentParser) -> None:
    """The backends zoe-bench and zoe-bench eval run (TensorRT engines, ONNX graphs, the PyTorch model)."""
    from ..registry import list_backends

    g = parser.add_argument_group("backends (each may be repeated; the first named is the base)")
    for backend in list_backends():  # --onnx, --engine, ...: the backend registry's file backends
        if backend.bench_flag:
            g.add_argument(backend.bench_flag, action=_Backend, dest=backend.name, metavar=backend.bench_metavar,
                           help=backend.bench_help)
    g.add_argument("--torch", action=_Backend, nargs="?", const="fp32", metavar="MODE",
                   help="the PyTorch reference: fp32 (default), amp, compile or amp+compile (needs --variant)")
    g.add_argument("--provider", choices=("cpu", "cuda"), default="cpu",
                   help="ONNX Runtime provider for --onnx (cuda needs onnxruntime-gpu)")
    g.add_argument("--ov-precision", type=_ov_precisions, default=("f32",), metavar="f32|bf16|default",
                   help="what --openvino computes in: f32 (default), bf16 (CPUs with AVX-512 BF16 or AMX), default "
                        "(OpenVINO's pick, named in the report); comma-separated runs each --openvino in each, e.g. "
                        "f32,bf16. An INT8 graph computes its INT8 parts in integers and the rest in it")
    g.add_argument("--ov-hint", choices=("latency", "throughput"), default="latency",
                   help="OpenVINO's performance hint for --openvino: latency (one stream; default) or throughput "
                        "(parallel streams, a batch split over them)")
    g.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="device of --torch (default cpu)")
    g.add_argument("--amp", action="store_true", help="--torch in CUDA autocast FP16 (as --torch amp)")
    g.add_argument("--compile", action="store_true", help="--torch through torch.compile (as --torch compile)")
    g.add_argument("--threads", type=at_least(1), help="CPU threads of each backend (default: its own choice)")
    add_model_args(parser, required=False)  # for --torch (and a PyTorch parity reference)
    parser.set_defaults(backends=[])


def _ov_precisions(text: str) -> tuple[str, ...]:
    from ..openvino.device import INFERENCE_PRECISIONS

    values = tuple(dict.fromkeys(v.strip() for v in text.split(",")))
    unknown = [v for v in values if v not in INFERENCE_PRECISIONS]
    if unknown or not values:
        raise argparse.ArgumentTypeError(f"{text!r}: give {', '.join(INFERENCE_PRECISIONS)} or several, comma-separated")
    return values


def backend_specs(args: argparse.Namespace) -> list:
    """The one mapping from the backend flags to :class:`~zoe_export.bench.backends.BackendSpec` objects."""
    from ..bench.backends import file_spec, onnx_spec, openvino_spec

    def make(kind: str, value: str) -> list:
        if kind == "torch":
            return [torch_spec_from_args(value, args)]
        if kind == "onnxruntime":  # its own flags: --provider, --threads
            return [onnx_spec(value, args.provider, args.threads)]
        if kind == "openvino":  # its own flags: --ov-precision (one spec each), --ov-hint, --threads
            return [openvino_spec(value, p, args.ov_hint, args.threads) for p in args.ov_precision]
        return [file_spec(value, backend=kind)]

    specs = [spec for kind, value in args.backends for spec in make(kind, value)]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ZoeExportError(f"{', '.join(duplicates)} named twice: give each backend once.")
    if not any(kind == "torch" for kind, _ in args.backends) and (args.amp or args.compile):
        raise ZoeExportError("--amp and --compile apply to --torch, which is not among the backends.")
    return specs


TORCH_MODES = ("fp32", "amp", "compile", "amp+compile")


def torch_spec_from_args(mode: str, args: argparse.Namespace):
    """``--torch [fp32|amp|compile|amp+compile]`` with the model flags (variant, weights, size, device)."""
    from ..bench.backends import torch_spec

    if mode not in TORCH_MODES:
        raise ZoeExportError(f"--torch {mode}: choose one of {', '.join(TORCH_MODES)}.")
    if not args.variant:
        raise ZoeExportError("--torch needs --variant (M12-N, M12-K, M12-NK), and --checkpoint F or --random-weights.")
    return torch_spec(args.variant, amp="amp" in mode.split("+") or args.amp,
                      compile="compile" in mode.split("+") or args.compile, **torch_model_options(args))


def torch_model_options(args: argparse.Namespace) -> dict:
    """The PyTorch model the flags describe, as :func:`~zoe_export.bench.backends.torch_spec`'s keywords."""
    return {"device": args.device, "threads": args.threads, "checkpoint": args.checkpoint,
            "weights": "random" if args.random_weights else None, "seed": args.seed, "sha256": args.sha256,
            "height": args.height, "width": args.width, "max_depth": args.max_depth, "domain": args.domain or "auto"}


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail in the log")


def cli_entry(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """User errors print one line and exit 1 (no traceback); Ctrl-C exits 130.

    Messages name flags (:func:`~zoe_export.errors.command_line`); a run that fails takes back the
    (empty) output folders it created.
    """

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            with command_line(), folders_removed_on_failure():
                return main(argv)
        except ZoeExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper
