"""``zoe-export calib``: a calibration set, images or video frames preprocessed for a model input."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ZoeExportError
from .args import add_common_args, at_least


def add_parser(sub) -> None:
    p = sub.add_parser("calib", help="a calibration set: images/video frames preprocessed for a model input")
    add_common_args(p)
    p.add_argument("--images", metavar="DIR", help="folder of images (searched recursively)")
    p.add_argument("--video", nargs="+", metavar="FILE", help="videos to sample frames from (needs OpenCV)")
    p.add_argument("--synthetic", type=at_least(1), metavar="N",
                   help="N generated scenes instead of photos (smoke runs)")
    p.add_argument("--variant", required=True, help="the model the set is for (its input size and fit)")
    p.add_argument("--height", type=int, help="model input height (default: the variant's); a dynamic-size graph "
                                              "calibrates at the set's size: any size within its range")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
