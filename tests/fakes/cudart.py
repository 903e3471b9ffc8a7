"""A fake of cuda-python's runtime module (``cuda.bindings.runtime``) on host memory.

``FakeCudart`` returns what cuda-python returns: a tuple ``(err, *values)`` whose length is the
same on success and on failure (values are None then), counts every call, checks that device
pointers lie in memory it handed out, records work queued on a capturing stream into a graph
instead of running it, and fails on demand (``cudart.fail("cudaMalloc")``).
"""
from __future__ import annotations

import ctypes
import enum
import time
from collections import Counter


class cudaError_t(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorMemoryAllocation = 2
    cudaErrorInsufficientDriver = 35
    cudaErrorNoDevice = 100
    cudaErrorInvalidDevice = 101
    cudaErrorInvalidResourceHandle = 400
    cudaErrorNotReady = 600
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


for _enum in (cudaError_t, cudaMemcpyKind, cudaStreamCaptureMode):
    _enum.REAL = f"cudart.{_enum.__name__}"  # set after the class: in its body it would become a member

_ERROR_TEXT = {cudaError_t.cudaErrorMemoryAllocation: "out of memory",
               cudaError_t.cudaErrorInvalidValue: "invalid argument",
               cudaError_t.cudaErrorIllegalAddress: "an illegal memory access was encountered",
               cudaError_t.cudaErrorInsufficientDriver: "CUDA driver version is insufficient for CUDA runtime version"}


class Handle:
    """What cuda-python returns for streams, events and graphs: an object with ``__int__``."""

    REAL = "cudart.cudaStream_t"

    def __init__(self, value: int):
        self.value = value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"<fake handle {self.value:#x}>"


class DeviceProp:
    REAL = "cudart.cudaDeviceProp"
    name: bytes
    major: int
    minor: int
    totalGlobalMem: int

    def __init__(self, name: bytes, major: int, minor: int, total: int):
        self.name, self.major, self.minor, self.totalGlobalMem = name, major, minor, total


def _api(outputs: int):
    """A runtime function returning ``(err, *outputs values)``: counted, and failing when armed."""

    def decorate(fn):
        def wrapper(self, *args):
            self.calls[fn.__name__] += 1
            armed = self._failures.get(fn.__name__)
            if armed:
                code, skip = armed[0]
                if skip:
                    armed[0] = (code, skip - 1)
                else:
                    armed.pop(0)
                    return (code, *([None] * outputs))
            result = fn(self, *args)
            assert len(result) == 1 + outputs, f"fake {fn.__name__} returned {result!r}"
            return result

        wrapper.__name__ = wrapper.__qualname__ = fn.__name__
        wrapper.__wrapped__ = fn  # the contract reads the real arity from here
        wrapper.outputs = outputs
        return wrapper

    return decorate


class FakeCudart:
    """cuda-python's ``cuda.bindings.runtime``, on host memory, for one or more fake GPUs."""

    REAL = "cudart"
    FAKE_ONLY = frozenset({"fail", "adopt", "new_stream", "live", "is_device", "capturing", "queue", "calls",
                           "devices", "gpu_name", "capability", "current_device", "device_memory", "host_memory",
                           "external", "streams", "events", "graphs", "graph_execs", "launched", "driver",
                           "total_memory"})

    cudaError_t = cudaError_t
    cudaMemcpyKind = cudaMemcpyKind
    cudaStreamCaptureMode = cudaStreamCaptureMode
    cudaStreamNonBlocking = 1
    cudaEventDisableTiming = 2

    def __init__(self, devices: int = 1, gpu_name: bytes = b"Fake GPU\0\0", capability=(8, 9), driver: int = 12090):
        self.devices, self.gpu_name, self.capability, self.driver = devices, gpu_name, capability, driver
        self.total_memory = 16 * 2**30
        self.calls: Counter = Counter()
        self.current_device = 0
        self.device_memory: dict[int, ctypes.Array] = {}  # cudaMalloc'd
        self.host_memory: dict[int, ctypes.Array] = {}  # cudaMallocHost'd
        self.external: dict[int, tuple[int, object]] = {}  # "device" arrays the tests made: ptr -> (nbytes, owner)
        self.streams: dict[int, list | None] = {}  # handle -> captured work while capturing, else None
        self.events: dict[int, float | None] = {}  # handle -> the time its record ran
        self.graphs: dict[int, list] = {}
        self.graph_execs: dict[int, list] = {}
        self.launched = 0
        self._next = 0x1000
        self._failures: dict[str, list] = {}

    # -- test knobs ----------------------------------------------------------------------------
    def fail(self, name: str, code: cudaError_t = cudaError_t.cudaErrorMemoryAllocation, after: int = 0) -> None:
        """Make the next call of ``name`` (after ``after`` good ones) return ``code``."""
        self._failures.setdefault(name, []).append((code, after))

    def adopt(self, array) -> int:
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

    def queue(self, stream, work) -> cudaError_t:
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

    def _no_driver(self) -> bool:
        return self.driver == 0

    # -- errors, versions and devices ------------------------------------------------------------------
    @_api(outputs=1)
    def cudaGetErrorName(self, error):
        return cudaError_t.cudaSuccess, cudaError_t(error).name.encode()

    @_api(outputs=1)
    def cudaGetErrorString(self, error):
        return cudaError_t.cudaSuccess, _ERROR_TEXT.get(cudaError_t(error), "fake error").encode()

    @_api(outputs=1)
    def cudaDriverGetVersion(self):
        return cudaError_t.cudaSuccess, self.driver

    @_api(outputs=1)
    def cudaRuntimeGetVersion(self):
        return cudaError_t.cudaSuccess, 12090

    @_api(outputs=1)
    def cudaGetDeviceCount(self):
        if self._no_driver():
            return cudaError_t.cudaErrorInsufficientDriver, None
        return cudaError_t.cudaSuccess, self.devices

    @_api(outputs=0)
    def cudaSetDevice(self, device):
        if not 0 <= device < self.devices:
            return (cudaError_t.cudaErrorInvalidDevice,)
        self.current_device = device
        return (cudaError_t.cudaSuccess,)

    @_api(outputs=1)
    def cudaGetDeviceProperties(self, device):
        if not 0 <= device < self.devices:
            return cudaError_t.cudaErrorInvalidDevice, None
        return cudaError_t.cudaSuccess, DeviceProp(self.gpu_name, *self.capability, self.total_memory)

    # -- memory ------------------------------------------------------------------------------------
    @_api(outputs=1)
    def cudaMalloc(self, size):
        buf = (ctypes.c_uint8 * size)()
        self.device_memory[ctypes.addressof(buf)] = buf
        return cudaError_t.cudaSuccess, ctypes.addressof(buf)

    @_api(outputs=0)
    def cudaFree(self, devPtr):
        if self.device_memory.pop(int(devPtr), None) is None:
            return (cudaError_t.cudaErrorInvalidValue,)
        return (cudaError_t.cudaSuccess,)

    @_api(outputs=1)
    def cudaMallocHost(self, size):
        buf = (ctypes.c_uint8 * size)()
        self.host_memory[ctypes.addressof(buf)] = buf
        return cudaError_t.cudaSuccess, ctypes.addressof(buf)

    @_api(outputs=0)
    def cudaFreeHost(self, ptr):
        if self.host_memory.pop(int(ptr), None) is None:
            return (cudaError_t.cudaErrorInvalidValue,)
        return (cudaError_t.cudaSuccess,)

    @_api(outputs=2)
    def cudaMemGetInfo(self):
        used = sum(len(b) for b in self.device_memory.values())
        return cudaError_t.cudaSuccess, self.total_memory - used, self.total_memory

    @_api(outputs=0)
    def cudaMemcpyAsync(self, dst, src, count, kind, stream):
        kind = cudaMemcpyKind(kind)
        device_side = {cudaMemcpyKind.cudaMemcpyHostToDevice: [dst], cudaMemcpyKind.cudaMemcpyDeviceToHost: [src],
                       cudaMemcpyKind.cudaMemcpyDeviceToDevice: [dst, src]}.get(kind, [])
        if not all(self.is_device(int(p), count) for p in device_side):
            return (cudaError_t.cudaErrorInvalidValue,)
        return (self.queue(stream, lambda: ctypes.memmove(int(dst), int(src), count)),)

    # -- streams and events --------------------------------------------------------------------------
    @_api(outputs=1)
    def cudaStreamCreateWithFlags(self, flags):
        handle = self._handle()
        self.streams[handle] = None
        return cudaError_t.cudaSuccess, Handle(handle)

    @_api(outputs=0)
    def cudaStreamDestroy(self, stream):
        if int(stream) not in self.streams:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        del self.streams[int(stream)]
        return (cudaError_t.cudaSuccess,)

    @_api(outputs=0)
    def cudaStreamSynchronize(self, stream):
        if self.capturing(stream) is not None:
            return (cudaError_t.cudaErrorStreamCaptureUnsupported,)
        return (cudaError_t.cudaSuccess,)

    def _new_event(self):
        handle = self._handle()
        self.events[handle] = None
        return cudaError_t.cudaSuccess, Handle(handle)

    @_api(outputs=1)
    def cudaEventCreate(self):
        return self._new_event()

    @_api(outputs=1)
    def cudaEventCreateWithFlags(self, flags):
        return self._new_event()

    @_api(outputs=0)
    def cudaEventRecord(self, event, stream):
        handle = int(event)
        if handle not in self.events:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        return (self.queue(stream, lambda: self.events.__setitem__(handle, time.perf_counter())),)

    @_api(outputs=0)
    def cudaEventSynchronize(self, event):
        return (cudaError_t.cudaSuccess if int(event) in self.events else cudaError_t.cudaErrorInvalidResourceHandle,)

    @_api(outputs=1)
    def cudaEventElapsedTime(self, start, end):
        begin, finish = self.events.get(int(start)), self.events.get(int(end))
        if begin is None or finish is None:
            return cudaError_t.cudaErrorNotReady, None
        return cudaError_t.cudaSuccess, (finish - begin) * 1e3

    @_api(outputs=0)
    def cudaStreamWaitEvent(self, stream, event, flags):
        return (self.queue(stream, lambda: None),)

    @_api(outputs=0)
    def cudaEventDestroy(self, event):
        self.events.pop(int(event), None)
        return (cudaError_t.cudaSuccess,)

    # -- graphs ------------------------------------------------------------------------------------------
    @_api(outputs=0)
    def cudaStreamBeginCapture(self, stream, mode):
        handle = int(stream)
        if handle not in self.streams or self.streams[handle] is not None:
            return (cudaError_t.cudaErrorIllegalAddress,)
        self.streams[handle] = []
        return (cudaError_t.cudaSuccess,)

    @_api(outputs=1)
    def cudaStreamEndCapture(self, stream):
        work = self.streams.get(int(stream))
        if work is None:
            return cudaError_t.cudaErrorStreamCaptureInvalidated, None
        self.streams[int(stream)] = None
        handle = self._handle()
        self.graphs[handle] = work
        return cudaError_t.cudaSuccess, Handle(handle)

    @_api(outputs=1)
    def cudaGraphInstantiate(self, graph, flags):
        handle = self._handle()
        self.graph_execs[handle] = list(self.graphs[int(graph)])
        return cudaError_t.cudaSuccess, Handle(handle)

    @_api(outputs=0)
    def cudaGraphLaunch(self, graphExec, stream):
        work = self.graph_execs.get(int(graphExec))
        if work is None:
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        self.launched += 1
        for step in work:
            self.queue(stream, step)
        return (cudaError_t.cudaSuccess,)

    @_api(outputs=0)
    def cudaGraphExecDestroy(self, graphExec):
        self.graph_execs.pop(int(graphExec))
        return (cudaError_t.cudaSuccess,)

    @_api(outputs=0)
    def cudaGraphDestroy(self, graph):
        self.graphs.pop(int(graph))
        return (cudaError_t.cudaSuccess,)
