"""``zoe-bench``: how fast a model runs, measured honestly (what was timed, on what, how often).

    zoe-bench --torch --variant M12-N --random-weights --iters 5
    zoe-bench --torch --variant M12-N --checkpoint ZoeD_M12_N.pt --device cuda --amp

This version times the PyTorch reference (eager, FP32 or AMP FP16, CPU or CUDA); ONNX Runtime and
TensorRT backends join when their stages land.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..errors import ZoeExportError
from .args import add_common_args, add_model_args, cli_entry, load_model_from_args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoe-bench", description="Latency and throughput of ZoeDepth backends.")
    add_common_args(parser)
    parser.add_argument("--torch", action="store_true", required=True,
                        help="benchmark the PyTorch reference model (the only backend in this version)")
    add_model_args(parser)
    g = parser.add_argument_group("timing")
    g.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    g.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default 1)")
    g.add_argument("--iters", type=int, default=3,
                   help="timed iterations (default 3: a full-size forward takes about 10 s on 2 CPU cores)")
    g.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    g.add_argument("--amp", action="store_true", help="CUDA autocast to FP16 (device cuda only)")
    g.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    g.add_argument("--output", metavar="DIR", help="write result.json there")
    return parser


def _timed_forward(model, args):
    import torch

    generator = torch.Generator().manual_seed(0)
    height, width = model.provenance["height"], model.provenance["width"]
    image = torch.rand(args.batch, 3, height, width, generator=generator).to(args.device)

    def forward():
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=args.amp):
            out = model(image)["metric_depth"]
        if args.device == "cuda":
            torch.cuda.synchronize()
        return out

    return forward


def _print(result: dict) -> None:
    s = result["latency"]
    m = result["model"]
    print(f"backend  torch eager {result['precision']} on {result['device']} "
          f"({result['machine']['cuda'] or result['machine']['processor']}, {result['machine']['torch_threads']} threads)")
    print(f"model    {m['variant']} at {m['height']}x{m['width']}, batch {s['batch']}, weights {m['weights']}")
    if not s["iterations"]:
        print("no timed iteration completed")
        return
    print(f"latency  p50 {s['p50_ms']:.1f} ms  p90 {s['p90_ms']:.1f} ms  mean {s['mean_ms']:.1f} ms  "
          f"min {s['min_ms']:.1f} ms  over {s['iterations']} iterations after {s['warmup']} warm-up")
    print(f"speed    {s['images_per_s']:.3f} images/s; peak host RSS {result['peak_rss_mb']:.0f} MB"
          + (f"; peak GPU memory {result['peak_gpu_mb']:.0f} MB" if result.get("peak_gpu_mb") else ""))


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .._files import atomic_output
    from .._log import setup_logging, stage
    from ..bench.latency import machine_info, peak_rss_mb, time_calls

    setup_logging(args.verbose)
    if args.amp and args.device != "cuda":
        raise ZoeExportError("--amp needs --device cuda (autocast FP16 on the CPU is not what TensorRT runs).")
    if args.batch < 1 or args.iters < 1 or args.warmup < 0:
        raise ZoeExportError("--batch and --iters must be at least 1, --warmup at least 0.")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ZoeExportError("--device cuda: this torch build sees no CUDA GPU. Install a CUDA build of torch, or use --device cpu.")
    start = time.perf_counter()
    with stage(f"loading {args.variant}"):
        model = load_model_from_args(args).to(args.device)
    load_s = time.perf_counter() - start
    latency = time_calls(_timed_forward(model, args), name=f"{args.variant} torch", batch=args.batch,
                         warmup=args.warmup, iters=args.iters)
    result = {
        "backend": "torch-eager",
        "precision": "amp-fp16" if args.amp else "fp32",
        "device": args.device,
        "model": model.provenance,
        "load_s": load_s,
        "latency": latency.summary(),
        "latencies_ms": [1e3 * t for t in latency.latencies_s],
        "peak_rss_mb": peak_rss_mb(),
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None,
        "machine": machine_info(),
        "command": "zoe-bench " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    _print(result)
    if args.output:
        path = Path(args.output) / "result.json"
        with atomic_output(path) as tmp:
            tmp.write_text(json.dumps(result, indent=2))
        print(f"wrote    {path}")
    return 130 if latency.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
