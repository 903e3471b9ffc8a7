"""One timed iteration of a backend, stage by stage, with the right clock for each stage.

preprocess and postprocess are host work (``perf_counter``): the official recipe around the model
(reflect padding, resize; bicubic back to the image). On the CPU the model call is one stage,
``compute``. On a GPU, host-to-device, compute and device-to-host are timed with CUDA events on the
stream that runs them. Every timer returns seconds per stage.

The model-size timers run the model at one size: the card's (a dynamic-size graph's default size), or
the one ``zoe-bench --size`` sets (``timer.size``). :class:`FrameTimer` (``zoe-bench --frame``) times
what an app calls instead, ``DepthEngine.predict`` of one frame, whatever path it takes.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from .. import preprocess
from ..errors import ZoeExportError, option

STAGES = ("preprocess", "h2d", "compute", "d2h", "postprocess")


class HostTimer:
    """CPU backends (PyTorch CPU, ONNX Runtime CPU): the model call is the compute stage."""

    clock = "perf_counter"
    last_split: dict[str, float] | None = None  # GPU timers: h2d / compute / d2h of the last call

    def __init__(self, engine, images: list[np.ndarray]):
        self.engine, self.images = engine, images
        self.size = tuple(engine.size)  # the model size timed (zoe-bench --size: another one a dynamic graph takes)

    @property
    def fit(self) -> str:
        """How the images meet the timed size: letterboxed where the engine letterboxes, else stretched to it."""
        return "letterbox" if self.engine.fit == "letterbox" else "stretch"

    def iteration(self, batch: int) -> dict[str, float]:
        t0 = time.perf_counter()
        prepared, x = self.prepare_batch(batch)
        t1 = time.perf_counter()
        depth = self._compute(x)
        t2 = time.perf_counter()
        self._restore(depth, prepared)
        t3 = time.perf_counter()
        split, self.last_split = self.last_split or {"compute": t2 - t1}, None
        return {"preprocess": t1 - t0, **split, "postprocess": t3 - t2}

    def prepare_batch(self, batch: int):
        prepared = [preprocess.prepare(self.images[i % len(self.images)], self.size, fit=self.fit, pad_input=True)
                    for i in range(batch)]
        return prepared, np.concatenate([p.batch for p in prepared])

    def _compute(self, x: np.ndarray) -> np.ndarray:
        return self.engine.infer_batch(x)

    @staticmethod
    def _restore(depth: np.ndarray, prepared) -> None:
        for i, p in enumerate(prepared):
            preprocess.restore(depth[i], p)

    def close(self) -> None:
        pass


class TorchCudaTimer(HostTimer):
    """PyTorch on a GPU: h2d, compute and d2h between CUDA events on the current stream."""

    clock = "cuda-events"

    def __init__(self, engine, images):
        super().__init__(engine, images)
        import torch

        self.torch = torch
        self.events = [torch.cuda.Event(enable_timing=True) for _ in range(4)]

    def _compute(self, x: np.ndarray) -> np.ndarray:
        torch, (e0, e1, e2, e3) = self.torch, self.events
        host = torch.from_numpy(x).pin_memory()
        e0.record()
        device = host.to("cuda", non_blocking=True)
        e1.record()
        out = self.engine.runner.forward(device)["metric_depth"]
        e2.record()
        depth = out.float().to("cpu")
        e3.record()
        torch.cuda.synchronize()
        self.last_split = {"h2d": e0.elapsed_time(e1) / 1e3, "compute": e1.elapsed_time(e2) / 1e3,
                           "d2h": e2.elapsed_time(e3) / 1e3}
        return depth.numpy()


class TrtTimer(HostTimer):
    """TensorRT: our own input buffer, the runner's zero-copy ``run`` on its stream, cudart events."""

    clock = "cuda-events"

    def __init__(self, engine, images):
        super().__init__(engine, images)
        from ..trt import cuda

        self.cuda = cuda
        self.stream = cuda.Stream()
        self.events = [cuda.Event() for _ in range(4)]
        self.input = cuda.DeviceBuffer()

    def _compute(self, x: np.ndarray) -> np.ndarray:
        from ..runtime import DeviceArray

        model, runner, (e0, e1, e2, e3) = self.engine.model, self.engine.runner, self.events
        feed = self.engine.to_model_input(x)
        self.input.ensure(feed.nbytes)
        e0.record(self.stream)
        self.input.copy_from_host(feed, self.stream)
        e1.record(self.stream)
        out = runner.run({model.input_name: DeviceArray(self.input.ptr, feed.shape, feed.dtype)},
                         stream=self.stream.handle)["metric_depth"]
        e2.record(self.stream)
        depth = np.empty(out.shape, out.dtype)
        self.cuda.copy_to_host(out.ptr, depth, self.stream)
        e3.record(self.stream)
        self.stream.synchronize()
        self.last_split = {"h2d": e0.elapsed_ms(e1) / 1e3, "compute": e1.elapsed_ms(e2) / 1e3,
                           "d2h": e2.elapsed_ms(e3) / 1e3}
        return depth.astype(np.float32, copy=False)

    def close(self) -> None:
        self.cuda.close_all(*self.events, self.input, self.stream)


class FrameTimer:
    """``zoe-bench --frame``: each iteration is one ``DepthEngine.predict(frame)``, the call an app makes.

    A model-io graph's call is numpy preprocessing, the model (at the frame's model size: the official
    keep-aspect size for a dynamic-size graph) and numpy postprocessing; a frame graph's is the graph
    alone. Stages from ``predict``'s own timings (compute = the model calls, copies included on a GPU),
    all on the host clock, so every backend is timed the same way.
    """

    clock = "perf_counter"

    def __init__(self, engine, frame: np.ndarray):
        self.engine, self.frame = engine, frame
        self.plan = engine.plan(*frame.shape[:2])  # raises where the graph cannot take the frame

    def iteration(self, batch: int) -> dict[str, float]:
        if batch != 1:
            raise ZoeExportError(f"{option('--frame', 'frame=')} times one frame per call: drop "
                                 f"{option('--batch-sizes', 'batch_sizes=')}.")
        stages: dict[str, float] = {}
        self.engine.predict(self.frame, timings=stages)
        return stages

    def prepare_batch(self, batch: int):
        raise ZoeExportError(f"{option('--profile', 'profile=True')} profiles the model on prepared inputs; it does "
                             f"not combine with {option('--frame', 'frame=')}.")

    def close(self) -> None:
        pass


def make_timer(spec, engine, images: list[np.ndarray]) -> HostTimer:
    """The registered timer of the spec's backend (ONNX Runtime's CUDA provider copies inside run(): host timer)."""
    return spec.backend.make_timer(engine, images, spec.on_gpu)


def summarize(iterations: list[dict[str, float]], batch: int) -> dict:
    """Percentiles of end-to-end and per-stage latency (ms), and images/s, over timed iterations."""
    if not iterations:
        return {"iterations": 0}
    total = [sum(it.values()) for it in iterations]
    stages = {s: [it[s] for it in iterations] for s in STAGES if s in iterations[0]}
    return {
        "iterations": len(iterations),
        "latency_ms": _percentiles(total),
        "compute_ms": _percentiles(stages["compute"]),
        "images_per_s": batch / statistics.fmean(total),
        "compute_images_per_s": batch / statistics.fmean(stages["compute"]),
        "stages_ms": {s: _percentiles(v) for s, v in stages.items()},
    }


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = 1e3 * np.asarray(seconds)
    return {"p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
            "p99": float(np.percentile(ms, 99)), "mean": float(ms.mean()), "min": float(ms.min())}
