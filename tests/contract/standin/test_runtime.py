"""The runner, the environment probe and every cuda-python wrapper on the real bindings, with no driver and no GPU."""
import re

import numpy as np
import pytest
import tensorrt as trt
from contract import real_api
from contract.api_uses import scan

from zoe_export.errors import ZoeExportError
from zoe_export.runtime.trt_runner import TrtRunner, _make_logger
from zoe_export.trt import cuda, probe_environment
from zoe_export.trt.plan import Calibration, entropy_calibrator
from zoe_export.trt.progress import BuildProgress, tensorrt_monitor

NO_DRIVER = "cudaErrorInsufficientDriver.*No NVIDIA driver is loaded on this machine"


def test_a_runtime_tensorrt_cannot_make_is_one_error_line(monkeypatch):
    monkeypatch.setattr(cuda, "set_device", lambda device: None)  # as if a GPU were there: reach trt.Runtime
    with pytest.raises(ZoeExportError, match="^TensorRT could not create a runtime") as info:
        TrtRunner(b"engine").activate()
    assert isinstance(info.value.__cause__, TypeError) and "\n" not in str(info.value)


def test_our_subclasses_of_tensorrt_callbacks_construct_on_the_real_bases():
    logger = _make_logger()
    assert isinstance(logger, trt.ILogger)
    logger.log(trt.ILogger.Severity.ERROR, "engine plan incompatible")
    assert list(logger.errors) == ["engine plan incompatible"]
    progress = BuildProgress(bars=False)
    monitor = tensorrt_monitor(progress)
    assert isinstance(monitor, trt.IProgressMonitor) and monitor.step_complete("Building engine", 0) is True
    progress.cancelled = True
    assert monitor.step_complete("Building engine", 1) is False


def test_the_legacy_calibrator_is_real_on_tensorrt_10_and_refused_on_11(graphs, tmp_path):
    calibration = Calibration(graphs["calib"], "id", tmp_path / "calib.cache")
    if real_api.tensorrt_major() == 10:
        assert isinstance(entropy_calibrator(calibration), trt.IInt8EntropyCalibrator2)
    else:
        with pytest.raises(ZoeExportError, match="needs TensorRT 10; this is TensorRT 11"):
            entropy_calibrator(calibration)


def test_the_probe_finds_tensorrt_and_cuda_python_and_says_the_gpu_is_missing():
    env = probe_environment()
    assert env.tensorrt_version == trt.__version__ and env.cuda_python and env.gpu is None
    with pytest.raises(ZoeExportError, match="needs a CUDA GPU, which this machine lacks: run this on a machine with"):
        env.require()


# -- every wrapper of cuda-python, without a driver ------------------------------------------------------------------
def _opened(cls, **fields):
    """An instance as if its constructor had succeeded (to reach the methods behind it)."""
    obj = object.__new__(cls)
    obj._rt = cuda.import_cudart()
    for name, value in fields.items():
        setattr(obj, name, value)
    return obj


CALLS = {  # every function of ours that calls cuda-python (the scan below keeps this list complete)
    "driver_version": None,  # succeeds without a driver: 0 means none (checked below)
    "runtime_version": None,  # succeeds too: the CUDA version cuda-python was built for
    "device_count": lambda: cuda.device_count(),
    "set_device": lambda: cuda.set_device(0),
    "device_properties": lambda: cuda.device_properties(0),
    "Stream.__init__": lambda: cuda.Stream(),
    "Stream.synchronize": lambda: _opened(cuda.Stream, _stream=1).synchronize(),
    "Stream.close": lambda: _opened(cuda.Stream, _stream=1).close(),
    "wait_stream": lambda: cuda.wait_stream(1, 2),
    "Event.__init__": lambda: cuda.Event(),
    "Event.record": lambda: _opened(cuda.Event, handle=1).record(0),
    "Event.elapsed_ms": lambda: _opened(cuda.Event, handle=1).elapsed_ms(_opened(cuda.Event, handle=2)),
    "Event.close": lambda: _opened(cuda.Event, handle=1).close(),
    "copy_to_host": lambda: cuda.copy_to_host(1, np.zeros(4, np.float32), 0),
    "memory_info": lambda: cuda.memory_info(),
    "DeviceBuffer._allocate": lambda: cuda.DeviceBuffer(16),
    "DeviceBuffer._free": lambda: _opened(cuda.DeviceBuffer, ptr=1, nbytes=16).close(),
    "DeviceBuffer.copy_from_host": lambda: _opened(cuda.DeviceBuffer, ptr=1, nbytes=16).copy_from_host(
        np.zeros(4, np.float32), 0),
    "DeviceBuffer.copy_to_host": lambda: _opened(cuda.DeviceBuffer, ptr=1, nbytes=16).copy_to_host(
        np.zeros(4, np.float32), 0),
    "HostBuffer._allocate": lambda: cuda.HostBuffer(16),
    "HostBuffer._free": lambda: _opened(cuda.HostBuffer, ptr=1, nbytes=16).close(),
    "CudaGraph.__init__": lambda: cuda.CudaGraph(5, lambda: None),
    "CudaGraph._capture": lambda: _opened(cuda.CudaGraph, _graph=None, _exec=None)._capture(5, lambda: None),
    "CudaGraph.launch": lambda: _opened(cuda.CudaGraph, _graph=None, _exec=1).launch(5),
    "CudaGraph.close": lambda: _opened(cuda.CudaGraph, _graph=2, _exec=1).close(),
    "_error": None, "_driver_fix": None,  # the error path itself, run by every call above
}


def test_every_cuda_wrapper_turns_no_driver_into_our_error_never_a_type_error():
    scanned = {u.function for u in scan() if u.file.endswith("trt/cuda.py") and u.receiver.root == "cudart"}
    assert scanned == set(CALLS), f"functions of trt/cuda.py that call cuda-python, not listed here: " \
                                  f"{sorted(scanned - set(CALLS))}; listed but gone: {sorted(set(CALLS) - scanned)}"
    wrong = {}
    for name, call in CALLS.items():
        if call is None:
            continue
        try:
            call()
            wrong[name] = "no error"
        except cuda.CudaError as exc:
            if not re.search(NO_DRIVER, str(exc)):
                wrong[name] = str(exc)
        except Exception as exc:  # noqa: BLE001 - what must never escape is the point
            wrong[name] = f"{type(exc).__name__}: {exc}"
    assert not wrong, wrong
    assert cuda.driver_version() == 0 and cuda.runtime_version() > 0
