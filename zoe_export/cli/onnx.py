"""``zoe-export onnx``: a variant to verified, TensorRT-ready ONNX (FP32, or FP16 / INT8 converted from it)."""
from __future__ import annotations

import argparse

from ..errors import ZoeExportError
from ..registry import get_precision, list_precisions
from ..sizes import DEFAULT_SIZE_RANGE
from .args import (
    add_common_args,
    add_model_args,
    add_precision_args,
    at_least,
    load_model_from_args,
    precision_flags_given,
    precision_options_from_args,
)
from .reports import report_conversion, report_export


def add_parser(sub) -> None:
    p = sub.add_parser("onnx", help="export a variant to verified, TensorRT-ready ONNX")
    add_common_args(p)
    add_model_args(p)
    g = p.add_argument_group("export")
    g.add_argument("--output", help="the .onnx file (default: zoed_<variant>[options].onnx here)")
    batch = g.add_mutually_exclusive_group()
    batch.add_argument("--batch", type=at_least(1), default=1, help="fixed batch size (default 1)")
    batch.add_argument("--dynamic-batch", action="store_true", help="a dynamic batch dimension (1 to 64)")
    g.add_argument("--input-format", choices=("float-nchw", "uint8-nhwc"),
                   help="float32 [N,3,H,W] RGB in [0,1] (default), or raw uint8 [N,H,W,3] at the model size "
                        "(--io frame: always uint8 [N,H,W,3])")
    g.add_argument("--dynamic-size", nargs="?", const=str(DEFAULT_SIZE_RANGE), metavar="MIN_HxMIN_W:MAX_HxMAX_W",
                   help="one graph for every model size in a range, multiples of 32 (without a value: "
                        f"{DEFAULT_SIZE_RANGE}); excludes --height/--width")
    g.add_argument("--io", choices=("model", "frame"), default="model",
                   help="model: the model's input at the model size (default); frame: raw uint8 frames [N,H,W,3] "
                        "of any size in, metric depth [N,H,W] at the frame's size out, the official infer() "
                        "(reflect padding, resize, flip, bicubic back, crop) inside the graph")
    g.add_argument("--flip", action="store_true",
                   help="--io frame: average with the mirror image's depth, as the official infer() does "
                        "(the mirror image runs in the same batch)")
    g.add_argument("--frame-size", type=_frame_size, metavar="HxW",
                   help="--io frame: a graph for one camera size (default: any frame size)")
    g.add_argument("--opset", type=int, default=18, help="ONNX opset, 17 to 19 (default 18)")
    g.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip the ONNX Runtime parity checks (FP32 export, and FP16/INT8 bounds)")
    g.add_argument("--external-data", action="store_true",
                   help="weights in a .data file beside the .onnx even under the 2 GB protobuf limit")
    q = p.add_argument_group("precision (FP16 / INT8 graphs, converted from the verified FP32 export)")
    q.add_argument("--precision", choices=list_precisions(), default="fp32",
                   help="; ".join(get_precision(p).help for p in list_precisions()))
    add_precision_args(q, high_precision="fp32")
    p.set_defaults(func=run)


def _frame_size(text: str):
    from ..sizes import parse_size

    try:
        return parse_size(text, "--frame-size")
    except ZoeExportError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from .._log import stage
    from ..export import ExportOptions, export_onnx, preflight
    from ..models import ModelOptions, get_variant

    frame = args.io == "frame"
    if frame and args.input_format == "float-nchw":
        raise ZoeExportError("--io frame takes raw uint8 [N,H,W,3] frames: drop --input-format float-nchw "
                             "(or use --io model for a float input at the model size).")
    if frame and args.precision != "fp32":
        raise ZoeExportError(f"--io frame with --precision {args.precision}: the precision stage converts model "
                             "graphs; export --io model --precision ... for a converted graph, or drop --precision.")
    options = ExportOptions(
        batch=None if args.dynamic_batch else args.batch,
        input_format="uint8-nhwc" if frame else (args.input_format or "float-nchw"),
        opset=args.opset,
        verify=args.verify,
        external_data=True if args.external_data else None,
        io=args.io, flip=args.flip, frame_size=args.frame_size,
    )
    resolved = ModelOptions.resolve(get_variant(args.variant), args.height, args.width, args.max_depth, args.domain,
                                    args.dynamic_size)
    tuning = precision_flags_given(args, "fp32")
    if args.precision == "fp32" and tuning:
        raise ZoeExportError(f"{' '.join(tuning)} tune the conversion to FP16 or INT8, and this export stays FP32: "
                             "add --precision int8 (or fp16), or drop them.")
    precision = precision_options_from_args(args, args.precision) if args.precision != "fp32" else None
    if precision is not None and precision.calib is not None:
        from ..calib import open_calibration

        at = "" if resolved.size_range is not None else f" at {resolved.height}x{resolved.width}"
        open_calibration(precision.calib).check_matches(
            resolved.height, resolved.width, options.input_format,
            f"--variant {args.variant}{at} (--input-format {options.input_format})", resolved.size_range)
    preflight(args.output, options)  # fail before the slow part

    def model():  # no name holds the model here: the precision stage frees it once it has its references
        with stage(f"building {args.variant} and loading its weights"):
            return load_model_from_args(args)

    if precision is None:
        report_export(export_onnx(model(), args.output, options))
    else:
        from ..precision import export_and_convert

        _report_precision(export_and_convert(model(), args.output, options, precision))
    return 0


def _report_precision(manifest: dict) -> None:
    report_export(manifest["fp32_export"], kept=False)
    report_conversion(manifest)
    parity = manifest["parity"]
    if "plan" in manifest:
        plan = manifest["plan"]
        islands = ", ".join(f"{i['name']} {i['nodes']}" for i in plan["islands"])
        print(f"fp16     {plan['fp16_nodes']} nodes in FP16, {plan['fp32_nodes']} in FP32 islands ({islands})")
        other = manifest["parity_onnxruntime_fp16_graph"]["overall"]
        print(f"fp16     the FP16 graph as ONNX Runtime CPU runs it (in FP32 inside): REL {other['rel']:.2e}")
    elif "quantized_nodes" in manifest:  # INT8 (a precision of its own reports only its parity)
        print(f"int8     {manifest['quantized_nodes']} nodes in INT8 ({', '.join(manifest['int8_groups'])}), "
              f"{manifest['kept_nodes']} kept in {manifest['high_precision']}; Q/DQ {manifest['qdq_nodes']}")
        c = manifest["calibration"]
        print(f"calib    {c['set']} (id {c['id']}): {c['samples']} samples, {c['method']}, {c['seconds']:.0f} s")
    print(f"convert  {manifest['converter']}")
    print(f"wrote    {manifest['path']} and {manifest['path']}.json (REL {parity['overall']['rel']:.2e} against "
          f"{manifest['reference']}; {manifest['seconds']:.0f} s)")
