"""``zoe-export openvino``: OpenVINO IR (.xml + .bin) from an ONNX export, verified against it (needs OpenVINO).

    zoe-export openvino --onnx zoed_m12_n_int8.onnx                  # -> zoed_m12_n_int8.xml + .bin + .xml.json
    zoe-export openvino --onnx zoed_m12_n.onnx --output ir/m12_n.xml --no-verify
"""
from __future__ import annotations

import argparse

from .args import add_common_args


def add_parser(sub) -> None:
    p = sub.add_parser("openvino", help="OpenVINO IR (.xml + .bin) from an ONNX export, verified against it "
                                        "(needs OpenVINO)")
    add_common_args(p)
    p.add_argument("--onnx", required=True, metavar="M.onnx",
                   help="a graph from zoe-export onnx (FP32, FP16 or INT8; model or frame io; any batch and size)")
    g = p.add_argument_group("IR")
    g.add_argument("--output", metavar="M.xml",
                   help="the IR's .xml (default: the ONNX path with .xml; its weights go beside it in .bin)")
    g.add_argument("--no-verify", dest="verify", action="store_false",
                   help="skip running the IR in OpenVINO (f32) against the graph in ONNX Runtime before writing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..openvino.export import export_ir, manifest_path, verification_lines

    manifest = export_ir(args.onnx, args.output, verify=args.verify)
    for line in verification_lines(manifest):
        print(line)
    xml = Path(manifest["path"])
    card = manifest["card"]
    print(f"wrote    {xml}  ({card['precision']} {card['variant']}, OpenVINO {manifest['openvino_version']}, "
          f"weights: compress_to_fp16 {manifest['compress_to_fp16']})")
    print(f"wrote    {xml.with_name(manifest['bin_file'])}  ({manifest['bin_bytes'] / 2**20:.1f} MB)")
    print(f"wrote    {manifest_path(xml)}")
    if manifest["picture"]:
        print(f"wrote    {xml.with_name(manifest['picture'])}")
    return 0
