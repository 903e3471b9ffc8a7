"""Depth for many inputs through one :class:`~zoe_export.runtime.DepthEngine`, pipelined so the backend never waits.

    reader thread           preprocessing threads        this thread             writer threads
    decode frames in order  engine.prepare(frame)  --->  engine.infer_prepared   engine.finish, colour, files,
    (images, videos,  --->  (futures in a bounded        (batches of --batch     point clouds, video frames
     streams)               queue, in order)              frames of one size)     (bounded backlog)

The backend runs in the calling thread (TensorRT's CUDA context stays where it was made); everything else
overlaps with it. A bad input (unreadable file, a frame the graph cannot take) is recorded on its source and the
run goes on. The first Ctrl-C stops reading, finishes the frames in flight and returns; a second one aborts at
once. Files are written atomically either way; a depth video of a video file is kept only when every frame made
it (a live stream's video ends where the stream was stopped).
"""
from __future__ import annotations

import contextlib
import os
import queue
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .._files import make_folder
from .._log import log
from ..errors import ZoeExportError
from ..io.sources import Skipped, Source, open_source, video_fps_for_output
from ..runtime import DepthEngine
from .outputs import CloudOptions, Layout, VideoSink, write_frame

#: the stages of a run, in the order a frame passes them
STAGES = ("decode", "preprocess", "compute", "postprocess", "encode")
_MAX_ERRORS = 5  # errors kept per input (the count says how many more)


def default_threads() -> int:
    """Threads for each of preprocessing and writing: half the cores (the backend has the rest), 2 to 8."""
    return max(2, min(8, (os.cpu_count() or 2) // 2))


@dataclass(frozen=True)
class PredictOptions:
    """How a run goes: where outputs go and which (``layout``), frames per backend call, point clouds, resuming."""

    layout: Layout
    batch: int = 1
    cloud: CloudOptions = field(default_factory=CloudOptions)
    skip_existing: bool = False
    max_frames: int | None = None  # per input (a live stream runs until stopped otherwise)
    workers: int = field(default_factory=default_threads)  # preprocessing threads
    writers: int = field(default_factory=default_threads)  # postprocessing and encoding threads
    progress: bool = True


@dataclass
class SourceRecord:
    """What happened to one input."""

    source: Source
    status: str = "pending"  # ok | partial | failed | skipped | interrupted
    frames: int = 0  # frames whose outputs were written
    failed_frames: int = 0
    existing_frames: int = 0  # skipped with --skip-existing
    expected: int | None = None  # frames the container reports
    fps: float | None = None
    truncated: bool = False
    interrupted: bool = False
    errors: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # an image's files, or a video's depth video
    depth_m: dict[str, float] = field(default_factory=dict)  # an image's min / median / max
    video: VideoSink | None = None
    started: float | None = None  # perf_counter when it was opened
    seconds: float | None = None  # from opening it to its last frame written
    # bookkeeping between the threads
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    ended: bool = False
    finished: bool = False
    leader_sent: bool = False

    def error(self, message: str) -> None:
        with self.lock:
            if len(self.errors) < _MAX_ERRORS:
                self.errors.append(message)
            elif len(self.errors) == _MAX_ERRORS:
                self.errors.append("(more errors not listed)")

    def as_dict(self) -> dict:
        data = {"input": self.source.location, "kind": self.source.kind, "name": str(self.source.name),
                "status": self.status, "frames": self.frames, "failed_frames": self.failed_frames}
        if self.seconds is not None:
            data["seconds"] = round(self.seconds, 3)
        for key in ("existing_frames", "expected", "fps", "truncated", "interrupted"):
            value = getattr(self, key)
            if value:
                data[key] = value
        if self.outputs:
            data["outputs"] = self.outputs
        if self.depth_m:
            data["depth_m"] = self.depth_m
        if self.errors:
            data["errors"] = self.errors
        return data


@dataclass
class RunResult:
    """A run's outcome: one record per input, the inputs skipped before reading, the time per stage."""

    records: list[SourceRecord]
    skipped: list[Skipped]
    stages: dict[str, float]  # seconds spent in each stage, summed over threads
    wall: float
    interrupted: bool = False  # stopped by Ctrl-C (the frames in flight finished)
    aborted: bool = False  # a second Ctrl-C
    threads: dict[str, int] = field(default_factory=dict)  # preprocessing and writer threads

    @property
    def frames(self) -> int:
        return sum(r.frames for r in self.records)

    @property
    def failed_inputs(self) -> list[SourceRecord]:
        return [r for r in self.records if r.status in ("failed", "partial")]

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall if self.wall > 0 else 0.0

    @property
    def compute_frames_per_s(self) -> float:
        """The backend's own rate over this run: frames / seconds inside the model calls."""
        return self.frames / self.stages["compute"] if self.stages["compute"] > 0 else 0.0


class _Clock:
    """Seconds per stage, summed over the threads that run it."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] += time.perf_counter() - start


@dataclass
class _Frame:
    record: SourceRecord
    index: int
    rgb: np.ndarray
    prepared: object = None  # PreparedFrame
    leader: bool = False  # the first frame of a depth video: it sets the video's colour range


class _Stop:
    """Ctrl-C during a run: the first stops reading (the frames in flight finish), a second aborts."""

    def __init__(self) -> None:
        self.event = threading.Event()

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self.event.is_set():
                raise KeyboardInterrupt
            self.event.set()
            sys.stderr.write("\nstopping: finishing the frames in flight (Ctrl-C again to abort)\n")

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def run_predict(engine: DepthEngine, sources: list[Source], options: PredictOptions,
                skipped: list[Skipped] | None = None) -> RunResult:
    """Depth for every frame of ``sources`` through ``engine``, written as ``options.layout`` says."""
    engine.check_frames_per_call(options.batch)
    return _Run(engine, sources, options).run(list(skipped or ()))


class _Run:
    def __init__(self, engine: DepthEngine, sources: list[Source], options: PredictOptions):
        self.engine, self.options, self.layout = engine, options, options.layout
        self.records = [SourceRecord(source) for source in sources]
        self.clock = _Clock()
        self.stop = _Stop()
        self.abort = threading.Event()
        self.ordered: queue.Queue = queue.Queue(maxsize=2 * options.batch + options.workers)
        self.backlog = threading.Semaphore(2 * options.writers + options.batch)
        self.bar = None
        self.failed_frames = 0
        self._bar_lock = threading.Lock()

    # -- the calling thread: the backend ------------------------------------------------------------
    def run(self, skipped: list[Skipped]) -> RunResult:
        from tqdm import tqdm

        from ..io.sources import count_frames

        start = time.perf_counter()
        total = None if self.options.max_frames else count_frames([r.source for r in self.records])
        self.engine.runner.activate()
        aborted = False
        self.prepare_pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="zoe-prepare")
        self.write_pool = ThreadPoolExecutor(self.options.writers, thread_name_prefix="zoe-write")
        reader = threading.Thread(target=self._read, name="zoe-read", daemon=True)
        with tqdm(total=total, unit="frame", desc="depth", disable=not self.options.progress, dynamic_ncols=True,
                  file=sys.stderr) as self.bar, self.stop.installed():
            try:
                reader.start()
                self._compute()
            except KeyboardInterrupt:  # the second Ctrl-C: what is written stays, nothing more is started
                aborted = True
            finally:
                self.abort.set()  # the reader stops (it has finished unless Ctrl-C or an error came first)
                self.prepare_pool.shutdown(wait=True, cancel_futures=True)
                self.write_pool.shutdown(wait=True, cancel_futures=aborted)  # computed frames are written
                reader.join(timeout=5)
                for record in self.records:
                    self._finish(record, force=True)
        return RunResult(self.records, skipped, dict(self.clock.seconds), time.perf_counter() - start,
                         interrupted=aborted or self.stop.event.is_set(), aborted=aborted,
                         threads={"preprocess": self.options.workers, "write": self.options.writers})

    def _compute(self) -> None:
        batch: list[_Frame] = []
        while True:
            item = self.ordered.get()
            kind = item[0]
            if kind == "frame":
                frame = self._prepared(item[1], item[2])
                if frame is None:
                    continue
                if batch and (frame.prepared.key != batch[0].prepared.key or len(batch) >= self.options.batch):
                    self._run_batch(batch)
                    batch = []
                batch.append(frame)
                if len(batch) >= self.options.batch:
                    self._run_batch(batch)
                    batch = []
            elif kind == "start":
                make_folder(item[1].video.path.parent)
            elif kind == "end":
                record = item[1]
                with record.lock:
                    record.ended = True
                self._finish(record)
            elif kind == "done":
                self._run_batch(batch)
                return

    def _prepared(self, frame: _Frame, future) -> _Frame | None:
        try:
            frame.prepared = future.result()
        except Exception as exc:  # a frame the graph cannot take (or that breaks the preprocessing): recorded
            self._frame_failed(frame, _message(exc))
            return None
        return frame

    def _run_batch(self, batch: list[_Frame]) -> None:
        if not batch:
            return
        with self.clock.stage("compute"):
            outputs = self.engine.infer_prepared([frame.prepared for frame in batch])
        for frame, output in zip(batch, outputs):
            for path in self.layout.frame_paths(frame.record.source, frame.index).values():
                make_folder(path.parent)  # here, not in the writer threads: a failed run takes back what it made
            if frame.record.video is not None and not frame.record.leader_sent:
                frame.leader = frame.record.leader_sent = True  # the first frame in order sets the colour range
            self.backlog.acquire()
            self.write_pool.submit(self._write, frame, output)

    # -- the reader thread ---------------------------------------------------------------------------
    def _put(self, item) -> bool:
        while not self.abort.is_set():
            try:
                self.ordered.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for record in self.records:
                if self.stop.event.is_set() or self.abort.is_set():
                    record.interrupted = True
                    continue
                self._read_source(record)
                if not self._put(("end", record)):
                    return
        finally:
            self._put(("done",))

    def _read_source(self, record: SourceRecord) -> None:
        source = record.source
        if self.options.skip_existing and self._complete(record):
            record.status = "skipped"
            return
        record.started = time.perf_counter()
        try:
            with self.clock.stage("decode"):  # an image is decoded when it is opened
                reader = open_source(source)
            with reader:
                if source.kind != "image":
                    self._open_video(record, reader.info)
                    if record.video is not None and not self._put(("start", record)):
                        return
                frames = iter(reader)
                read = 0
                while True:
                    if self.stop.event.is_set() or self.abort.is_set():
                        record.interrupted = True
                        break
                    if self.options.max_frames is not None and read >= self.options.max_frames:
                        break
                    with self.clock.stage("decode"):
                        item = next(frames, None)
                    if item is None:
                        break
                    index, rgb = item
                    read += 1
                    if self._existing(record, index):
                        record.existing_frames += 1
                        self._progress()
                        continue
                    frame = _Frame(record, index, rgb)
                    with record.lock:
                        record.in_flight += 1
                    if not self._put(("frame", frame, self.prepare_pool.submit(self._prepare, rgb))):
                        return
                record.truncated = bool(getattr(reader, "truncated", False))
                if record.truncated:
                    record.error(f"the video ended after {reader.frames_read} of the {reader.info.frames} frames "
                                 "its container reports")
        except Exception as exc:  # an unreadable input, or one that breaks a library: recorded, the run goes on
            record.error(_message(exc))

    def _open_video(self, record: SourceRecord, info) -> None:
        """A video or stream opened: its frame rate, and its depth video (unless --skip-existing finds it made)."""
        record.expected, record.fps = info.frames if record.source.kind == "video" else None, info.fps
        path = self.layout.video_path(record.source)
        if path is None or (self.options.skip_existing and path.is_file()):
            return
        if not info.fps:
            log.warning("%s reports no frame rate: its depth video is written at %g frames/s.",
                        record.source.location, video_fps_for_output(info))
        record.video = VideoSink(path, video_fps_for_output(info))

    def _complete(self, record: SourceRecord) -> bool:
        """--skip-existing: every output of the input is there already (checked without decoding)."""
        source = record.source
        video = self.layout.video_path(source)
        if source.kind == "image":
            return self.layout.done(source, 0)
        return video is not None and video.is_file() and not self.layout.frame_kinds(source)

    def _existing(self, record: SourceRecord, index: int) -> bool:
        return self.options.skip_existing and record.video is None and self.layout.done(record.source, index)

    # -- the preprocessing threads -------------------------------------------------------------------
    def _prepare(self, rgb: np.ndarray):
        with self.clock.stage("preprocess"):
            return self.engine.prepare(rgb)

    # -- the writer threads --------------------------------------------------------------------------
    def _write(self, frame: _Frame, output: np.ndarray) -> None:
        record, video, leader = frame.record, frame.record.video, frame.leader
        try:
            with self.clock.stage("postprocess"):
                depth = self.engine.finish(frame.prepared, output)
            with self.clock.stage("encode"):
                if leader:
                    video.set_range(depth)
                colour = video.colour(depth) if video is not None else None
                paths = self.layout.frame_paths(record.source, frame.index)
                written = write_frame(paths, frame.rgb, depth, self.options.cloud, colour)
                if video is not None:
                    video.put(frame.index, colour)
            with record.lock:
                record.frames += 1
                if record.source.kind == "image":
                    record.outputs.update(written)
                    finite = depth[np.isfinite(depth)]
                    if finite.size:
                        record.depth_m = {"min": float(finite.min()), "median": float(np.median(finite)),
                                          "max": float(finite.max())}
        except Exception as exc:  # one frame's failure is recorded; the run goes on
            if leader:
                video.set_range(None)
            self._frame_failed(frame, _message(exc))
            return
        finally:
            self.backlog.release()
        with record.lock:
            record.in_flight -= 1
        self._progress()
        self._finish(record)

    def _frame_failed(self, frame: _Frame, message: str) -> None:
        record = frame.record
        where = "" if record.source.kind == "image" else f"frame {frame.index}: "
        record.error(where + message)
        if record.video is not None:
            with contextlib.suppress(Exception):  # a video that cannot be written has said so for this frame
                record.video.put(frame.index, None)  # a black frame keeps the timing
        with record.lock:
            record.failed_frames += 1
            record.in_flight -= 1
        self._progress(failed=True)
        self._finish(record)

    def _progress(self, failed: bool = False) -> None:
        with self._bar_lock:
            self.bar.update(1)
            if failed:
                self.failed_frames += 1
                self.bar.set_postfix(failed=self.failed_frames, refresh=False)

    # -- an input's end ------------------------------------------------------------------------------
    def _finish(self, record: SourceRecord, force: bool = False) -> None:
        """Close an input once its last frame is written (``force``: at the end of the run, whatever is left)."""
        with record.lock:
            if record.finished or (not force and (not record.ended or record.in_flight)):
                return
            record.finished = True
            if record.started is not None:
                record.seconds = time.perf_counter() - record.started
            interrupted = record.interrupted or (force and (not record.ended or record.in_flight > 0))
            record.interrupted = interrupted
        if record.video is not None:
            keep = record.source.is_live or not interrupted
            path = record.video.close(complete=keep)
            if path is not None:
                record.outputs["video"] = str(path)
            elif record.frames and not keep:
                record.error("interrupted: the depth video was not written (run again with --skip-existing to "
                             "finish it)")
        record.status = _status(record)


def _status(record: SourceRecord) -> str:
    if record.status == "skipped":
        return "skipped"
    if record.interrupted and not record.source.is_live:
        return "interrupted"
    if record.errors or record.failed_frames:
        return "partial" if record.frames else "failed"
    if not record.frames:
        return "skipped" if record.existing_frames else "interrupted" if record.interrupted else "failed"
    return "ok"


def _message(exc: Exception) -> str:
    """A user error as it is; anything else (a library's own exception) with its type, on one line."""
    text = str(exc) if isinstance(exc, ZoeExportError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())
