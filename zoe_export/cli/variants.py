"""``zoe-export variants``: the models this toolkit knows, with their sizes, depth ranges and checkpoints."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("variants", help="list the models this toolkit knows")
    p.add_argument("--all", action="store_true", help="include the toy-width test variants")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..models import get_variant, list_variants

    print(f"{'variant':8} {'size':>9} {'depth (m)':>12}  {'checkpoint':24} description")
    for name in list_variants(include_tiny=args.all):
        v = get_variant(name)
        lo, hi = v.depth_range
        ckpt = v.checkpoint.filename if v.checkpoint else "-"
        print(f"{name:8} {v.native_size[0]:>4}x{v.native_size[1]:<4} {lo:>5g}-{hi:<6g}  {ckpt:24} {v.description}")
    return 0
