"""Build progress and Ctrl-C during a build (the monitor's logic, without TensorRT)."""
import os
import signal

import pytest
from fakes.tensorrt import FakeHostMemory
from polygraphy.exception import PolygraphyException

from zoe_export.errors import ZoeExportError
from zoe_export.trt import BuildOptions, EngineCache, build_engine
from zoe_export.trt import build as build_module
from zoe_export.trt.progress import BuildProgress


class Bar:
    """tqdm as BuildProgress uses it: records the bars shown, their position and whether they were closed."""

    shown: list = []

    def __init__(self, total, desc, **kwargs):
        self.total, self.desc, self.n, self.closed = total, desc, 0, False
        Bar.shown.append(self)

    def update(self, n):
        self.n += n

    def close(self):
        self.closed = True


@pytest.fixture
def bars(monkeypatch):
    monkeypatch.setattr("tqdm.tqdm", Bar)
    monkeypatch.setattr(Bar, "shown", [])
    return Bar.shown


def test_top_level_phases_get_bars_and_nested_ones_are_quiet(bars):
    progress = BuildProgress()
    progress.phase_start("Building engine", None, 3)
    progress.phase_start("Tactic timing", "Building engine", 100)
    assert [(bar.desc, bar.total) for bar in bars] == [("Building engine", 3)]
    (bar,) = bars
    assert progress.step_complete("Building engine", 0) and progress.step_complete("Tactic timing", 5)
    assert bar.n == 1 and not bar.closed
    assert progress.step_complete("Building engine", 2) and bar.n == 3
    progress.phase_finish("Building engine")
    assert bar.closed
    progress.phase_finish("Building engine")  # finishing again, or a nested phase, touches nothing
    progress.phase_finish("Tactic timing")
    assert len(bars) == 1


def test_bars_left_open_close_when_the_build_ends(bars):
    progress = BuildProgress()
    with progress.cancel_on_interrupt():
        progress.phase_start("Building engine", None, 3)
        progress.phase_start("Single step", None, 1)  # one step: no bar
    assert [(bar.desc, bar.closed) for bar in bars] == [("Building engine", True)]
    BuildProgress(bars=False).phase_start("Building engine", None, 3)  # bars=False: the log line only
    assert len(bars) == 1


def test_ctrl_c_cancels_at_the_next_step_and_writes_nothing(tiny_onnx, tmp_path, env10, monkeypatch):
    def chain(plan, progress):
        def build():  # TensorRT asks the monitor after each step; Ctrl-C arrives during the build
            progress.phase_start("Building engine", None, 2)
            os.kill(os.getpid(), signal.SIGINT)
            if not progress.step_complete("Building engine", 0):  # TensorRT stops and returns nothing,
                raise PolygraphyException("Invalid Engine. Please ensure the engine was built correctly")  # Polygraphy
            return FakeHostMemory.of(b"engine")
        return build

    monkeypatch.setattr(build_module, "loader_chain", chain)
    with pytest.raises(KeyboardInterrupt):
        build_engine(tiny_onnx("test-N"), BuildOptions(output=tmp_path / "e" / "m.engine"), env=env10,
                     cache=EngineCache(tmp_path / "cache"))
    assert not (tmp_path / "e").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_cancel_a_missing_engine_is_an_error(tiny_onnx, tmp_path, env10, monkeypatch):
    monkeypatch.setattr(build_module, "loader_chain", lambda plan, progress: lambda: FakeHostMemory.of(b""))
    with pytest.raises(ZoeExportError, match="returned no engine"):
        build_engine(tiny_onnx("test-N"), BuildOptions(output=tmp_path / "m.engine"), env=env10,
                     cache=EngineCache(tmp_path / "cache"))
