"""Fakes of cuda-python's runtime and of TensorRT, just the APIs the TensorRT runner calls.

Host memory stands in for device memory. ``FakeCudart`` returns ``(err, *values)`` like
cuda-python, counts every call, checks that device pointers lie in memory it handed out, records
work queued on a capturing stream into a graph instead of running it, and fails on demand
(``cudart.fail("cudaMalloc")``). ``FakeTensorRT`` deserialises engines made by
:meth:`EngineSpec.serialize`: ``metric_depth = mean over channels of the image + 1``, shape
(B, 1, H, W), and optionally ``domain_logits = [mean of the image, -1]``, shape (B, 2).

    fakes = install(monkeypatch)          # TrtRunner now runs on the fakes
    runner = TrtRunner(EngineSpec().serialize())
"""
from __future__ import annotations

import ctypes
import enum
import json
from collections import Counter
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import numpy as np


# -- cuda-python -----------------------------------------------------------------------------------
class cudaError_t(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorNoDevice = 100
    cudaErrorInvalidDevice = 101
    cudaErrorInvalidResourceHandle = 400
    cudaErrorIllegalAddress = 700
    cudaErrorStreamCaptureUnsupported = 900
    cudaErrorStreamCaptureInvalidated = 901


class cudaMemcpyKind(enum.IntEnum):
    cudaMemcpyHostToHost = 0
    cudaMemcpyHostToDevice = 1
    cudaMemcpyDeviceToHost = 2
    cudaMemcpyDeviceToDevice = 3
    cudaMemcpyDefault = 4


class cudaStreamCaptureMode(enum.IntEnum):
    cudaStreamCaptureModeGlobal = 0
    cudaStreamCaptureModeThreadLocal = 1
    cudaStreamCaptureModeRelaxed = 2


_ERROR_TEXT = {cudaError_t.cudaErrorMemoryAllocation: "out of memory",
               cudaError_t.cudaErrorInvalidValue: "invalid argument",
               cudaError_t.cudaErrorIllegalAddress: "an illegal memory access was encountered"}


class _Handle:
    """What cuda-python returns for streams, events and graphs: an object with ``__int__``."""

    def __init__(self, value: int):
        self.value = value

    def __int__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"<fake handle {self.value:#x}>"


class _Props:
    def __init__(self, name: bytes, major: int, minor: int):
        self.name, self.major, self.minor = name, major, minor


def _api(fn):
    """Count the call and return an injected error instead of running it, when one is armed."""
    def wrapper(self, *args):
        self.calls[fn.__name__] += 1
        armed = self._failures.get(fn.__name__)
        if armed:
            code, skip = armed[0]
            if skip:
                armed[0] = (code, skip - 1)
            else:
                armed.pop(0)
                return (code,)
        return fn(self, *args)

    wrapper.__name__ = fn.__name__
    return wrapper


class FakeCudart:
    """cuda-python's ``cuda.bindings.runtime``, on host memory, for one or more fake GPUs."""

    cudaError_t = cudaError_t
    cudaMemcpyKind = cudaMemcpyKind
    cudaStreamCaptureMode = cudaStreamCaptureMode
    cudaStreamNonBlocking = 1
    cudaEventDisableTiming = 2

    def __init__(self, devices: int = 1, gpu_name: bytes = b"Fake GPU\0\0", capability=(8, 9)):
        self.devices, self.gpu_name, self.capability = devices, gpu_name, capability
        self.calls: Counter = Counter()
        self.current_device = 0
        self.device_memory: dict[int, ctypes.Array] = {}  # cudaMalloc'd
        self.host_memory: dict[int, ctypes.Array] = {}  # cudaMallocHost'd
        self.external: dict[int, tuple[int, object]] = {}  # "device" arrays the tests made: ptr -> (nbytes, owner)
        self.streams: dict[int, list | None] = {}  # handle -> captured work while capturing, else None
        self.events: set[int] = set()
        self.graphs: dict[int, list] = {}
        self.graph_execs: dict[int, list] = {}
        self.launched = 0
        self._next = 0x1000
        self._failures: dict[str, list] = {}

    # -- test knobs ----------------------------------------------------------------------------
    def fail(self, name: str, code: cudaError_t = cudaError_t.cudaErrorMemoryAllocation, after: int = 0) -> None:
        """Make the next call of ``name`` (after ``after`` good ones) return ``code``."""
        self._failures.setdefault(name, []).append((code, after))

    def adopt(self, array: np.ndarray) -> int:
        """Treat ``array``'s memory as device memory (for fake CUDA arrays); returns its pointer."""
        self.external[array.ctypes.data] = (max(array.nbytes, 1), array)
        return array.ctypes.data

    def new_stream(self) -> int:
        """A stream the caller owns (as torch's or CuPy's would be)."""
        return int(self.cudaStreamCreateWithFlags(self.cudaStreamNonBlocking)[1])

    @property
    def live(self) -> dict[str, int]:
        """What is allocated now and not freed."""
        return {"device": len(self.device_memory), "host": len(self.host_memory), "streams": len(self.streams),
                "events": len(self.events), "graphs": len(self.graphs), "graph_execs": len(self.graph_execs)}

    def is_device(self, ptr: int, nbytes: int) -> bool:
        for base, buf in self.device_memory.items():
            if base <= ptr and ptr + nbytes <= base + len(buf):
                return True
        return any(base <= ptr and ptr + nbytes <= base + size for base, (size, _) in self.external.items())

    def capturing(self, stream) -> list | None:
        return self.streams.get(int(stream)) if stream is not None else None

    def queue(self, stream, work) -> int:
        """Run ``work`` now, or record it when ``stream`` is capturing; returns an error code."""
        handle = 0 if stream is None else int(stream)
        if handle not in (0, 1, 2) and handle not in self.streams:
            return cudaError_t.cudaErrorInvalidResourceHandle
        captured = self.streams.get(handle)
        if captured is not None:
            captured.append(work)
        else:
            work()
        return cudaError_t.cudaSuccess

    def _handle(self) -> int:
        self._next += 0x100
        return self._next

    # -- errors and devices ----------------------------------------------------------------------
    def cudaGetErrorName(self, err):
        return cudaError_t.cudaSuccess, cudaError_t(err).name.encode()

    def cudaGetErrorString(self, err):
        return cudaError_t.cudaSuccess, _ERROR_TEXT.get(cudaError_t(err), "fake error").encode()

    @_api
    def cudaGetDeviceCount(self):
        return cudaError_t.cudaSuccess, self.devices

    @_api
    def cudaSetDevice(self, device):
        if not 0 <= device < self.devices:
            return (cudaError_t.cudaErrorInvalidDevice,)
        self.current_device = device
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaGetDeviceProperties(self, device):
        if not 0 <= device < self.devices:
            return cudaError_t.cudaErrorInvalidDevice, None
        return cudaError_t.cudaSuccess, _Props(self.gpu_name, *self.capability)

    # -- memory ------------------------------------------------------------------------------------
    @_api
    def cudaMalloc(self, nbytes):
        buf = (ctypes.c_uint8 * nbytes)()
        self.device_memory[ctypes.addressof(buf)] = buf
        return cudaError_t.cudaSuccess, ctypes.addressof(buf)

    @_api
    def cudaFree(self, ptr):
        if self.device_memory.pop(int(ptr), None) is None:
            return (cudaError_t.cudaErrorInvalidValue,)
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaMallocHost(self, nbytes):
        buf = (ctypes.c_uint8 * nbytes)()
        self.host_memory[ctypes.addressof(buf)] = buf
        return cudaError_t.cudaSuccess, ctypes.addressof(buf)

    @_api
    def cudaFreeHost(self, ptr):
        if self.host_memory.pop(int(ptr), None) is None:
            return (cudaError_t.cudaErrorInvalidValue,)
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaMemcpyAsync(self, dst, src, nbytes, kind, stream):
        kind = cudaMemcpyKind(kind)
        device_side = {cudaMemcpyKind.cudaMemcpyHostToDevice: [dst], cudaMemcpyKind.cudaMemcpyDeviceToHost: [src],
                       cudaMemcpyKind.cudaMemcpyDeviceToDevice: [dst, src]}.get(kind, [])
        if not all(self.is_device(int(p), nbytes) for p in device_side):
            return (cudaError_t.cudaErrorInvalidValue,)
        return (self.queue(stream, lambda: ctypes.memmove(int(dst), int(src), nbytes)),)

    # -- streams and events --------------------------------------------------------------------------
    @_api
    def cudaStreamCreateWithFlags(self, flags):
        handle = self._handle()
        self.streams[handle] = None
        return cudaError_t.cudaSuccess, _Handle(handle)

    @_api
    def cudaStreamDestroy(self, stream):
        if int(stream) not in self.streams:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        del self.streams[int(stream)]
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaStreamSynchronize(self, stream):
        if self.capturing(stream) is not None:
            return (cudaError_t.cudaErrorStreamCaptureUnsupported,)
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaEventCreateWithFlags(self, flags):
        handle = self._handle()
        self.events.add(handle)
        return cudaError_t.cudaSuccess, _Handle(handle)

    @_api
    def cudaEventRecord(self, event, stream):
        return (self.queue(stream, lambda: None),)

    @_api
    def cudaStreamWaitEvent(self, stream, event, flags):
        return (self.queue(stream, lambda: None),)

    @_api
    def cudaEventDestroy(self, event):
        self.events.discard(int(event))
        return (cudaError_t.cudaSuccess,)

    # -- graphs ------------------------------------------------------------------------------------------
    @_api
    def cudaStreamBeginCapture(self, stream, mode):
        handle = int(stream)
        if handle not in self.streams or self.streams[handle] is not None:
            return (cudaError_t.cudaErrorIllegalAddress,)
        self.streams[handle] = []
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaStreamEndCapture(self, stream):
        work = self.streams.get(int(stream))
        if work is None:
            return cudaError_t.cudaErrorStreamCaptureInvalidated, None
        self.streams[int(stream)] = None
        handle = self._handle()
        self.graphs[handle] = work
        return cudaError_t.cudaSuccess, _Handle(handle)

    @_api
    def cudaGraphInstantiate(self, graph, flags):
        handle = self._handle()
        self.graph_execs[handle] = list(self.graphs[int(graph)])
        return cudaError_t.cudaSuccess, _Handle(handle)

    @_api
    def cudaGraphLaunch(self, graph_exec, stream):
        work = self.graph_execs.get(int(graph_exec))
        if work is None:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        self.launched += 1
        for step in work:
            self.queue(stream, step)
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaGraphExecDestroy(self, graph_exec):
        self.graph_execs.pop(int(graph_exec))
        return (cudaError_t.cudaSuccess,)

    @_api
    def cudaGraphDestroy(self, graph):
        self.graphs.pop(int(graph))
        return (cudaError_t.cudaSuccess,)


# -- TensorRT ----------------------------------------------------------------------------------------
class Severity(enum.Enum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    BF16 = 7


_DTYPES = {np.dtype(np.float32): DataType.FLOAT, np.dtype(np.float16): DataType.HALF}


class ILogger:
    Severity = Severity

    def __init__(self):
        self._initialised = True


@dataclass
class EngineSpec:
    """The engine a fake ``deserialize_cuda_engine`` returns. ``batch`` None: a static batch of 1."""

    height: int = 4
    width: int = 6
    channels: int = 3
    batch: tuple[int, int, int] | None = (1, 2, 4)  # min, opt, max
    dtype: str = "float32"
    domain_logits: bool = False

    def serialize(self) -> bytes:
        return b"FAKE-TRT-ENGINE" + json.dumps(asdict(self)).encode()

    @classmethod
    def parse(cls, data: bytes) -> EngineSpec | None:
        data = bytes(data)
        if not data.startswith(b"FAKE-TRT-ENGINE"):
            return None
        fields = json.loads(data[len(b"FAKE-TRT-ENGINE"):])
        fields["batch"] = tuple(fields["batch"]) if fields["batch"] else None
        return cls(**fields)

    def input_shape(self, batch: int) -> tuple[int, ...]:
        return batch, self.channels, self.height, self.width

    def output_shapes(self, batch: int) -> dict[str, tuple[int, ...]]:
        shapes = {"metric_depth": (batch, 1, self.height, self.width)}
        if self.domain_logits:
            shapes["domain_logits"] = (batch, 2)
        return shapes


class FakeEngine:
    def __init__(self, trt: FakeTensorRT, spec: EngineSpec):
        self.trt, self.spec = trt, spec
        self.names = ["image", *spec.output_shapes(1)]

    @property
    def num_io_tensors(self) -> int:
        return len(self.names)

    def get_tensor_name(self, index: int) -> str:
        return self.names[index]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return TensorIOMode.INPUT if name == "image" else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> DataType:
        return _DTYPES[np.dtype(self.spec.dtype)]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        batch = -1 if self.spec.batch else 1
        return self.spec.input_shape(batch) if name == "image" else self.spec.output_shapes(batch)[name]

    def get_tensor_profile_shape(self, name: str, profile: int):
        self.trt.calls["get_tensor_profile_shape"] += 1
        assert name == "image" and profile == 0 and self.spec.batch, "profile asked for a static or non-input tensor"
        return [self.spec.input_shape(b) for b in self.spec.batch]

    def create_execution_context(self):
        self.trt.calls["create_execution_context"] += 1
        return None if self.trt.fail_context else FakeContext(self.trt, self)


class FakeContext:
    def __init__(self, trt: FakeTensorRT, engine: FakeEngine):
        self.trt, self.engine, self.spec = trt, engine, engine.spec
        self.batch = None if self.spec.batch else 1
        self.addresses: dict[str, int] = {}

    def set_input_shape(self, name: str, shape) -> bool:
        self.trt.calls["set_input_shape"] += 1
        shape = tuple(shape)
        low, _, high = self.spec.batch or (1, 1, 1)
        if self.trt.fail_set_input_shape or name != "image" or shape[1:] != self.spec.input_shape(0)[1:] \
                or not low <= shape[0] <= high:
            self.trt.logger.log(Severity.ERROR, f"setInputShape: {name} {shape} is not in the profile")
            return False
        self.batch = shape[0]
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        batch = -1 if self.batch is None else self.batch
        return self.spec.input_shape(batch) if name == "image" else self.spec.output_shapes(batch)[name]

    def set_tensor_address(self, name: str, ptr: int) -> bool:
        self.trt.calls["set_tensor_address"] += 1
        if self.trt.fail_set_tensor_address or name not in self.engine.names:
            return False
        self.addresses[name] = int(ptr)
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        self.trt.calls["execute_async_v3"] += 1
        capturing = self.trt.cudart.capturing(stream_handle) is not None
        if capturing:
            self.trt.calls["execute_async_v3 (captured)"] += 1
        if self.trt.fail_execute or self.batch is None or set(self.addresses) != set(self.engine.names):
            return False
        if capturing and self.trt.fail_capture:
            return False
        work = self._work(self.batch, dict(self.addresses))  # a graph bakes in shapes and addresses
        return self.trt.cudart.queue(stream_handle, work) == cudaError_t.cudaSuccess

    def _work(self, batch: int, addresses: dict[str, int]):
        dtype = np.dtype(self.spec.dtype)
        image_shape, out_shapes = self.spec.input_shape(batch), self.spec.output_shapes(batch)

        def run():
            image = _device_array(self.trt.cudart, addresses["image"], image_shape, dtype).astype(np.float32)
            depth = _device_array(self.trt.cudart, addresses["metric_depth"], out_shapes["metric_depth"], dtype)
            depth[...] = image.mean(axis=1, keepdims=True) + 1
            if "domain_logits" in out_shapes:
                logits = _device_array(self.trt.cudart, addresses["domain_logits"], out_shapes["domain_logits"], dtype)
                logits[:, 0] = image.reshape(batch, -1).mean(axis=1)
                logits[:, 1] = -1
            self.trt.calls["kernels run"] += 1

        return run


def _device_array(cudart: FakeCudart, ptr: int, shape, dtype) -> np.ndarray:
    nbytes = int(np.prod(shape)) * dtype.itemsize
    assert cudart.is_device(ptr, nbytes), f"TensorRT was given {ptr:#x}, which is not device memory of {nbytes} bytes"
    return np.frombuffer((ctypes.c_uint8 * nbytes).from_address(ptr), dtype=dtype).reshape(shape)


class FakeRuntime:
    def __init__(self, trt: FakeTensorRT, logger):
        assert getattr(logger, "_initialised", False), "the logger must call trt.ILogger.__init__(self)"
        self.trt = trt
        trt.logger = logger

    def deserialize_cuda_engine(self, data):
        self.trt.calls["deserialize_cuda_engine"] += 1
        spec = EngineSpec.parse(data)
        if spec is None:
            self.trt.logger.log(Severity.ERROR, "The engine plan file is not compatible with this version of TensorRT")
            return None
        return FakeEngine(self.trt, spec)


class FakeTensorRT:
    """The ``tensorrt`` module, as far as the runner uses it."""

    __version__ = "10.99.0"
    ILogger = ILogger
    TensorIOMode = TensorIOMode
    DataType = DataType

    def __init__(self, cudart: FakeCudart):
        self.cudart = cudart
        self.calls: Counter = Counter()
        self.logger = None
        self.fail_context = self.fail_set_input_shape = self.fail_set_tensor_address = False
        self.fail_execute = self.fail_capture = False

    def Runtime(self, logger):
        self.calls["Runtime"] += 1
        return FakeRuntime(self, logger)


# -- CUDA arrays the tests hand to run() ---------------------------------------------------------------
class FakeCudaArray:
    """A "device" array (host memory the fake cudart accepts) with ``__cuda_array_interface__``."""

    def __init__(self, cudart: FakeCudart, array: np.ndarray, version: int = 3, stream: int | None = None,
                 readonly: bool = False, device: int | None = None):
        self.array = np.ascontiguousarray(array)
        self.ptr = cudart.adopt(self.array)
        self.version, self.stream, self.readonly = version, stream, readonly
        if device is not None:
            self.device = SimpleNamespace(index=device)

    @property
    def __cuda_array_interface__(self) -> dict:
        cai = {"shape": self.array.shape, "typestr": self.array.dtype.str, "data": (self.ptr, self.readonly),
               "strides": None, "version": self.version}
        if self.version >= 3:
            cai["stream"] = self.stream
        return cai

    def get(self) -> np.ndarray:
        return self.array.copy()


def read_device(cudart: FakeCudart, device_array) -> np.ndarray:
    """A copy of what a DeviceArray (or anything with the interface) points at."""
    cai = device_array.__cuda_array_interface__
    return _device_array(cudart, cai["data"][0], cai["shape"], np.dtype(cai["typestr"])).copy()


def install(monkeypatch, devices: int = 1) -> SimpleNamespace:
    """Point the runner's lazy imports at fresh fakes; returns them (``.cudart``, ``.trt``)."""
    from zoe_export.runtime import cuda, trt_runner

    cudart = FakeCudart(devices)
    trt = FakeTensorRT(cudart)
    monkeypatch.setattr(cuda, "import_cudart", lambda: cudart)
    monkeypatch.setattr(trt_runner, "_import_tensorrt", lambda: trt)
    return SimpleNamespace(cudart=cudart, trt=trt)


# -- hand-made DLPack capsules (a CUDA producer, byte offsets) ---------------------------------------------
_CAPSULE_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_capsule_new = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, _CAPSULE_DESTRUCTOR)(
    ("PyCapsule_New", ctypes.pythonapi))
_capsule_name_of = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p)(("PyCapsule_GetName", ctypes.pythonapi))
_DLTENSOR = ctypes.c_char_p(b"dltensor")


class DLPackProducer:
    """An array-like that exports ``base`` over DLPack as any device, with a chosen byte offset.

    ``destroyed`` lists the capsule name each exported capsule had when it was freed: "dltensor"
    means nobody consumed (renamed) it, as a borrowing consumer must leave it.
    """

    def __init__(self, base: np.ndarray, device_type: int = 2, device_id: int = 0, byte_offset: int = 0,
                 shape=None, strides=None, dl_dtype=None):
        from zoe_export.runtime import device_arrays as da

        self.base, self.device_type, self.device_id = base, device_type, device_id
        self.destroyed: list[bytes] = []
        shape = tuple(base.shape if shape is None else shape)
        self._shape = (ctypes.c_int64 * len(shape))(*shape)
        self._strides = None if strides is None else (ctypes.c_int64 * len(strides))(*strides)
        code, bits = dl_dtype or _dl_code(base.dtype)
        self._managed = da._DLManagedTensor()
        t = self._managed.dl_tensor
        t.data, t.byte_offset, t.ndim = base.ctypes.data, byte_offset, len(shape)
        t.device.device_type, t.device.device_id = device_type, device_id
        t.dtype.code, t.dtype.bits, t.dtype.lanes = code, bits, 1
        t.shape = self._shape
        t.strides = None if self._strides is None else ctypes.cast(self._strides, ctypes.POINTER(ctypes.c_int64))
        self._destructor = _CAPSULE_DESTRUCTOR(self._on_destroy)
        self.streams: list = []

    def _on_destroy(self, capsule_ptr) -> None:
        self.destroyed.append(_capsule_name_of(capsule_ptr))

    def __dlpack_device__(self):
        return self.device_type, self.device_id

    def __dlpack__(self, stream=None):
        self.streams.append(stream)
        return _capsule_new(ctypes.addressof(self._managed), _DLTENSOR, self._destructor)


def _dl_code(dtype) -> tuple[int, int]:
    dtype = np.dtype(dtype)
    code = {"i": 0, "u": 1, "f": 2, "b": 6, "c": 5}[dtype.kind]
    return code, dtype.itemsize * 8
