"""Argument groups shared by the command-line tools, and the one place CLI flags map to the API."""
from __future__ import annotations

import argparse
import functools
import sys
from typing import Callable

from ..errors import ZoeExportError

DOMAINS = ("auto", "nyu", "kitti")


def add_model_args(parser: argparse.ArgumentParser, default_variant: str | None = None) -> None:
    g = parser.add_argument_group("model")
    g.add_argument("--variant", default=default_variant, required=default_variant is None,
                   help="M12-N, M12-K or M12-NK (test-N/K/NK: toy-width test models)"
                   + (f"; default {default_variant}" if default_variant else ""))
    g.add_argument("--checkpoint", metavar="PATH",
                   help="checkpoint file; default: the official release, downloaded once into the cache")
    g.add_argument("--random-weights", action="store_true",
                   help="seeded random weights instead of a checkpoint (smoke runs, timing; depth is meaningless)")
    g.add_argument("--seed", type=int, default=0, help="seed of --random-weights (default 0)")
    g.add_argument("--sha256", metavar="HEX", help="pin the checkpoint file's sha256")
    g.add_argument("--height", type=int, help="input height, a multiple of 32 (default: the variant's native size)")
    g.add_argument("--width", type=int, help="input width, a multiple of 32 (default: the variant's native size)")
    g.add_argument("--max-depth", type=float, help="K only: upper end of the bins in metres (default 80; 10 = torch.hub)")
    g.add_argument("--domain", choices=DOMAINS, default="auto",
                   help="NK only: route per sample (auto) or keep one head")


def check_weight_flags(args: argparse.Namespace) -> None:
    if args.random_weights and args.checkpoint:
        raise ZoeExportError("--checkpoint and --random-weights exclude each other: pick one.")


def load_model_from_args(args: argparse.Namespace):
    """The model the flags describe (the only mapping from model flags to ``load_model``)."""
    from ..models import load_model

    check_weight_flags(args)
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
    )


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail in the log")


def cli_entry(main: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """User errors print one line and exit 1 (no traceback); Ctrl-C exits 130."""

    @functools.wraps(main)
    def wrapper(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except ZoeExportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper
