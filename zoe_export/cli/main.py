"""``zoe-export``: the toolkit's command line.

    zoe-export demo                                   # M12-N end to end on a built-in scene
    zoe-export predict --variant M12-N --checkpoint ZoeD_M12_N.pt --image room.jpg
    zoe-export variants
    zoe-export doctor --smoke                         # what this machine has; tiny engines built and run

Heavy modules are imported inside the commands, so ``--help`` is instant and needs no torch.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import ZoeExportError
from .args import (
    add_common_args,
    add_model_args,
    add_precision_args,
    at_least,
    cli_entry,
    load_model_from_args,
    positive_number,
    precision_flags_given,
    precision_options_from_args,
)
from .doctor import add_doctor_parser


def _predict(model, image, args):
    import numpy as np

    from .. import preprocess
    from .._log import stage
    from ..runtime import TensorSpec, TorchRunner

    size = model.image_size
    runs = "original + flipped" if args.flip else "one pass"
    spec = TensorSpec("image", np.dtype(np.float32), (None, 3, *size))
    with stage(f"running {model.provenance['variant']} at {size[0]}x{size[1]} ({runs})"), \
            TorchRunner(model, [spec]) as runner:
        run = lambda batch: runner.infer({"image": batch})["metric_depth"]  # noqa: E731
        return preprocess.predict(run, image, size, fit=args.fit, pad_input=args.pad, flip=args.flip)


def _write_outputs(out_dir: Path, stem: str, image, depth, provenance: dict, seconds: float) -> dict:
    import numpy as np

    from .._files import atomic_output, make_folder
    from ..io import images

    make_folder(out_dir)
    colour = images.colorize_depth(depth)
    files = {
        "input": out_dir / f"{stem}_input.png",
        "depth_color": out_dir / f"{stem}_depth.png",
        "depth_png16_mm": out_dir / f"{stem}_depth_mm.png",
        "panel": out_dir / f"{stem}_panel.png",
        "summary": out_dir / f"{stem}_summary.json",
    }
    images.write_image(files["input"], image)
    images.write_depth_color(files["depth_color"], depth)
    images.write_depth_png16(files["depth_png16_mm"], depth)
    images.write_image(files["panel"], images.side_by_side([image, colour], ["input", "metric depth"]))
    finite = depth[np.isfinite(depth)]
    summary = {
        "model": provenance,
        "image_size": list(depth.shape),
        "seconds": round(seconds, 2),
        "depth_m": {q: float(np.percentile(finite, p)) for q, p in (("min", 0), ("median", 50), ("max", 100))},
        "files": {k: str(v) for k, v in files.items()},
    }
    with atomic_output(files["summary"]) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return summary


def _report(summary: dict) -> None:
    m, d = summary["model"], summary["depth_m"]
    weights = (f"RANDOM (seed {m['seed']}) - depth is meaningless" if m["weights"] == "random"
               else m.get("checkpoint", m["weights"]))
    print(f"model    {m['variant']} at {m['height']}x{m['width']}, weights: {weights}")
    print(f"depth    min {d['min']:.3f} m, median {d['median']:.3f} m, max {d['max']:.3f} m "
          f"over {summary['image_size'][0]}x{summary['image_size'][1]} pixels, {summary['seconds']:.1f} s")
    for name, path in summary["files"].items():
        print(f"wrote    {path}  ({name})")


def _depth_pictures(model, image, out_dir: Path, stem: str, args):
    """PyTorch depth of ``image`` with the infer() recipe, written as pictures; returns the depth."""
    args.fit = args.fit or model.provenance["fit"]
    start = time.perf_counter()
    depth = _predict(model, image, args)
    _report(_write_outputs(out_dir, stem, image, depth, model.provenance, time.perf_counter() - start))
    return depth


def _add_predict_options(p: argparse.ArgumentParser, output: str) -> None:
    p.add_argument("--output", default=output, help=f"output folder (default: {output})")
    p.add_argument("--fit", choices=("stretch", "letterbox"), default=None,
                   help="how the image meets the model size (default: the variant's, stretch)")
    p.add_argument("--no-flip", dest="flip", action="store_false", help="skip flip averaging")
    p.add_argument("--no-pad", dest="pad", action="store_false", help="skip the official reflect padding")


def cmd_predict(args: argparse.Namespace) -> int:
    from .._files import check_folder_writable
    from .._log import stage
    from ..io import images
    from ..models import get_variant

    get_variant(args.variant)  # a typo in the name fails before anything else
    check_folder_writable(args.output, "--output")
    image = images.read_image(args.image)
    with stage(f"loading {args.variant}"):
        model = load_model_from_args(args)
    _depth_pictures(model, image, Path(args.output), Path(args.image).stem, args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .._files import check_folder_writable
    from .._log import log, stage
    from ..io import images, synthetic
    from ..models import ModelOptions, cached_checkpoint, get_variant

    variant = get_variant(args.variant)
    ModelOptions.resolve(variant, args.height, args.width, args.max_depth, args.domain)  # fail fast
    if args.export:
        from ..runtime import import_onnxruntime

        import_onnxruntime()
    if not args.checkpoint and not args.random_weights:
        cached = cached_checkpoint(variant)
        if cached is not None:
            args.checkpoint = str(cached)
        else:
            hint = variant.checkpoint.filename if variant.checkpoint else "FILE.pt"
            log.warning("no %s checkpoint given or cached: the demo runs on seeded random weights. "
                        "Pass --checkpoint %s for real depth.", variant.name, hint)
            args.random_weights = True
    check_folder_writable(args.output, "--output")
    image = images.read_image(args.image) if args.image else synthetic.demo_scene()
    with stage(f"loading {variant.name}"):
        model = load_model_from_args(args)
    stem = Path(args.image).stem if args.image else "demo_scene"
    out_dir = Path(args.output)
    depth = _depth_pictures(model, image, out_dir, stem, args)
    if args.export:
        _demo_export(model, image, depth, out_dir, stem, args)
    return 0


def _demo_export(model, image, torch_depth, out_dir: Path, stem: str, args) -> None:
    """The next stage on the same model: verified ONNX, then the image through ONNX Runtime."""
    import numpy as np

    from .. import preprocess
    from .._log import stage
    from ..export import default_output, export_onnx
    from ..export.onnx_export import ExportOptions
    from ..io import images
    from ..runtime import OnnxrtRunner

    options = ExportOptions()
    path = out_dir / default_output(model, options)
    manifest = export_onnx(model, path, options)
    _report_export(manifest)
    with stage("running the image through ONNX Runtime"), OnnxrtRunner(path, graph_optimization="disabled") as runner:
        def run(batch):  # the graph has a fixed batch of 1: original and flipped go one at a time
            return np.concatenate([runner.infer({"image": sample[None]})["metric_depth"] for sample in batch])

        onnx_depth = preprocess.predict(run, image, model.image_size, fit=args.fit, pad_input=args.pad, flip=args.flip)
    rel = np.abs(onnx_depth - torch_depth) / np.maximum(np.abs(torch_depth), 1e-12)
    panel = images.side_by_side(
        [image, images.colorize_depth(torch_depth), images.colorize_depth(onnx_depth), images.colorize_error(rel)],
        ["input", "PyTorch depth", "ONNX Runtime depth", "relative error, log 1e-8..1e-2"],
    )
    images.write_image(out_dir / f"{stem}_onnx_parity.png", panel)
    print(f"parity   ONNX Runtime vs PyTorch on {stem}: REL {float(rel.mean()):.2e}, max {float(rel.max()):.2e}")
    print(f"wrote    {out_dir / f'{stem}_onnx_parity.png'}  (input | PyTorch | ONNX Runtime | error)")


def cmd_onnx(args: argparse.Namespace) -> int:
    from .._log import stage
    from ..export import ExportOptions, export_onnx, preflight
    from ..models import ModelOptions, get_variant

    options = ExportOptions(
        batch=None if args.dynamic_batch else args.batch,
        input_format=args.input_format,
        opset=args.opset,
        verify=args.verify,
        external_data=True if args.external_data else None,
    )
    resolved = ModelOptions.resolve(get_variant(args.variant), args.height, args.width, args.max_depth, args.domain)
    tuning = precision_flags_given(args, "fp32")
    if args.precision == "fp32" and tuning:
        raise ZoeExportError(f"{' '.join(tuning)} tune the conversion to FP16 or INT8, and this export stays FP32: "
                             "add --precision int8 (or fp16), or drop them.")
    precision = precision_options_from_args(args, args.precision) if args.precision != "fp32" else None
    if precision is not None and precision.calib is not None:
        from ..calib import CalibrationSet

        CalibrationSet(precision.calib).check_matches(
            resolved.height, resolved.width, options.input_format,
            f"--variant {args.variant} at {resolved.height}x{resolved.width} (--input-format {options.input_format})")
    preflight(args.output, options)  # fail before the slow part

    def model():  # no name holds the model here: the precision stage frees it once it has its references
        with stage(f"building {args.variant} and loading its weights"):
            return load_model_from_args(args)

    if precision is None:
        _report_export(export_onnx(model(), args.output, options))
    else:
        _report_precision(_export_with_precision(model(), args.output, options, precision))
    return 0


def _export_with_precision(model, output: str | None, options, precision) -> dict:
    """Verified FP32 export into a temp folder, PyTorch references, then the precision stage."""
    import tempfile

    from .._log import stage
    from .._memory import release_memory
    from ..export import ExportWrapper, default_output, export_onnx
    from ..precision import convert_precision, default_precision_output, parity_inputs
    from ..runtime import TorchRunner

    fp32_name = default_output(model, options).name
    output = Path(output) if output else default_precision_output(fp32_name, precision.precision)
    with tempfile.TemporaryDirectory(prefix="zoe-fp32-") as tmp:
        fp32 = Path(tmp) / fp32_name
        _report_export(export_onnx(model, fp32, options), kept=False)
        wrapper = ExportWrapper(model, options.input_format).eval()
        with stage("PyTorch reference outputs for the precision parity"), \
                TorchRunner(wrapper, [wrapper.input_spec(options.batch)], wrapper.output_names) as runner:
            references = {case: runner.infer(feed) for case, feed in parity_inputs(fp32, precision).items()}
        del model, wrapper, runner  # the converter needs the memory
        release_memory()
        return convert_precision(fp32, output, precision, reference=references, reference_name="PyTorch (FP32)")


def _report_precision(manifest: dict) -> None:
    parity = manifest["parity"]
    if "plan" in manifest:
        plan = manifest["plan"]
        islands = ", ".join(f"{i['name']} {i['nodes']}" for i in plan["islands"])
        print(f"fp16     {plan['fp16_nodes']} nodes in FP16, {plan['fp32_nodes']} in FP32 islands ({islands})")
        other = manifest["parity_onnxruntime_fp16_graph"]["overall"]
        print(f"fp16     the FP16 graph as ONNX Runtime CPU runs it (in FP32 inside): REL {other['rel']:.2e}")
    else:
        print(f"int8     {manifest['quantized_nodes']} nodes in INT8 ({', '.join(manifest['int8_groups'])}), "
              f"{manifest['kept_nodes']} kept in {manifest['high_precision']}; Q/DQ {manifest['qdq_nodes']}")
        c = manifest["calibration"]
        print(f"calib    {c['set']} (id {c['id']}): {c['samples']} samples, {c['method']}, {c['seconds']:.0f} s")
    print(f"convert  {manifest['converter']}")
    print(f"wrote    {manifest['path']} and {manifest['path']}.json (REL {parity['overall']['rel']:.2e} against "
          f"{manifest['reference']}; {manifest['seconds']:.0f} s)")


def _batch_profile(text: str) -> tuple[int, int, int]:
    try:
        low, opt, high = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give MIN:OPT:MAX batch sizes, e.g. 1:2:8") from None
    return low, opt, high


def cmd_trt(args: argparse.Namespace) -> int:
    from ..trt import BuildOptions, EngineCache, build_engine, probe_environment
    from ..trt.graph import GraphInfo

    if args.fp16 and args.int8:
        raise ZoeExportError("--fp16 and --int8 exclude each other: --int8 already runs the layers it keeps out of "
                             "INT8 in FP16 (--high-precision fp16). Pick one.")
    precision = "fp16" if args.fp16 else "int8" if args.int8 else None
    options = BuildOptions(precision=precision, calib=args.calib, legacy_precision=args.legacy_precision,
                           workspace_gb=args.workspace_gb, batch_profile=args.batch_profile,
                           timing_cache=args.timing_cache, output=args.output)
    options.validate()
    graph = GraphInfo.read(args.onnx)
    converts = precision is not None and graph.precision == "fp32" and not args.legacy_precision
    unused = [flag for flag in precision_flags_given(args, "fp16") if flag != "--calib"]  # legacy INT8 reads --calib
    if unused and not converts:
        raise ZoeExportError(f"{' and '.join(unused)} tune the conversion of an FP32 graph, which this build "
                             f"does not do ({graph.path} is {graph.precision}"
                             f"{', --legacy-precision' if args.legacy_precision else ''}). Drop them.")
    precision_options = precision_options_from_args(args, precision) if converts else None
    cache = EngineCache(args.cache_dir) if args.cache_dir else None
    manifest = build_engine(args.onnx, options, precision_options, env=probe_environment(), cache=cache,
                            rebuild=args.rebuild)
    _report_engine(manifest)
    return 0


def _report_engine(manifest: dict) -> None:
    from ..trt import manifest_path

    path = Path(manifest["path"])
    gpu = manifest["gpu"]
    how = f"reused {manifest['reused']}" if manifest.get("reused") else f"built in {manifest['build']['seconds']:.0f} s"
    print(f"engine   {path} ({manifest['engine_bytes'] / 2**20:.0f} MB): {manifest['precision']}, {manifest['mode']}, "
          f"{how} on {gpu['name']} (compute capability {gpu['compute_capability']}), TensorRT {manifest['tensorrt_version']}")
    for tensor in manifest["inputs"]:
        profile = tensor.get("profile")
        extra = f", profile {profile['min'][0]}:{profile['opt'][0]}:{profile['max'][0]}" if profile else ""
        print(f"input    {tensor['name']} {tensor['shape']} {tensor['dtype']}{extra}")
    print("outputs  " + ", ".join(f"{t['name']} {t['shape']} {t['dtype']}" for t in manifest["outputs"]))
    if manifest["islands"]:
        print("islands  " + "; ".join(f"{k} {v}" for k, v in manifest["islands"].items()))
    print(f"manifest {manifest_path(path)}")


def cmd_calib(args: argparse.Namespace) -> int:
    import contextlib
    import tempfile

    from .._log import log
    from ..calib import SetSpec, build_calibration_set, check_counts, check_output, estimate_calibration_seconds
    from ..models import ModelOptions, get_variant

    variant = get_variant(args.variant)
    resolved = ModelOptions.resolve(variant, args.height, args.width, None, "auto")
    if not args.images and not args.video and not args.synthetic:
        raise ZoeExportError("give --images DIR and/or --video FILE: the photos or footage the model will see "
                             "(or --synthetic N for a smoke run on generated scenes).")
    spec = SetSpec(resolved.height, resolved.width, args.input_format, args.fit or variant.preprocessing.fit, args.pad)
    only_synthetic = args.synthetic and not args.images and not args.video
    if only_synthetic and args.synthetic < args.min_count:
        raise ZoeExportError(f"--synthetic {args.synthetic} makes fewer scenes than --min-count {args.min_count}: "
                             f"raise --synthetic or lower --min-count.")
    count = min(args.count, args.synthetic) if only_synthetic else args.count
    check_counts(count, args.min_count)
    check_output(Path(args.output))
    seconds = estimate_calibration_seconds(count, spec.height, spec.width, tiny=variant.tiny)
    log.info("%d samples for %s at %dx%d: calibrating on this CPU will take about %s "
             "(a GPU: minutes). --count 16 is enough for a first CPU run.",
             count, variant.name, spec.height, spec.width, _duration(seconds))
    with contextlib.ExitStack() as stack:
        images = args.images
        if args.synthetic:
            images = stack.enter_context(tempfile.TemporaryDirectory(prefix="zoe-synthetic-"))
            _write_synthetic(Path(images), args.synthetic, args.seed)
        manifest = build_calibration_set(args.output, spec, images=images, videos=tuple(args.video or ()),
                                         count=count, seed=args.seed, min_count=args.min_count, variant=variant.name)
    print(f"wrote    {args.output}: {manifest['count']} samples of {manifest['dtype']}{manifest['shape']} "
          f"({spec.input_format}, fit {spec.fit}, id {manifest['id']}), {len(manifest['skipped'])} skipped")
    for item in manifest["skipped"]:
        print(f"skipped  {item['source']}: {item['reason']}")
    return 0


def _write_synthetic(folder: Path, count: int, seed: int) -> None:
    from .._log import log
    from ..io import images, synthetic

    log.warning("generating %d synthetic scenes (smoke runs only: calibrate on real footage for real use)", count)
    for index, scene in enumerate(synthetic.scene_variants(count, seed)):
        images.write_image(folder / f"synthetic_{index:04d}.png", scene)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _report_export(manifest: dict, kept: bool = True) -> None:
    meta, graph, v = manifest["metadata"], manifest["graph"], manifest["verification"]
    path = Path(manifest["path"])
    what = (f"wrote    {path}" + (f" + {path.parent / manifest['external_data']}" if manifest["external_data"] else "")
            if kept else "fp32     the FP32 export, in a temporary folder (the converter's source; not kept)")
    print(what + f"  ({graph['initializer_bytes'] / 2**20:.0f} MB of weights, {graph['nodes']} nodes, "
          f"opset {graph['opset']})")
    print(f"input    {meta['input_name']} [{meta['input_shape']}] {meta['input_format']}; outputs {meta['outputs']}")
    if v is None:
        print("verify   skipped (--no-verify)")
    else:
        for case, outputs in v["cases"].items():
            for name, m in outputs.items():
                figures = (f"REL {m['rel']:.2e}  RMSE {m['rmse']:.2e}  delta1 {m['delta1']:.6f}  max abs {m['max_abs']:.2e}"
                           if "rel" in m else f"route agreement {m['route_agreement']:.0%}  max abs {m['max_abs']:.2e}")
                print(f"verify   {case:7} {name:14} {figures}")
        print(f"verify   passed ({meta['precision']}: REL <= {v['tolerance']['max_rel']:g}, "
              f"delta1 >= {v['tolerance']['min_delta1']:g}; {v['backend']})")
    seconds = "seconds: " + ", ".join(f"{k} {s:.1f}" for k, s in manifest["seconds"].items())
    print(f"manifest {path}.json; {seconds}" if kept else f"fp32     {seconds}")


def cmd_variants(args: argparse.Namespace) -> int:
    from ..models import get_variant, list_variants

    print(f"{'variant':8} {'size':>9} {'depth (m)':>12}  {'checkpoint':24} description")
    for name in list_variants(include_tiny=args.all):
        v = get_variant(name)
        lo, hi = v.depth_range
        ckpt = v.checkpoint.filename if v.checkpoint else "-"
        print(f"{name:8} {v.native_size[0]:>4}x{v.native_size[1]:<4} {lo:>5g}-{hi:<6g}  {ckpt:24} {v.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoe-export", description="ZoeDepth from PyTorch to ONNX and TensorRT.")
    add_common_args(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="M12-N end to end on a built-in scene: depth, verified ONNX, parity picture")
    add_common_args(p)
    add_model_args(p, default_variant="M12-N")
    p.add_argument("--image", help="an image of your own instead of the built-in scene")
    p.add_argument("--no-export", dest="export", action="store_false",
                   help="stop after the PyTorch depth (skip the verified ONNX export and its parity picture)")
    _add_predict_options(p, "demo_out")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("predict", help="metric depth of an image with the PyTorch reference model")
    add_common_args(p)
    add_model_args(p)
    p.add_argument("--image", required=True, help="RGB image file")
    _add_predict_options(p, "out")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("onnx", help="export a variant to verified, TensorRT-ready ONNX")
    add_common_args(p)
    add_model_args(p)
    g = p.add_argument_group("export")
    g.add_argument("--output", help="the .onnx file (default: zoed_<variant>[options].onnx here)")
    batch = g.add_mutually_exclusive_group()
    batch.add_argument("--batch", type=at_least(1), default=1, help="fixed batch size (default 1)")
    batch.add_argument("--dynamic-batch", action="store_true", help="a dynamic batch dimension (1 to 64)")
    g.add_argument("--input-format", choices=("float-nchw", "uint8-nhwc"), default="float-nchw",
                   help="float32 [N,3,H,W] RGB in [0,1] (default), or raw uint8 [N,H,W,3] frames")
    g.add_argument("--opset", type=int, default=18, help="ONNX opset, 17 to 19 (default 18)")
    g.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip the ONNX Runtime parity checks (FP32 export, and FP16/INT8 bounds)")
    g.add_argument("--external-data", action="store_true",
                   help="weights in a .data file beside the .onnx even under the 2 GB protobuf limit")
    q = p.add_argument_group("precision (FP16 / INT8 graphs, converted from the verified FP32 export)")
    q.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32",
                   help="fp32 (default); fp16 with FP32 islands; int8 Q/DQ (needs --calib)")
    add_precision_args(q, high_precision="fp32")
    p.set_defaults(func=cmd_onnx)

    p = sub.add_parser("trt", help="a TensorRT engine from an ONNX export (strongly typed; needs TensorRT and a GPU)")
    add_common_args(p)
    p.add_argument("--onnx", required=True, help="the FP32 export, or a graph from zoe-export onnx --precision")
    g = p.add_argument_group("engine")
    g.add_argument("--fp16", action="store_true", help="FP16 with FP32 islands (an FP32 graph is converted first)")
    g.add_argument("--int8", action="store_true",
                   help="INT8 Q/DQ, FP16 elsewhere (an FP32 graph is calibrated and converted first: needs --calib)")
    g.add_argument("--output", help="the engine file (default: engines/<onnx name>[_<precision>].engine)")
    g.add_argument("--timing-cache", metavar="FILE",
                   help="TensorRT tactic timing cache, read and updated (default: engines/timing_<sm>_trt<version>.cache)")
    g.add_argument("--workspace-gb", type=positive_number, metavar="GB",
                   help="builder workspace limit (default: TensorRT's)")
    g.add_argument("--batch-profile", type=_batch_profile, metavar="MIN:OPT:MAX",
                   help="batch range for graphs exported with --dynamic-batch (default 1:2:8)")
    g.add_argument("--legacy-precision", action="store_true",
                   help="TensorRT 10 only: the FP32 graph with the builder's FP16/INT8 flags, FP32 islands pinned by "
                        "precision constraints, an entropy calibrator on --calib (with a cache file)")
    g.add_argument("--rebuild", action="store_true", help="build even when a matching engine exists")
    g.add_argument("--cache-dir", metavar="DIR", help="engine cache (default: ~/.cache/zoe-export/engines)")
    q = p.add_argument_group("precision (when an FP32 graph is converted first)")
    add_precision_args(q, high_precision="fp16")
    p.set_defaults(func=cmd_trt)

    p = sub.add_parser("calib", help="a calibration set: images/video frames preprocessed for a model input")
    add_common_args(p)
    p.add_argument("--images", metavar="DIR", help="folder of images (searched recursively)")
    p.add_argument("--video", nargs="+", metavar="FILE", help="videos to sample frames from (needs OpenCV)")
    p.add_argument("--synthetic", type=at_least(1), metavar="N",
                   help="N generated scenes instead of photos (smoke runs)")
    p.add_argument("--variant", required=True, help="the model the set is for (its input size and fit)")
    p.add_argument("--height", type=int, help="model input height (default: the variant's)")
    p.add_argument("--width", type=int, help="model input width (default: the variant's)")
    p.add_argument("--input-format", choices=("float-nchw", "uint8-nhwc"), default="float-nchw",
                   help="as the graph was exported (default float-nchw)")
    p.add_argument("--fit", choices=("stretch", "letterbox"), default=None, help="default: the variant's (stretch)")
    p.add_argument("--no-pad", dest="pad", action="store_false", help="skip the official reflect padding")
    p.add_argument("--count", type=at_least(1), default=500,
                   help="samples to pick (default 500; 16 for a quick CPU run)")
    p.add_argument("--min-count", type=at_least(1), default=8,
                   help="fewer usable images than this is an error (default 8)")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of the deterministic pick (default 0)")
    p.add_argument("--output", required=True, metavar="DIR", help="the set's folder, e.g. calib/indoor")
    p.set_defaults(func=cmd_calib)

    add_doctor_parser(sub)

    p = sub.add_parser("variants", help="list the models this toolkit knows")
    p.add_argument("--all", action="store_true", help="include the toy-width test variants")
    p.set_defaults(func=cmd_variants)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .._log import setup_logging

    setup_logging(getattr(args, "verbose", False))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
