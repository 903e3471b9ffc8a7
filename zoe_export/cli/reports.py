"""Console reports shared by the subcommands: an ONNX export, a precision conversion (parity, budget search).

Each reads a manifest the library returned (or wrote beside an artifact) and prints it; nothing here
computes anything.
"""
from __future__ import annotations

from pathlib import Path


def report_export(manifest: dict, kept: bool = True) -> None:
    """The manifest of :func:`~zoe_export.export.export_onnx`; ``kept=False``: a temporary FP32 source."""
    card, graph, v = manifest["card"], manifest["graph"], manifest["verification"]
    path = Path(manifest["path"])
    what = (f"wrote    {path}" + (f" + {path.parent / manifest['external_data']}" if manifest["external_data"] else "")
            if kept else "fp32     the FP32 export, in a temporary folder (the converter's source; not kept)")
    print(what + f"  ({graph['initializer_bytes'] / 2**20:.0f} MB of weights, {graph['nodes']} nodes, "
          f"opset {graph['opset']})")
    shape = ",".join("N" if d is None else str(d) for d in card.input_shape)
    print(f"input    {card.input_name} [{shape}] {card.input_format}; outputs {','.join(card.outputs)}")
    if v is None:
        print("verify   skipped (--no-verify)")
    else:
        for case, outputs in v["cases"].items():
            for name, m in outputs.items():
                figures = (f"REL {m['rel']:.2e}  RMSE {m['rmse']:.2e}  delta1 {m['delta1']:.6f}  "
                           f"max abs {m['max_abs']:.2e}" if "rel" in m
                           else f"route agreement {m['route_agreement']:.0%}  max abs {m['max_abs']:.2e}")
                print(f"verify   {case:7} {name:14} {figures}")
        print(f"verify   passed ({card.precision}: REL <= {v['tolerance']['max_rel']:g}, "
              f"delta1 >= {v['tolerance']['min_delta1']:g}; {v['backend']})")
    seconds = "seconds: " + ", ".join(f"{k} {s:.1f}" for k, s in manifest["seconds"].items())
    print(f"manifest {path}.json; {seconds}" if kept else f"fp32     {seconds}")


def report_conversion(manifest: dict) -> None:
    """The manifest of :func:`~zoe_export.precision.convert_precision`: the INT8 budget search, then parity."""
    from ..precision.budget import search_table
    from ..precision.parity import parity_lines

    if manifest.get("search"):
        print(search_table(manifest["search"]))
    for line in parity_lines(manifest["precision"], manifest["parity"]):
        print(line)
    emulation = manifest.get("parity_onnxruntime_emulation")
    if emulation:  # measured on OpenVINO: what the ONNX Runtime emulation says, for comparison (not judged)
        o, h = emulation["overall"], emulation["heldout"]
        heldout = f"held-out mean REL {h['rel']:.2e}; " if h else ""
        print(f"compare  {manifest['precision']} on the emulation: mean REL {o['rel']:.2e} "
              f"(worst {o['worst_rel']:.2e}), delta1 {o['delta1']:.6f}; {heldout}{emulation['backend']}")
    measured_on = manifest.get("measured_on")
    if measured_on:  # manifests before zoe-export recorded it have none
        print(f"measured {measured_on_text(measured_on)}")


def measured_on_text(measured_on: dict) -> str:
    """``on OpenVINO 2026.4.1 (CPU Intel(R) Xeon(R) ...), inference precision bf16``: a manifest's ``measured_on``."""
    if measured_on["backend"] == "openvino":
        where = f"OpenVINO {measured_on.get('openvino', '?')} (CPU {measured_on.get('cpu', '?')})"
    else:
        where = f"ONNX Runtime {measured_on.get(measured_on['backend'], '?')} CPU"
    return f"on {where}, inference precision {measured_on['inference_precision']}"
