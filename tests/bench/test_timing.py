"""Stage timers: the TensorRT timer's CUDA events and copies, on the fake TensorRT and cuda-python."""
import numpy as np
import pytest
from fakes import EngineSpec, install

from zoe_export.bench.timing import STAGES, TrtTimer, summarize
from zoe_export.runtime import DepthEngine, TrtRunner
from zoe_export.card import ModelCard
from zoe_export.trt import cuda

NOTHING_LIVE = {"device": 0, "host": 0, "streams": 0, "events": 0, "graphs": 0, "graph_execs": 0}


@pytest.fixture
def fakes(monkeypatch):
    return install(monkeypatch)


def test_the_tensorrt_timer_splits_copies_and_compute_with_cuda_events(fakes):
    spec = EngineSpec(height=32, width=64)
    image = (np.random.default_rng(0).random((40, 50, 3)) * 255).astype(np.uint8)
    engine = DepthEngine(TrtRunner(spec.serialize()), model=ModelCard.for_input("image", 32, 64, "float-nchw", None))
    with engine:
        timer = TrtTimer(engine, [image])
        iterations = [timer.iteration(2) for _ in range(3)]
        timer.close()
        assert cuda.memory_used_mb() > 0  # the runner's buffers, as zoe-bench reports GPU memory
    assert fakes.cudart.calls["cudaEventElapsedTime"] == 9 and fakes.cudart.calls["cudaEventSynchronize"] == 9
    assert all(set(it) == set(STAGES) and all(v >= 0 for v in it.values()) for it in iterations)
    assert fakes.trt.calls["kernels run"] == 3
    summary = summarize(iterations, 2)
    assert summary["iterations"] == 3 and summary["stages_ms"]["h2d"]["p50"] >= 0
    assert fakes.cudart.live == NOTHING_LIVE
