"""``zoe-export predict``: metric depth for images, folders, videos and streams through any backend.

    zoe-export predict photos/ --onnx zoed_m12_n.onnx --output depth/                 # a folder, recursively
    zoe-export predict drive.mp4 --engine zoed_m12_k_fp16.engine --batch 4           # a depth video
    zoe-export predict room.jpg --variant M12-NK --checkpoint ZoeD_M12_NK.pt --save ply --fov 60
    zoe-export predict 0 --onnx m.onnx --max-frames 300                               # camera 0 (OpenCV)

Exit status: 0 all written, 1 an error stopped the run, 3 some inputs failed (recorded in
``predict_summary.json`` and skipped), 130 stopped with Ctrl-C (the frames in flight were finished).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..errors import ZoeExportError
from .args import add_common_args, add_model_args, at_least, positive_number, torch_model_options


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="metric depth for images, folders, videos and streams, with any backend",
                       description=__doc__.split("\n\n")[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="image files, folders (recursive), video files, a camera index or a stream URL; mixed")
    p.add_argument("--image", help="one image (the same as giving it as INPUT)")
    g = p.add_argument_group("backend (one of)")
    g.add_argument("--onnx", metavar="M.onnx", help="an ONNX graph from zoe-export onnx (ONNX Runtime)")
    g.add_argument("--engine", metavar="E.engine", help="a TensorRT engine from zoe-export trt")
    g.add_argument("--openvino", metavar="M.onnx|M.xml",
                   help="an ONNX graph or an OpenVINO IR (zoe-export openvino) in OpenVINO on the CPU")
    g.add_argument("--ov-precision", choices=("f32", "bf16", "default"), default="f32",
                   help="what --openvino computes in: f32 (default), bf16 (CPUs with AVX-512 BF16 or AMX), or "
                        "OpenVINO's default for this CPU (said when it starts)")
    g.add_argument("--provider", choices=("cpu", "cuda"), default="cpu",
                   help="ONNX Runtime provider for --onnx (cuda needs onnxruntime-gpu)")
    g.add_argument("--threads", type=at_least(1), help="CPU threads of the backend (default: its own choice)")
    add_model_args(p, required=False)
    p.set_defaults(device="cpu")
    o = p.add_argument_group("what is read and written")
    add_predict_options(o, "out", graph_decides=True)
    o.add_argument("--save", metavar="KINDS",
                   help="comma-separated: color, mm16 (16-bit PNG, millimetres), npy (float32 metres), panel, "
                        "video (a depth video of each video or stream), ply (point cloud), mesh (PLY mesh cut at "
                        "depth edges); default color,mm16,panel for images and video for videos and streams")
    o.add_argument("--glob", metavar="PATTERN",
                   help="in folders, only files matching it ('*.png' by name at any depth; 'left/*.jpg' by path)")
    o.add_argument("--batch", type=at_least(1), default=1, help="frames per backend call (default 1)")
    o.add_argument("--skip-existing", action="store_true",
                   help="skip frames whose outputs all exist (resume an interrupted run)")
    o.add_argument("--max-frames", type=at_least(1), metavar="N",
                   help="at most N frames of each video or stream (a stream otherwise runs until Ctrl-C)")
    o.add_argument("--workers", type=at_least(1), metavar="N",
                   help="threads for preprocessing, and as many for writing (default: half the cores, 2 to 8)")
    o.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    c = p.add_argument_group("camera, for --save ply/mesh (default: the official 55 degree horizontal field of view)")
    for name in ("fx", "fy"):
        c.add_argument(f"--{name}", type=positive_number, metavar="PX", help=f"focal length {name} in pixels")
    for name in ("cx", "cy"):
        c.add_argument(f"--{name}", type=_coordinate, metavar="PX", help=f"principal point {name} in pixels")
    c.add_argument("--fov", type=_field_of_view, metavar="DEG", help="horizontal field of view in degrees")
    c.add_argument("--camera", metavar="CAM.json", help="intrinsics file (JSON or YAML: fx, fy, cx, cy; or K)")
    c.add_argument("--ply-max-depth", type=positive_number, metavar="M", help="leave out points beyond M metres")
    c.add_argument("--ply-drop-edges", action="store_true",
                   help="leave out points on depth edges (flying pixels between objects)")
    p.set_defaults(func=run)


def add_predict_options(p, output: str, graph_decides: bool = False) -> None:
    """How an image meets the model, and where the pictures go (predict and demo).

    ``graph_decides``: the defaults are the graph's own (a frame graph refuses values that contradict it)."""
    default = None if graph_decides else True
    p.add_argument("--output", default=output, help=f"output folder (default: {output})")
    if graph_decides:
        p.add_argument("--fit", choices=("stretch", "letterbox", "minimal"), default=None,
                       help="how an image meets the model size (default: the graph's; minimal = the official "
                            "keep-aspect size, dynamic-size graphs only)")
    else:
        p.add_argument("--fit", choices=("stretch", "letterbox"), default=None,
                       help="how the image meets the model size (default: the variant's, stretch)")
    p.add_argument("--no-flip", dest="flip", action="store_false", default=default, help="skip flip averaging")
    p.add_argument("--no-pad", dest="pad", action="store_false", default=default,
                   help="skip the official reflect padding")


def _coordinate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of pixels, 0 or more")
    return value


def _field_of_view(text: str) -> float:
    value = positive_number(text)
    if value >= 180:
        raise argparse.ArgumentTypeError(f"{text} degrees: a pinhole camera sees less than 180")
    return value


def run(args: argparse.Namespace) -> int:
    from .._files import check_folder_writable
    from .._log import log
    from ..io.sources import collect_sources
    from ..predict import Layout, PredictOptions, parse_saves, run_predict

    inputs = [*args.inputs, *([args.image] if args.image else [])]
    if not inputs:
        raise ZoeExportError("give the inputs: image files, folders, videos, a camera index or a stream URL "
                             "(e.g. zoe-export predict photos/ --onnx zoed_m12_n.onnx).")
    saves = parse_saves(args.save)
    cloud = _cloud_options(args, saves)
    backend = _check_backend(args)
    sources, skipped = collect_sources(inputs, args.glob)  # paths checked before anything is loaded
    if not sources:
        raise ZoeExportError("nothing to read: " + "; ".join(f"{s.location}: {s.reason}" for s in skipped))
    if saves is not None and "video" in saves and all(s.kind == "image" for s in sources):
        log.warning("--save video is ignored: no input is a video or a stream.")
    output = check_folder_writable(args.output, "--output")
    threads = {"workers": args.workers, "writers": args.workers} if args.workers else {}
    options = PredictOptions(Layout(output, saves), batch=args.batch, cloud=cloud, skip_existing=args.skip_existing,
                             max_frames=args.max_frames, progress=args.progress, **threads)
    with _open_engine(args, backend) as engine:
        _say_what_runs(engine, len(sources))
        result = run_predict(engine, sources, options, skipped)
        return _finish(result, engine, args, output)


def _check_backend(args: argparse.Namespace) -> str:
    """Which backend the flags name: exactly one of --onnx, --engine, --variant; model flags only with --variant."""
    named = [flag for flag, value in (("--onnx", args.onnx), ("--engine", args.engine), ("--openvino", args.openvino),
                                      ("--variant", args.variant)) if value]
    if len(named) != 1:
        what = " and ".join(named) if named else "none"
        raise ZoeExportError(f"name one backend: --onnx M.onnx, --engine E.engine, --openvino M.onnx|M.xml, or "
                             f"--variant V with --checkpoint F or --random-weights (got {what}).")
    from .._log import log

    if named[0] != "--onnx" and args.provider != "cpu":
        log.warning("--provider is ignored: it chooses ONNX Runtime's provider for --onnx.")
    if named[0] != "--openvino" and args.ov_precision != "f32":
        log.warning("--ov-precision is ignored: it chooses what --openvino computes in.")
    if named[0] == "--variant":
        from ..models import get_variant

        get_variant(args.variant)  # a typo in the name fails before anything else
    else:
        model_flags = [f"--{name.replace('_', '-')}" for name in ("checkpoint", "random_weights", "seed", "sha256",
                                                                   "height", "width", "max_depth")
                       if getattr(args, name) not in (None, False)]
        if args.domain != "auto":
            model_flags.append("--domain")
        if model_flags:
            raise ZoeExportError(f"{', '.join(model_flags)} describe a PyTorch model (--variant); {named[0]} runs a "
                                 f"graph that was exported with its own. Drop them, or use --variant.")
    return named[0]


def _cloud_options(args: argparse.Namespace, saves):
    """The camera for point clouds and meshes, from exactly one of: --fx/--fy/--cx/--cy, --fov, --camera."""
    from .._log import log
    from ..geometry import Camera, DEFAULT_FOV_DEG
    from ..predict import CloudOptions

    pinhole = [getattr(args, k) for k in ("fx", "fy", "cx", "cy")]
    given = [name for name, value in (("--fx/--fy/--cx/--cy", any(v is not None for v in pinhole)),
                                      ("--fov", args.fov is not None), ("--camera", args.camera is not None)) if value]
    if len(given) > 1:
        raise ZoeExportError(f"{' and '.join(given)} each give the camera: pass one of them.")
    if any(v is not None for v in pinhole) and None in pinhole:
        missing = [f"--{k}" for k, v in zip(("fx", "fy", "cx", "cy"), pinhole) if v is None]
        raise ZoeExportError(f"--fx --fy --cx --cy go together: {' '.join(missing)} missing.")
    geometry = saves is not None and bool({"ply", "mesh"} & set(saves))
    flags = given + [f for f, v in (("--ply-max-depth", args.ply_max_depth), ("--ply-drop-edges", args.ply_drop_edges))
                     if v]
    if flags and not geometry:
        log.warning("%s %s ignored: add ply or mesh to --save for point clouds.", ", ".join(flags),
                    "is" if len(flags) == 1 else "are")
    if geometry and not given:
        log.warning("no camera given: point clouds assume the official %g degree horizontal field of view (centred). "
                    "Pass --fx --fy --cx --cy, --fov or --camera for true geometry.", DEFAULT_FOV_DEG)
    camera = (Camera(*pinhole) if pinhole[0] is not None
              else Camera.from_file(args.camera) if args.camera else None)
    return CloudOptions(camera=camera, fov_deg=args.fov, max_depth=args.ply_max_depth, drop_edges=args.ply_drop_edges)


def _open_engine(args: argparse.Namespace, backend: str):
    from .._log import stage
    from ..registry import get_backend
    from ..runtime import DepthEngine

    options = dict(fit=args.fit, pad_input=args.pad, flip=args.flip)
    if backend == "--variant":
        with stage(f"loading {args.variant}"):
            runner = get_backend("torch").open(args.variant, **torch_model_options(args))
        return DepthEngine(runner, **options)
    if backend == "--onnx":
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.provider == "cuda" else None
        return DepthEngine(args.onnx, **options, **({"providers": providers} if providers else {}),
                           **({"threads": args.threads} if args.threads else {}))
    if backend == "--openvino":
        from .._files import existing_file

        openvino = get_backend("openvino")
        existing_file(args.openvino, "--openvino", f"make an IR with {openvino.made_by}, or pass an .onnx graph.")
        card = openvino.read_card(args.openvino)  # read once: the runner is given it
        runner = openvino.open(args.openvino, precision=args.ov_precision, threads=args.threads, card=card)
        return DepthEngine(runner, model=card, **options)
    return DepthEngine(args.engine, **options)


def _say_what_runs(engine, count: int) -> None:
    card = engine.model
    graph = "the official infer() inside the graph" if engine.is_frame_graph else "host preprocessing"
    random = card.weights.kind == "random"
    weights = f", RANDOM weights (seed {card.weights.seed}): depth is meaningless" if random else ""
    computes = getattr(engine.runner, "inference_precision", None)  # OpenVINO: what the compiled model runs in
    on = f"{engine.runner.name} ({computes})" if computes else engine.runner.name
    print(f"model    {card.variant} {card.precision} on {on}, {graph}{weights}")
    print(f"inputs   {count} to read")


def _model_summary(card) -> dict:
    return {**card.identity(), "precision": card.precision, "io": card.io, "input_format": card.input_format,
            "size": list(card.size), "size_range": card.size_range.text if card.size_range else None}


def _finish(result, engine, args: argparse.Namespace, output: Path) -> int:
    from ..predict import print_report, write_summary
    from ..predict.summary import SUMMARY_NAME, exit_status, summary_dict

    if not result.frames and not result.interrupted and not any(r.status == "skipped" for r in result.records):
        reasons = [f"{r.source.location}: {r.errors[0]}" for r in result.records if r.errors]
        reasons += [f"{s.location}: {s.reason}" for s in result.skipped]
        more = f" (and {len(reasons) - 3} more)" if len(reasons) > 3 else ""
        raise ZoeExportError("no input could be read: " + "; ".join(reasons[:3]) + more)
    options = {"batch": args.batch, "save": args.save, "glob": args.glob, "skip_existing": args.skip_existing,
               "fit": engine.fit, "pad_input": engine.pad_input, "flip": engine.flip, "workers": result.threads}
    summary = summary_dict(result, _model_summary(engine.model), engine.runner.name, options)
    path = write_summary(output / SUMMARY_NAME, summary)
    print_report(result, path)
    return exit_status(result)
