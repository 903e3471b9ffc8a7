"""``zoe-export demo``: M12-N end to end on a built-in scene: depth, verified ONNX, parity picture."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .args import add_common_args, add_model_args, load_model_from_args
from .predict import add_predict_options
from .reports import report_export


#: the demo's names for its pictures in its summary (as before zoe-export predict wrote them)
DEMO_NAMES = {"color": "depth_color", "mm16": "depth_png16_mm", "panel": "panel"}


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="M12-N end to end on a built-in scene: depth, verified ONNX, parity picture")
    add_common_args(p)
    add_model_args(p, default_variant="M12-N")
    p.add_argument("--image", help="an image of your own instead of the built-in scene")
    p.add_argument("--no-export", dest="export", action="store_false",
                   help="stop after the PyTorch depth (skip the verified ONNX export and its parity picture)")
    add_predict_options(p, "demo_out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._files import check_folder_writable
    from .._log import log, stage
    from ..io import images, synthetic
    from ..models import ModelOptions, cached_checkpoint, get_variant

    variant = get_variant(args.variant)
    ModelOptions.resolve(variant, args.height, args.width, args.max_depth, args.domain)  # fail fast
    if args.export:
        from ..runtime import import_onnxruntime

        import_onnxruntime("pass --no-export to stop after the PyTorch depth")
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
    depth, seconds = depth_pictures(model, image, out_dir, stem, args)
    if args.export:
        _demo_export(model, image, (depth, seconds), out_dir, stem, args)
    return 0


def _demo_export(model, image, torch_run: tuple, out_dir: Path, stem: str, args) -> None:
    """The next stage on the same model: verified ONNX, then the image through ONNX Runtime (and OpenVINO).
    ``torch_run``: PyTorch's depth of the image and the seconds it took."""
    import numpy as np

    from .. import preprocess
    from .._log import stage
    from ..export import default_output, export_onnx
    from ..export.onnx_export import ExportOptions
    from ..io import images
    from ..runtime import OnnxrtRunner

    torch_depth = torch_run[0]
    options = ExportOptions()
    path = out_dir / default_output(model, options)
    manifest = export_onnx(model, path, options)
    report_export(manifest)
    with stage("running the image through ONNX Runtime"), OnnxrtRunner(path, graph_optimization="disabled") as runner:
        def run(batch):  # the graph has a fixed batch of 1: original and flipped go one at a time
            return np.concatenate([runner.infer({"image": sample[None]})["metric_depth"] for sample in batch])

        onnx_depth = preprocess.predict(run, image, model.image_size, fit=args.fit, pad_input=args.pad, flip=args.flip)
    rel = np.abs(onnx_depth - torch_depth) / np.maximum(np.abs(torch_depth), 1e-12)
    panel = images.parity_panel(image, torch_depth, onnx_depth, ("input", "PyTorch depth", "ONNX Runtime depth"),
                                error_range=(1e-8, 1e-2))
    images.write_image(out_dir / f"{stem}_onnx_parity.png", panel)
    print(f"parity   ONNX Runtime vs PyTorch on {stem}: REL {float(rel.mean()):.2e}, max {float(rel.max()):.2e}")
    print(f"wrote    {out_dir / f'{stem}_onnx_parity.png'}  (input | PyTorch | ONNX Runtime | error)")
    _demo_openvino(path, image, model.image_size, torch_run, stem, args)


def _demo_openvino(path: Path, image, size: tuple[int, int], torch_run: tuple, stem: str, args) -> None:
    """The fastest CPU path a user can take from here: the same graph in OpenVINO, in bf16 where the CPU has it
    (skipped, with the extra to install, without OpenVINO)."""
    import importlib.util

    import numpy as np

    from .. import preprocess
    from .._log import stage
    from ..registry import get_backend

    openvino = get_backend("openvino")
    if importlib.util.find_spec("openvino") is None:
        print(f"next     the fastest CPU path runs in OpenVINO: {openvino.install}")
        return
    from ..openvino import cpu_info

    precision = "bf16" if cpu_info().supports("bf16") else "f32"
    with stage(f"running the image through OpenVINO ({precision})"), openvino.open(path, precision=precision) as runner:
        def run(batch):  # a fixed batch of 1, as above
            return np.concatenate([runner.infer({"image": sample[None]})["metric_depth"] for sample in batch])

        seconds = []
        for _ in range(2):  # the first call also sets OpenVINO's kernels up: the second is the speed
            start = time.perf_counter()
            depth = preprocess.predict(run, image, size, fit=args.fit, pad_input=args.pad, flip=args.flip)
            seconds.append(time.perf_counter() - start)
    torch_depth, torch_seconds = torch_run
    rel = np.abs(depth - torch_depth) / np.maximum(np.abs(torch_depth), 1e-12)
    print(f"parity   OpenVINO {precision} vs PyTorch on {stem}: REL {float(rel.mean()):.2e}, max {float(rel.max()):.2e} "
          f"({seconds[-1]:.1f} s for the image; PyTorch FP32 took {torch_seconds:.1f} s)")
    print("next     faster still on a CPU: INT8 measured where it runs, then OpenVINO (README, 'Fastest on a CPU'):\n"
          "         zoe-export onnx ... --precision int8 --calib DIR --measure-on openvino:bf16 --max-rel-drift 2e-3\n"
          "         zoe-export openvino --onnx M_int8.onnx && zoe-export predict IMAGES --openvino M_int8.xml "
          "--ov-precision bf16")


def depth_pictures(model, image, out_dir: Path, stem: str, args):
    """PyTorch depth of ``image`` with the infer() recipe, written as pictures; returns the depth and its seconds."""
    args.fit = args.fit or model.provenance["fit"]
    start = time.perf_counter()
    depth = _predict(model, image, args)
    seconds = time.perf_counter() - start
    _report(_write_outputs(out_dir, stem, image, depth, model.provenance, seconds))
    return depth, seconds


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
    from ..predict.outputs import FRAME_FILES, CloudOptions, write_frame

    make_folder(out_dir)
    files = {"input": out_dir / f"{stem}_input.png"}
    images.write_image(files["input"], image)
    pictures = {kind: out_dir / f"{stem}{FRAME_FILES[kind]}" for kind in ("color", "mm16", "panel")}
    write_frame(pictures, image, depth, CloudOptions())
    files.update({DEMO_NAMES[kind]: path for kind, path in pictures.items()})
    files["summary"] = out_dir / f"{stem}_summary.json"
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
