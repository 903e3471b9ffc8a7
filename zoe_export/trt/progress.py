"""Progress of a TensorRT build (minutes for BEiT-L), and Ctrl-C that cancels it cleanly.

TensorRT reports nested phases through ``IProgressMonitor``; :class:`BuildProgress` shows the
top-level ones as progress bars and answers "go on" unless Ctrl-C was pressed, in which case
TensorRT stops the build and returns no engine (so nothing is written).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

from .._log import log


class BuildProgress:
    """What the monitor does, without TensorRT: bars for top-level phases, and the cancel switch."""

    def __init__(self, bars: bool = True):
        self.bars, self.cancelled = bars, False
        self._open: dict[str, object] = {}

    def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
        if parent_phase is not None:
            return
        log.info("TensorRT: %s (%d steps)", phase_name, num_steps)
        if self.bars and num_steps > 1:
            from tqdm import tqdm

            self._open[phase_name] = tqdm(total=num_steps, desc=phase_name, unit="step", leave=False)

    def step_complete(self, phase_name: str, step: int) -> bool:
        bar = self._open.get(phase_name)
        if bar is not None:
            bar.update(step + 1 - bar.n)
        return not self.cancelled

    def phase_finish(self, phase_name: str) -> None:
        bar = self._open.pop(phase_name, None)
        if bar is not None:
            bar.close()

    @contextlib.contextmanager
    def cancel_on_interrupt(self) -> Iterator[None]:
        """While building, Ctrl-C asks TensorRT to stop at its next step instead of killing the process."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def cancel(signum, frame):
            self.cancelled = True
            log.warning("cancelling the TensorRT build at its next step ...")

        previous = signal.signal(signal.SIGINT, cancel)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            for name in list(self._open):
                self.phase_finish(name)


def tensorrt_monitor(progress: BuildProgress):
    """A ``trt.IProgressMonitor`` forwarding to ``progress`` (made only when a build runs)."""
    from .api import import_tensorrt

    trt = import_tensorrt()

    class Monitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name, parent_phase, num_steps):
            progress.phase_start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name, step):
            return progress.step_complete(phase_name, step)

        def phase_finish(self, phase_name):
            progress.phase_finish(phase_name)

    return Monitor()
