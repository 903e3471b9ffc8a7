"""One process per backend: its memory, its threads and its crashes are its own.

The parent (:mod:`.session`) drives each :class:`Worker` with short commands (open, warm up, time
a round, outputs for parity, profile, memory) so it can interleave the backends' timing rounds.
Workers ignore Ctrl-C; the parent decides when to stop and closes them.
"""
from __future__ import annotations

import multiprocessing
import signal
import time
import traceback

import numpy as np

from ..errors import ZoeExportError, option
from .backends import BackendSpec


def frame_graph_needs_frame() -> str:
    """Why a frame graph cannot be timed on prepared model inputs, and what to do instead."""
    return (f"it is a frame graph (uint8 frames in, depth at the frame's size out, the official infer() inside): "
            f"time it end to end with {option('--frame HxW', 'frame=(H, W)')}, e.g. 720x1280.")


class WorkerError(ZoeExportError):
    """A backend failed inside its worker; the message is the worker's."""


class Worker:
    def __init__(self, spec: BackendSpec):
        context = multiprocessing.get_context("spawn")  # no fork of a parent holding threads, CUDA or models
        self.spec = spec
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, spec), name=f"zoe-bench {spec.name}", daemon=True)
        self.process.start()
        child.close()
        self.pending = False  # a command was sent and its reply not read (Ctrl-C while waiting)

    def call(self, command: str, *args):
        self.drain()
        try:
            self.conn.send((command, args))
            self.pending = True
            status, value = self.conn.recv()
            self.pending = False
        except (EOFError, OSError):
            raise WorkerError(f"{self.spec.name}: the worker process died (exit code {self.process.exitcode}); "
                              "out of memory?") from None
        if status == "error":
            raise WorkerError(f"{self.spec.name}: {value}")
        return value

    def drain(self, timeout: float = 120.0) -> bool:
        """Wait for (and drop) the reply to an interrupted command; False if it did not come."""
        if self.pending and self.process.is_alive() and self.conn.poll(timeout):
            self.conn.recv()
            self.pending = False
        return not self.pending

    def close(self, timeout: float = 30.0) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("close", ()))
                if self.conn.poll(timeout):
                    self.conn.recv()
            except (OSError, EOFError):
                pass
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.conn.close()


def _serve(conn, spec: BackendSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    backend = _Backend(spec)
    while True:
        command, args = conn.recv()
        if command == "close":
            backend.close()
            conn.send(("ok", None))
            return
        try:
            conn.send(("ok", getattr(backend, command)(*args)))
        except ZoeExportError as exc:
            conn.send(("error", str(exc)))
        except Exception as exc:  # report any backend failure to the parent, which records it and goes on
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"))


class _Backend:
    """What runs inside the worker: the backend's DepthEngine and its stage timer."""

    def __init__(self, spec: BackendSpec):
        self.spec, self.engine, self.timer, self.frame = spec, None, None, None

    def open(self, images: list[np.ndarray], size: tuple[int, int] | None = None,
             frame: np.ndarray | None = None) -> dict:
        """Open the backend and its timer: at the model ``size`` (None: the card's), or on ``frame`` (zoe-bench
        --frame: ``DepthEngine.predict`` of it). Returns what was opened, at which model size, and its memory."""
        from .backends import open_backend
        from .timing import FrameTimer, make_timer

        start = time.perf_counter()
        self.engine = open_backend(self.spec)
        self.engine.runner.activate()
        model, plan = self.engine.model, None
        if frame is not None:
            self.frame = np.asarray(frame)
            self.timer = FrameTimer(self.engine, self.frame)
            plan = self.timer.plan.as_dict()
            height, width = self.timer.plan.model_size
        else:
            if self.engine.is_frame_graph:
                raise ZoeExportError(frame_graph_needs_frame())
            self.timer = make_timer(self.spec, self.engine, images)
            if size is not None:
                model.check_model_size(tuple(size), option("--size", "size="))
                self.timer.size = tuple(size)
            height, width = self.timer.size
        return {"load_s": time.perf_counter() - start, "clock": self.timer.clock, "height": height, "width": width,
                "batch": model.batch, "input_format": model.input_format, "io": model.io, "frame_plan": plan,
                # what the backend computes in, where it says (OpenVINO reads it back from the compiled model)
                "inference_precision": getattr(self.engine.runner, "inference_precision", None), **self.memory()}

    def run(self, batch: int, iterations: int) -> list[dict[str, float]]:
        return [self.timer.iteration(batch) for _ in range(iterations)]

    def frame_depth(self) -> np.ndarray:
        """``DepthEngine.predict`` of the frame the backend is timed on (zoe-bench --frame compares them)."""
        return self.engine.predict(self.frame)

    def outputs(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """metric_depth for each prepared (1, 3, H, W) batch, at the model's size."""
        return [self.engine.infer_batch(x) for x in batches]

    def profile(self, batch: int, iterations: int, folder: str) -> dict:
        from .profiling import profile_backend

        return profile_backend(self.spec, self.engine, self.timer, batch, iterations, folder)

    def memory(self) -> dict:
        from .latency import peak_rss_mb

        return {"peak_rss_mb": peak_rss_mb(), "peak_gpu_mb": _gpu_memory_mb(self.spec)}

    def close(self) -> None:
        if self.timer is not None:
            self.timer.close()
        if self.engine is not None:
            self.engine.close()


def _gpu_memory_mb(spec: BackendSpec) -> float | None:
    if not spec.on_gpu:
        return None
    if spec.kind == "torch":
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    from ..trt import cuda

    return cuda.memory_used_mb()  # the device's use now (TensorRT allocates up front), all processes
