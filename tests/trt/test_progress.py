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


def test_top_level_phases_get_bars_and_nested_ones_are_quiet():
    progress = BuildProgress()
    progress.phase_start("Building engine", None, 3)
    progress.phase_start("Tactic timing", "Building engine", 100)
    assert list(progress._open) == ["Building engine"]
    assert progress.step_complete("Building engine", 0) and progress.step_complete("Tactic timing", 5)
    assert progress._open["Building engine"].n == 1
    progress.phase_finish("Building engine")
    assert progress._open == {}


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
