"""``zoe-export predict``: metric depth of an image with the PyTorch reference model, written as pictures.

The picture writing here is shared with ``zoe-export demo``, which runs the same recipe first.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .args import add_common_args, add_model_args, load_model_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="metric depth of an image with the PyTorch reference model")
    add_common_args(p)
    add_model_args(p)
    p.add_argument("--image", required=True, help="RGB image file")
    add_predict_options(p, "out")
    p.set_defaults(func=run)


def add_predict_options(p: argparse.ArgumentParser, output: str) -> None:
    """How the image meets the model, and where the pictures go (predict and demo)."""
    p.add_argument("--output", default=output, help=f"output folder (default: {output})")
    p.add_argument("--fit", choices=("stretch", "letterbox"), default=None,
                   help="how the image meets the model size (default: the variant's, stretch)")
    p.add_argument("--no-flip", dest="flip", action="store_false", help="skip flip averaging")
    p.add_argument("--no-pad", dest="pad", action="store_false", help="skip the official reflect padding")


def run(args: argparse.Namespace) -> int:
    from .._files import check_folder_writable
    from .._log import stage
    from ..io import images
    from ..models import get_variant

    get_variant(args.variant)  # a typo in the name fails before anything else
    check_folder_writable(args.output, "--output")
    image = images.read_image(args.image)
    with stage(f"loading {args.variant}"):
        model = load_model_from_args(args)
    depth_pictures(model, image, Path(args.output), Path(args.image).stem, args)
    return 0


def depth_pictures(model, image, out_dir: Path, stem: str, args):
    """PyTorch depth of ``image`` with the infer() recipe, written as pictures; returns the depth."""
    args.fit = args.fit or model.provenance["fit"]
    start = time.perf_counter()
    depth = _predict(model, image, args)
    _report(_write_outputs(out_dir, stem, image, depth, model.provenance, time.perf_counter() - start))
    return depth


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
