"""``zoe-export trt``: a TensorRT engine from an ONNX export (strongly typed; needs TensorRT and a GPU)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ZoeExportError
from ..registry import get_precision, list_precisions
from .args import (
    add_common_args,
    add_precision_args,
    positive_number,
    precision_flags_given,
    precision_options_from_args,
)
from .reports import report_conversion


def add_parser(sub) -> None:
    p = sub.add_parser("trt", help="a TensorRT engine from an ONNX export (strongly typed; needs TensorRT and a GPU)")
    add_common_args(p)
    p.add_argument("--onnx", required=True, help="the FP32 export, or a graph from zoe-export onnx --precision")
    g = p.add_argument_group("engine")
    for precision in map(get_precision, list_precisions(converted=True)):  # --fp16, --int8: the precision registry's
        g.add_argument(precision.trt_flag, dest="precision", action="append_const", const=precision.name,
                       help=precision.trt_help)
    g.add_argument("--output", help="the engine file (default: engines/<onnx name>[_<precision>][_<size profile>]"
                                    ".engine; a --size-profile given is in the name, colons as dashes)")
    g.add_argument("--timing-cache", metavar="FILE",
                   help="TensorRT tactic timing cache, read and updated "
                        "(default: engines/timing_<sm>_trt<version>.cache)")
    g.add_argument("--workspace-gb", type=positive_number, metavar="GB",
                   help="builder workspace limit (default: TensorRT's)")
    g.add_argument("--batch-profile", type=_batch_profile, metavar="MIN:OPT:MAX",
                   help="batch range for graphs exported with --dynamic-batch (default 1:2:8)")
    g.add_argument("--size-profile", metavar="MIN:OPT:MAX",
                   help="height x width range for dynamic-size graphs, e.g. 320x320:384x672:768x1344 (TensorRT tunes "
                        "at OPT; the engine takes MIN to MAX, and reserves memory for MAX). Graphs exported with "
                        "--dynamic-size: model sizes, multiples of 32 within the graph's range (default: the whole "
                        "range, OPT the native size); with --io frame: any frame size (default "
                        "240x240:720x1280:1920x1920). Narrow it to the sizes you run for less memory")
    g.add_argument("--legacy-precision", action="store_true",
                   help="TensorRT 10 only: the FP32 graph with the builder's FP16/INT8 flags, FP32 islands pinned by "
                        "precision constraints, an entropy calibrator on --calib (with a cache file)")
    g.add_argument("--rebuild", action="store_true", help="build even when a matching engine exists")
    g.add_argument("--cache-dir", metavar="DIR", help="engine cache (default: ~/.cache/zoe-export/engines)")
    q = p.add_argument_group("precision (when an FP32 graph is converted first)")
    add_precision_args(q, high_precision="fp16")
    q.add_argument("--checkpoint", metavar="FILE",
                   help="the checkpoint the FP32 graph was exported from: the conversion is measured against PyTorch "
                        "(without it: the cached official checkpoint, or the seed of random weights; else the FP32 "
                        "graph)")
    p.set_defaults(func=run)


def _batch_profile(text: str) -> tuple[int, int, int]:
    try:
        low, opt, high = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give MIN:OPT:MAX batch sizes, e.g. 1:2:8") from None
    return low, opt, high


def run(args: argparse.Namespace) -> int:
    from ..sizes import SizeProfile
    from ..trt import BuildOptions, EngineCache, build_engine, probe_environment
    from ..trt.graph import GraphInfo

    asked = args.precision or []
    if len(asked) > 1:
        flags = " and ".join(get_precision(p).trt_flag for p in asked)
        raise ZoeExportError(f"{flags} exclude each other: --int8 already runs the layers it keeps out of INT8 in FP16 "
                             "(--high-precision fp16). Pick one.")
    precision = asked[0] if asked else None
    size_profile = None if args.size_profile is None else SizeProfile.parse(args.size_profile, "--size-profile")
    options = BuildOptions(precision=precision, calib=args.calib, legacy_precision=args.legacy_precision,
                           workspace_gb=args.workspace_gb, batch_profile=args.batch_profile,
                           size_profile=size_profile, timing_cache=args.timing_cache, output=args.output)
    options.validate()
    graph = GraphInfo.read(args.onnx)  # read and hashed once: build_engine takes it as it is
    converts = precision is not None and graph.precision == "fp32" and not args.legacy_precision
    unused = [flag for flag in precision_flags_given(args, "fp16") if flag != "--calib"]  # legacy INT8 reads --calib
    if unused and not converts:
        raise ZoeExportError(f"{' and '.join(unused)} tune the conversion of an FP32 graph, which this build "
                             f"does not do ({graph.path} is {graph.precision}"
                             f"{', --legacy-precision' if args.legacy_precision else ''}). Drop them.")
    precision_options = precision_options_from_args(args, precision) if converts else None
    cache = EngineCache(args.cache_dir) if args.cache_dir else None
    if args.checkpoint and not converts:
        raise ZoeExportError(f"--checkpoint measures the conversion of an FP32 graph, which this build does not do "
                             f"({graph.path} is {graph.precision}). Drop it.")
    manifest = build_engine(graph, options, precision_options, env=probe_environment(), cache=cache,
                            rebuild=args.rebuild, checkpoint=args.checkpoint)
    _report_converted(manifest)
    _report_engine(manifest)
    return 0


def _report_converted(manifest: dict) -> None:
    """The precision stage's figures, when this build converted the FP32 graph first."""
    if manifest.get("conversion"):
        report_conversion(manifest["conversion"])


def _shape(tensor: dict) -> str:
    """``[N, 3, N, N]``: a manifest tensor's shape, N for a free dimension."""
    return "[" + ", ".join(map(str, tensor["shape"])) + "]"


def _report_engine(manifest: dict) -> None:
    from ..trt import manifest_path

    path = Path(manifest["path"])
    gpu = manifest["gpu"]
    how = f"reused {manifest['reused']}" if manifest.get("reused") else f"built in {manifest['build']['seconds']:.0f} s"
    print(f"engine   {path} ({manifest['engine_bytes'] / 2**20:.0f} MB): {manifest['precision']}, {manifest['mode']}, "
          f"{how} on {gpu['name']} (compute capability {gpu['compute_capability']}), "
          f"TensorRT {manifest['tensorrt_version']}")
    card = manifest["card"]
    batch, size = card.get("batch_profile"), card.get("size_profile")
    profiles = ([f"batch {':'.join(map(str, batch))}"] if batch else []) + ([f"size {size}"] if size else [])
    for tensor in manifest["inputs"]:
        extra = f", profile {', '.join(profiles)}" if tensor.get("profile") and profiles else ""
        print(f"input    {tensor['name']} {_shape(tensor)} {tensor['dtype']}{extra}")
    print("outputs  " + ", ".join(f"{t['name']} {_shape(t)} {t['dtype']}" for t in manifest["outputs"]))
    islands = {"fp16 islands": ", ".join(card["fp16_islands"]), "int8 groups": ", ".join(card["int8_groups"]),
               "high precision": card["high_precision"], "int8 budget REL": card["int8_budget_rel"],
               "measured REL": card["measured_rel"], "against": card["reference"],
               "layer pins": manifest["build"].get("layer_pins")}
    shown = {k: v for k, v in islands.items() if v}
    if shown:
        print("islands  " + "; ".join(f"{k} {v}" for k, v in shown.items()))
    print(f"manifest {manifest_path(path)}")
