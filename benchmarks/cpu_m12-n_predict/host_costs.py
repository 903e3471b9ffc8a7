"""host_costs.json: what zoe-export predict's host side costs per 480x640 frame, one thread, nothing else running.

    python benchmarks/cpu_m12-n_predict/host_costs.py WORK_DIR     # WORK_DIR from make_inputs.py

The figure a GPU backend needs from the host: every stage but compute, per frame, divided by the threads that
share it. A stand-in graph (the channel mean) replaces the model, so only the host work is timed.
"""
import json
import sys
import tempfile
import time
from pathlib import Path


from zoe_export.card import ModelCard
from zoe_export.io import images
from zoe_export.io.sources import collect_sources, open_source
from zoe_export.predict.outputs import CloudOptions, write_frame
from zoe_export.runtime import DepthEngine, OnnxrtRunner

HERE = Path(__file__).resolve().parent
REPEATS = 10


def _ms(fn) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(REPEATS):
        fn()
    return round((time.perf_counter() - start) / REPEATS * 1000, 1)


def main(work: Path) -> None:
    sys.path.insert(0, str(HERE.parents[1] / "tests"))
    from fakes.graphs import dynamic_graph  # the stand-in graph of the tests

    frame_png = sorted((work / "frames").glob("*.png"))[0]
    (video,), _ = collect_sources([str(work / "pan.mp4")])

    def video_frame():
        with open_source(video) as reader:
            return next(iter(reader))

    costs = {"decode png": _ms(lambda: images.read_image(frame_png)),
             "decode video frame (open + first frame)": _ms(video_frame)}
    rgb = images.read_image(frame_png)
    with tempfile.TemporaryDirectory() as tmp:
        graph = dynamic_graph(Path(tmp) / "fixed.onnx", batch=None, size_range=None, fixed_size=(384, 512))
        card = ModelCard.for_input("image", 384, 512, batch=None)
        for flip in (False, True):
            with DepthEngine(OnnxrtRunner(graph), model=card, flip=flip) as engine:
                prepared = engine.prepare(rgb)
                (output,) = engine.infer_prepared([prepared])
                name = "flip" if flip else "no flip"
                costs[f"prepare ({name})"] = _ms(lambda: engine.prepare(rgb))
                costs[f"finish ({name})"] = _ms(lambda: engine.finish(prepared, output))
        depth = engine.finish(prepared, output) + 1.0
        for kind, suffix in (("color", ".png"), ("mm16", ".png"), ("npy", ".npy"), ("panel", ".png"), ("ply", ".ply")):
            path = Path(tmp) / f"out{suffix}"
            costs[f"encode {kind}"] = _ms(lambda: write_frame({kind: path}, rgb, depth, CloudOptions()))
    (HERE / "host_costs.json").write_text(json.dumps({"frame": "480x640", "model size": "384x512",
                                                      "ms per frame, one thread": costs}, indent=2) + "\n")
    print(json.dumps(costs, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
