"""stages.png: where the time of each zoe-export predict run went, against its wall time and the backend alone.

    python benchmarks/cpu_m12-n_predict/plot.py      # reads folder_b*.json, video_b*.json and compute_only/
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
STAGES = ("decode", "preprocess", "compute", "postprocess", "encode")
RUNS = ("folder_b1", "folder_b4", "video_b1", "video_b4")


def main() -> None:
    runs = {name: json.loads((HERE / f"{name}.json").read_text()) for name in RUNS if (HERE / f"{name}.json").exists()}
    figure, (stages, rates) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=100)
    names = list(runs)
    left = [0.0] * len(names)
    for stage in STAGES:
        seconds = [runs[n]["stages_s"][stage] / runs[n]["frames"] * 1000 for n in names]
        stages.barh(names, seconds, left=left, label=stage)
        left = [a + b for a, b in zip(left, seconds)]
    walls = [runs[n]["seconds"] / runs[n]["frames"] * 1000 for n in names]
    stages.scatter(walls, names, marker="|", s=400, color="black", label="wall time", zorder=3)
    stages.set_xlabel("ms per frame (stages summed over threads; | = wall time)")
    stages.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=6)
    stages.invert_yaxis()
    compute_only = _compute_only()
    x = range(len(names))
    rates.bar([i - 0.2 for i in x], [runs[n]["frames_per_s"] for n in names], width=0.4, label="predict end to end")
    rates.bar([i + 0.2 for i in x], [compute_only.get(runs[n]["options"]["batch"], 0) for n in names], width=0.4,
              label="zoe-bench compute only")
    rates.set_xticks(list(x), names)
    rates.set_ylabel("frames/s")
    rates.legend(fontsize=8, loc="lower right")
    figure.suptitle("zoe-export predict, M12-N 384x512 on ONNX Runtime, 2-core CPU, 64 frames of 480x640")
    figure.tight_layout()
    figure.savefig(HERE / "stages.png")


def _compute_only() -> dict[int, float]:
    """batch -> zoe-bench's compute-only rate (frames/s of the model call alone) from its result.json."""
    result = json.loads((HERE / "compute_only" / "result.json").read_text())
    (backend,) = result["backends"]
    return {int(batch): row["compute_images_per_s"] for batch, row in backend["batches"].items()}


if __name__ == "__main__":
    main()
