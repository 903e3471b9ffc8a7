"""A thin, fully checked layer over cuda-python's runtime API (``cuda.bindings.runtime``).

cuda-python returns a tuple ``(err, *values)`` from every call; :func:`check` turns a failure into
a :class:`CudaError` (a :class:`ZoeExportError` naming the call, the CUDA error and, where one is
known, the fix) and returns the values. The classes own one CUDA resource each and free it in
``close()``, which is idempotent:

    stream = Stream()
    buf = DeviceBuffer(nbytes)
    buf.copy_from_host(array, stream)
    ...
    buf.close(); stream.close()

cuda-python is imported lazily by :func:`import_cudart` (the tests swap that function for a fake).
"""
from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..errors import ZoeExportError

if TYPE_CHECKING:  # the types the contract tests check our calls against
    from cuda.bindings import runtime as cudart

INSTALL_HINT = "pip install 'zoe-export[trt]' (it brings cuda-python), or pip install cuda-python"

#: stream handles that mean a default stream (legacy 0 and 1, per-thread 2): no graph capture on them
DEFAULT_STREAMS = (0, 1, 2)

_FIXES = {
    "cudaErrorMemoryAllocation": "the GPU is out of memory: use a smaller batch, or free GPU memory held elsewhere",
    "cudaErrorNoDevice": "no CUDA GPU is visible: check nvidia-smi and CUDA_VISIBLE_DEVICES",
    "cudaErrorInvalidDevice": "that GPU index does not exist: check nvidia-smi and CUDA_VISIBLE_DEVICES",
    "cudaErrorStreamCaptureUnsupported": "this engine cannot be captured in a CUDA graph: run it with cuda_graph=False",
    "cudaErrorStreamCaptureInvalidated": "this engine cannot be captured in a CUDA graph: run it with cuda_graph=False",
}


class CudaError(ZoeExportError):
    """A CUDA runtime call failed; ``code`` and ``error_name`` say how."""

    def __init__(self, message: str, code: int, error_name: str):
        super().__init__(message)
        self.code, self.error_name = code, error_name


def import_cudart():
    """cuda-python's runtime module (``cuda.bindings.runtime``; ``cuda.cudart`` before 12.6)."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime
        except ImportError as exc:
            raise ZoeExportError(f"cuda-python is not installed: {INSTALL_HINT}.") from exc
    return runtime


def check(result, what: str = "a CUDA call"):
    """Raise :class:`CudaError` unless ``result[0]`` is cudaSuccess; return the remaining value(s)."""
    if not isinstance(result, tuple):
        result = (result,)
    err, values = result[0], result[1:]
    if int(err) != 0:  # cudaSuccess; cudaError_t is an int enum
        raise _error(import_cudart(), err, what)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def _error(rt: cudart, err, what: str) -> CudaError:
    name = _text(rt.cudaGetErrorName(err), f"error {int(err)}")
    text = _text(rt.cudaGetErrorString(err), "")
    fix = _driver_fix(rt) if name == "cudaErrorInsufficientDriver" else _FIXES.get(name)
    message = f"{what} failed: {name}" + (f" ({text})" if text else "")
    message += f". {fix[0].upper()}{fix[1:]}." if fix else "."
    return CudaError(message, int(err), name)


def _driver_fix(rt: cudart) -> str:
    """cudaErrorInsufficientDriver means "no driver at all" as well as "a driver too old": say which."""
    err, driver = rt.cudaDriverGetVersion()  # not check(): this runs inside an error already
    runtime = rt.cudaRuntimeGetVersion()[1]
    if int(err) != 0 or not driver:
        return ("no NVIDIA driver is loaded on this machine (libcuda was not found): run on a machine with an NVIDIA "
                "GPU and its driver (nvidia-smi should list the GPU)")
    return (f"the NVIDIA driver supports CUDA {version_text(int(driver))}, older than this cuda-python's runtime "
            f"(CUDA {version_text(int(runtime or 0))}): update the driver, or install cuda-python for CUDA "
            f"{int(driver) // 1000}")


def _text(result, default: str) -> str:
    """The string of a (err, bytes) pair from cudaGetErrorName/String, or ``default``."""
    try:
        value = result[1]
    except (TypeError, IndexError):
        return default
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def stream_handle(stream) -> int:
    """The raw ``cudaStream_t`` of a stream object (ours, torch's, CuPy's, cuda-python's) or an int."""
    for attr in ("handle", "cuda_stream", "ptr"):  # Stream (ours), torch.cuda.Stream, cupy.cuda.Stream
        value = getattr(stream, attr, None)
        if value is not None:
            return int(value)
    try:
        return int(stream)  # int, cuda-python's cudaStream_t
    except (TypeError, ValueError) as exc:
        raise ZoeExportError(f"cannot use {stream!r} as a CUDA stream: pass an int handle, a torch.cuda.Stream, "
                             "a cupy.cuda.Stream or a cuda-python cudaStream_t.") from exc


# -- versions and devices ------------------------------------------------------------------------------
def driver_version() -> int:
    """The CUDA version the installed driver supports (12090 for 12.9); 0 when no driver is loaded."""
    return int(check(import_cudart().cudaDriverGetVersion(), "cudaDriverGetVersion"))


def runtime_version() -> int:
    """The CUDA version of cuda-python's runtime (13050 for 13.5)."""
    return int(check(import_cudart().cudaRuntimeGetVersion(), "cudaRuntimeGetVersion"))


def version_text(version: int) -> str:
    """CUDA's integer versions (12090) as text (12.9)."""
    return f"{version // 1000}.{version % 1000 // 10}"


class DeviceProperties(NamedTuple):
    name: str
    major: int
    minor: int
    total_memory: int = 0  # bytes

    @property
    def compute_capability(self) -> str:
        return f"{self.major}.{self.minor}"


def device_count() -> int:
    return int(check(import_cudart().cudaGetDeviceCount(), "cudaGetDeviceCount"))


def set_device(device: int) -> None:
    """Make ``device`` current, with a clear error when it does not exist."""
    count = device_count()
    if not 0 <= device < count:
        raise ZoeExportError(f"CUDA device {device} does not exist: this machine has {count} CUDA GPU(s) "
                             f"(0..{count - 1}); check nvidia-smi and CUDA_VISIBLE_DEVICES.")
    check(import_cudart().cudaSetDevice(device), f"cudaSetDevice({device})")


def device_properties(device: int = 0) -> DeviceProperties:
    """Name and compute capability of ``device`` (unpacks as ``name, major, minor``)."""
    props: cudart.cudaDeviceProp = check(import_cudart().cudaGetDeviceProperties(device),
                                         f"cudaGetDeviceProperties({device})")
    name = props.name
    if isinstance(name, bytes):
        name = name.split(b"\0", 1)[0].decode(errors="replace")
    return DeviceProperties(str(name).strip(), int(props.major), int(props.minor), int(props.totalGlobalMem))


# -- streams and events ------------------------------------------------------------------------------
class Stream:
    """A non-blocking CUDA stream (graph capture needs one that is not the default stream)."""

    def __init__(self):
        self._rt = import_cudart()
        self._stream = check(self._rt.cudaStreamCreateWithFlags(self._rt.cudaStreamNonBlocking),
                             "cudaStreamCreateWithFlags")

    @property
    def handle(self) -> int:
        return 0 if self._stream is None else int(self._stream)

    def synchronize(self) -> None:
        check(self._rt.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            check(self._rt.cudaStreamDestroy(stream), "cudaStreamDestroy")


def wait_stream(waiter: int, producer: int) -> None:
    """Order stream ``waiter`` after the work queued so far on ``producer`` (a temporary event)."""
    if waiter == producer:
        return
    rt = import_cudart()
    event = check(rt.cudaEventCreateWithFlags(rt.cudaEventDisableTiming), "cudaEventCreateWithFlags")
    try:
        check(rt.cudaEventRecord(event, producer), "cudaEventRecord")
        check(rt.cudaStreamWaitEvent(waiter, event, 0), "cudaStreamWaitEvent")
    finally:
        check(rt.cudaEventDestroy(event), "cudaEventDestroy")


class Event:
    """A timing event: ``record`` on a stream, then ``elapsed_ms`` between two (CUDA's own clock)."""

    def __init__(self):
        self._rt = import_cudart()
        self.handle = check(self._rt.cudaEventCreate(), "cudaEventCreate")

    def record(self, stream: int | Stream) -> None:
        check(self._rt.cudaEventRecord(self.handle, _raw(stream)), "cudaEventRecord")

    def elapsed_ms(self, end: "Event") -> float:
        check(self._rt.cudaEventSynchronize(end.handle), "cudaEventSynchronize")
        return float(check(self._rt.cudaEventElapsedTime(self.handle, end.handle), "cudaEventElapsedTime"))

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            check(self._rt.cudaEventDestroy(handle), "cudaEventDestroy")


def copy_to_host(ptr: int, array: np.ndarray, stream: int | Stream) -> None:
    """Queue a copy of ``array.nbytes`` from device address ``ptr`` into C-contiguous ``array``."""
    rt = import_cudart()
    check(rt.cudaMemcpyAsync(array.ctypes.data, int(ptr), array.nbytes, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                             _raw(stream)), "cudaMemcpyAsync (device to host)")


def memory_info() -> tuple[int, int]:
    """(free, total) bytes of the current GPU, from cudaMemGetInfo."""
    free, total = check(import_cudart().cudaMemGetInfo(), "cudaMemGetInfo")
    return int(free), int(total)


def memory_used_mb() -> float:
    """Device memory in use on the current GPU (all processes), from cudaMemGetInfo."""
    free, total = memory_info()
    return (total - free) / 2**20


# -- memory ------------------------------------------------------------------------------------------
class _Allocation:
    """Memory from a cudart allocator pair that grows on demand and is reused otherwise."""

    def __init__(self, nbytes: int = 0):
        self._rt = import_cudart()
        self.ptr, self.nbytes = 0, 0
        if nbytes:
            self.ensure(nbytes)

    def ensure(self, nbytes: int) -> bool:
        """Make room for ``nbytes``; True when that reallocated (the address changed)."""
        if nbytes <= self.nbytes and self.ptr:
            return False
        self.close()
        self.ptr = int(self._allocate(max(int(nbytes), 1)))
        self.nbytes = int(nbytes)
        return True

    def close(self) -> None:
        ptr, self.ptr, self.nbytes = self.ptr, 0, 0
        if ptr:
            self._free(ptr)

    def _allocate(self, nbytes: int) -> int:
        raise NotImplementedError

    def _free(self, ptr: int) -> None:
        raise NotImplementedError


class DeviceBuffer(_Allocation):
    """``cudaMalloc`` device memory."""

    def _allocate(self, nbytes: int) -> int:
        return check(self._rt.cudaMalloc(nbytes), f"cudaMalloc({nbytes} bytes)")

    def _free(self, ptr: int) -> None:
        check(self._rt.cudaFree(ptr), "cudaFree")

    def copy_from_host(self, array: np.ndarray, stream: int | Stream) -> None:
        """Queue a copy of C-contiguous ``array`` to this buffer on ``stream``."""
        self._check_fits(array)
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        check(self._rt.cudaMemcpyAsync(self.ptr, array.ctypes.data, array.nbytes, kind, _raw(stream)),
              "cudaMemcpyAsync (host to device)")

    def copy_to_host(self, array: np.ndarray, stream: int | Stream) -> None:
        """Queue a copy of this buffer's first ``array.nbytes`` into C-contiguous, writeable ``array``."""
        self._check_fits(array)
        if not array.flags.writeable:
            raise ValueError("copy_to_host needs a writeable array")
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        check(self._rt.cudaMemcpyAsync(array.ctypes.data, self.ptr, array.nbytes, kind, _raw(stream)),
              "cudaMemcpyAsync (device to host)")

    def _check_fits(self, array: np.ndarray) -> None:
        if not array.flags.c_contiguous:
            raise ValueError("host copies need a C-contiguous array (np.ascontiguousarray)")
        if array.nbytes > self.nbytes or not self.ptr:
            raise ValueError(f"{array.nbytes} bytes do not fit a device buffer of {self.nbytes} bytes")


class HostBuffer(_Allocation):
    """Page-locked host memory (``cudaMallocHost``) for fast, truly asynchronous copies."""

    def _allocate(self, nbytes: int) -> int:
        return check(self._rt.cudaMallocHost(nbytes), f"cudaMallocHost({nbytes} bytes)")

    def _free(self, ptr: int) -> None:
        check(self._rt.cudaFreeHost(ptr), "cudaFreeHost")

    def array(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """A numpy view of the start of this buffer (valid until the buffer grows or closes)."""
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize > self.nbytes:
            raise ValueError(f"{count * dtype.itemsize} bytes do not fit a host buffer of {self.nbytes} bytes")
        raw = (ctypes.c_uint8 * max(self.nbytes, 1)).from_address(self.ptr)
        return np.frombuffer(raw, dtype=dtype, count=count).reshape(shape)


# -- graphs --------------------------------------------------------------------------------------------
class CudaGraph:
    """A CUDA graph captured from the work ``fn`` queues on a stream, replayed with :meth:`launch`."""

    def __init__(self, stream: int | Stream, fn: Callable[[], None]):
        self._rt = import_cudart()
        self._graph = self._exec = None
        handle = _raw(stream)
        if int(handle) in DEFAULT_STREAMS:
            raise ZoeExportError("CUDA graphs cannot be captured on the default stream: pass a stream of your own "
                                 "(or stream=None), or turn cuda_graph off.")
        self._capture(handle, fn)
        try:
            self._exec = check(self._rt.cudaGraphInstantiate(self._graph, 0), "cudaGraphInstantiate")
        except BaseException:
            self.close()
            raise

    def _capture(self, stream, fn: Callable[[], None]) -> None:
        mode = self._rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        check(self._rt.cudaStreamBeginCapture(stream, mode), "cudaStreamBeginCapture")
        try:
            fn()
        except BaseException:
            ended = self._rt.cudaStreamEndCapture(stream)  # leave capture mode whatever happened; the error is fn's
            if int(ended[0]) == 0 and len(ended) > 1 and ended[1] is not None:
                self._graph = ended[1]
                self.close()
            raise
        self._graph = check(self._rt.cudaStreamEndCapture(stream), "cudaStreamEndCapture (CUDA graph capture)")

    def launch(self, stream: int | Stream) -> None:
        if self._exec is None:
            raise ZoeExportError("this CUDA graph was destroyed")
        check(self._rt.cudaGraphLaunch(self._exec, _raw(stream)), "cudaGraphLaunch")

    def close(self) -> None:
        graph_exec, self._exec = self._exec, None
        graph, self._graph = self._graph, None
        try:
            if graph_exec is not None:
                check(self._rt.cudaGraphExecDestroy(graph_exec), "cudaGraphExecDestroy")
        finally:
            if graph is not None:
                check(self._rt.cudaGraphDestroy(graph), "cudaGraphDestroy")


def _raw(stream):
    """What cuda-python takes for a stream argument: our Stream's own handle object, else the value."""
    if isinstance(stream, Stream):
        return stream._stream
    return stream


def close_all(*resources) -> None:
    """Close every resource (None skipped) even when one fails; raise the first failure afterwards."""
    first = None
    for resource in resources:
        if resource is None:
            continue
        try:
            resource.close()
        except Exception as exc:  # noqa: BLE001 - keep freeing the rest, report the first
            first = first or exc
    if first is not None:
        raise first
