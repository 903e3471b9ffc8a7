"""Half-precision behaviour of the PyTorch reference on a CUDA GPU (run where a GPU is lent).

For each official variant, with seeded weights in the official layout (the reference helper
``zoe_weights.py`` if given, else our own seeded random weights), this runs the same inputs as:

* ``fp32``: FP32 with TF32 disabled (the reference on the GPU); for M12-N also compared with the
  official golden outputs computed on the CPU;
* ``fp32-tf32``: FP32 with PyTorch's default cuDNN TF32 convolutions;
* ``amp``: ``torch.autocast(float16)`` (PyTorch keeps softmax, LayerNorm, log, exp in FP32);
* ``half``: the whole model cast to FP16 (what a naive FP16 engine computes).

and reports REL, delta1, RMSE, max abs error and the non-finite count against ``fp32``.

    python benchmarks/gpu_precision_check.py --reference-dir ../shared/reference --output result.json
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from zoe_export.models import load_model  # noqa: E402


def depth_metrics(pred: np.ndarray, ref: np.ndarray) -> dict:
    finite = np.isfinite(pred)
    p, r = pred[finite], ref[finite]
    ratio = np.maximum(p / r, r / p) if p.size else np.array([np.inf])
    return {
        "rel": float(np.mean(np.abs(p - r) / r)) if p.size else None,
        "delta1": float(np.mean(ratio < 1.25)) if p.size else None,
        "rmse": float(np.sqrt(np.mean((p - r) ** 2))) if p.size else None,
        "max_abs": float(np.max(np.abs(p - r))) if p.size else None,
        "non_finite": int((~finite).sum()),
    }


def _helper(reference_dir: Path | None):
    if reference_dir is None or not (reference_dir / "golden" / "zoe_weights.py").is_file():
        return None
    spec = importlib.util.spec_from_file_location("zoe_weights", reference_dir / "golden" / "zoe_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _inputs(helper, height, width):
    if helper is not None:
        return torch.cat([helper.make_input(height, width, "scene"), helper.make_input(height, width, "noise")])
    return torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(0))


def _run(model, x, mode):
    torch.backends.cudnn.allow_tf32 = mode == "fp32-tf32"
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=mode == "amp"):
        inp = x.half() if mode == "half" else x
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = model(inp)["metric_depth"]
        torch.cuda.synchronize()
    return out.float().cpu().numpy(), time.perf_counter() - start


def check_variant(variant: str, helper, reference_dir: Path | None) -> dict:
    if helper is not None:
        extra = {"head_gain": 2.0} if variant == "M12-K" else {}
        weights = helper.make_state_dict(str(reference_dir / f"official_keys_{variant}.txt"), seed=0, **extra)
        source = "zoe_weights seed 0" + (" head_gain 2" if extra else "")
    else:
        weights, source = "random", "zoe-export random seed 0"
    model = load_model(variant, weights=weights).cuda()
    height, width = model.provenance["height"], model.provenance["width"]
    x = _inputs(helper, height, width).cuda()
    ref, _ = _run(model, x, "fp32")
    result = {"weights": source, "size": [height, width], "modes": {}}
    if variant == "M12-N" and helper is not None:
        golden = np.load(reference_dir / "golden" / "official_M12-N.npz")
        cpu = np.concatenate([golden["scene_metric_depth"], golden["noise_metric_depth"]])
        result["fp32_vs_official_cpu"] = depth_metrics(ref, cpu)
    for mode in ("fp32-tf32", "amp", "half"):
        if mode == "half":
            model = model.half()
        out, seconds = _run(model, x, mode)
        result["modes"][mode] = {**depth_metrics(out, ref), "seconds_first_call": seconds}
    del model
    torch.cuda.empty_cache()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", type=Path, help="the reference folder (official key lists, golden/)")
    parser.add_argument("--variants", default="M12-N,M12-K,M12-NK")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU: nothing to check", file=sys.stderr)
        return 1
    helper = _helper(args.reference_dir)
    report = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "variants": {}}
    for variant in args.variants.split(","):
        report["variants"][variant] = check_variant(variant, helper, args.reference_dir)
        print(variant, json.dumps(report["variants"][variant], indent=1), flush=True)
    args.output.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
