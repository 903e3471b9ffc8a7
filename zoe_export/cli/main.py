"""``zoe-export``: the toolkit's command line.

    zoe-export demo                                   # M12-N end to end on a built-in scene
    zoe-export predict --variant M12-N --checkpoint ZoeD_M12_N.pt --image room.jpg
    zoe-export variants
    zoe-export doctor --smoke                         # what this machine has; tiny engines built and run

One module per subcommand (``add_parser(sub)`` registers it, ``run(args)`` runs it); shared flags
live in :mod:`.args`. Heavy modules are imported inside the commands, so ``--help`` is instant and
needs no torch.
"""
from __future__ import annotations

import argparse
import sys

from . import calib, demo, doctor, onnx, openvino, predict, trt, variants
from .args import add_common_args, cli_entry

#: in the order ``zoe-export --help`` lists them
SUBCOMMANDS = (demo, predict, onnx, trt, openvino, calib, doctor, variants)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoe-export",
                                     description="ZoeDepth from PyTorch to ONNX, TensorRT and OpenVINO.")
    add_common_args(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .._log import setup_logging

    setup_logging(getattr(args, "verbose", False))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
