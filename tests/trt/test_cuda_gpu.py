"""Our CUDA layer for real on a GPU, without TensorRT (marker cuda; scripts/gpu_check.sh runs these).

Streams, events, pinned and device buffers, a CUDA graph captured around a torch kernel and
replayed, zero-copy exchange with torch through DLPack and ``__cuda_array_interface__``, and
zoe-bench's GPU stage timers on the PyTorch backend. Skipped with the reason without cuda-python,
a driver and a GPU (and, where torch is used, a CUDA build of torch).
"""
import json

import numpy as np
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.runtime import DeviceArray, as_device_view
from zoe_export.trt import cuda

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def gpu():
    try:
        cuda.import_cudart()
        count = cuda.device_count()
    except ZoeExportError as exc:
        pytest.skip(f"needs cuda-python and an NVIDIA driver: {exc}")
    if count == 0:
        pytest.skip("needs a CUDA GPU")
    cuda.set_device(0)
    return cuda.device_properties(0)


@pytest.fixture(scope="module")
def torch(gpu):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA build of torch")
    return torch


def test_versions_device_and_memory(gpu):
    assert cuda.driver_version() >= 12000 and cuda.runtime_version() >= 12000
    assert gpu.name and gpu.major >= 7 and gpu.total_memory > 2**30
    free, total = cuda.memory_info()
    assert 0 < free <= total == gpu.total_memory and cuda.memory_used_mb() > 0


def test_pinned_and_device_buffers_round_trip(gpu):
    data = np.random.default_rng(0).random((256, 1024)).astype(np.float32)
    stream, staged, back, device = cuda.Stream(), cuda.HostBuffer(data.nbytes), cuda.HostBuffer(data.nbytes), \
        cuda.DeviceBuffer(data.nbytes)
    try:
        host = staged.array(data.shape, data.dtype)
        host[...] = data
        device.copy_from_host(host, stream)
        result = back.array(data.shape, data.dtype)
        device.copy_to_host(result, stream)
        stream.synchronize()
        np.testing.assert_array_equal(result, data)
        again = np.zeros_like(data)
        cuda.copy_to_host(device.ptr, again, stream)
        stream.synchronize()
        np.testing.assert_array_equal(again, data)
    finally:
        cuda.close_all(device, back, staged, stream)


def test_events_time_a_torch_kernel_on_our_stream(torch):
    stream, start, end = cuda.Stream(), cuda.Event(), cuda.Event()
    a = torch.rand(4096, 4096, device="cuda")
    torch.cuda.synchronize()
    try:
        with torch.cuda.stream(torch.cuda.ExternalStream(stream.handle)):
            start.record(stream)
            for _ in range(5):
                a = a @ a / 4096
            end.record(stream)
        ms = start.elapsed_ms(end)
        assert 0 < ms < 10_000 and torch.isfinite(a).all()
    finally:
        cuda.close_all(start, end, stream)


def test_a_cuda_graph_captured_around_a_torch_kernel_replays_on_new_inputs(torch):
    x = torch.rand(1 << 20, device="cuda")
    y = torch.empty_like(x)
    stream = cuda.Stream()
    external = torch.cuda.ExternalStream(stream.handle)

    def work():  # no allocation inside: capture forbids cudaMalloc
        with torch.cuda.stream(external):
            torch.mul(x, 2, out=y)

    torch.cuda.synchronize()
    work()  # once before capture: the kernel's module is loaded outside the capture
    stream.synchronize()
    graph = cuda.CudaGraph(stream, work)
    try:
        for value in (3.0, -1.5):
            x.fill_(value)
            torch.cuda.synchronize()
            graph.launch(stream)
            stream.synchronize()
            assert torch.all(y == 2 * value)
    finally:
        cuda.close_all(graph, stream)


class _DLPackOnly:
    """A producer that offers DLPack alone (as JAX does), to take that path."""

    def __init__(self, tensor):
        self.tensor = tensor

    def __dlpack__(self, stream=None):
        return self.tensor.__dlpack__(stream=stream)

    def __dlpack_device__(self):
        return self.tensor.__dlpack_device__()


def test_zero_copy_exchange_with_torch_both_ways(torch):
    t = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4)
    for producer in (t, _DLPackOnly(t)):
        view = as_device_view(producer, 0)
        assert (view.ptr, view.shape, view.dtype, view.device_id) == (t.data_ptr(), (3, 4), np.float32, 0)
    cai = type("CaiOnly", (), {"__cuda_array_interface__": t.__cuda_array_interface__})()
    assert as_device_view(cai).ptr == t.data_ptr()
    buffer, stream = cuda.DeviceBuffer(t.numel() * 4), cuda.Stream()
    try:
        shared = torch.as_tensor(DeviceArray(buffer.ptr, (3, 4), np.float32), device="cuda")
        assert shared.data_ptr() == buffer.ptr  # a view, not a copy
        shared.copy_(t * 10)
        torch.cuda.synchronize()
        out = np.empty((3, 4), np.float32)
        buffer.copy_to_host(out, stream)
        stream.synchronize()
        np.testing.assert_array_equal(out, np.arange(12, dtype=np.float32).reshape(3, 4) * 10)
    finally:
        cuda.close_all(buffer, stream)


def test_zoe_bench_times_the_pytorch_gpu_stages_with_cuda_events(torch, tmp_path):
    from zoe_export.cli.bench import main as bench

    code = bench(["--torch", "--variant", "test-N", "--random-weights", "--device", "cuda", "--batch-sizes", "1,2",
                  "--iters", "3", "--output", str(tmp_path)])
    assert code == 0
    (backend,) = json.loads((tmp_path / "result.json").read_text())["backends"]
    assert backend["error"] is None and backend["clock"] == "cuda-events" and backend["peak_gpu_mb"] > 0
    for batch in ("1", "2"):
        stages = backend["batches"][batch]["stages_ms"]
        assert {"preprocess", "h2d", "compute", "d2h", "postprocess"} <= set(stages)
        assert all(stages[s]["p50"] > 0 for s in ("h2d", "compute", "d2h"))
