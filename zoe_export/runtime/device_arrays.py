"""GPU arrays in, GPU arrays out, without copies: ``__cuda_array_interface__`` and DLPack.

:func:`as_device_view` turns any CUDA array (torch, CuPy, JAX, Numba, ...) into a
:class:`DeviceView`: a raw pointer with shape, dtype and device. DLPack capsules are read with
ctypes and never consumed (not renamed): the capsule stays referenced in ``keepalive``, so the
producer frees its tensor only after the view is dropped. :class:`DeviceArray` goes the other way:
it exposes memory (a runner's output buffers) through ``__cuda_array_interface__`` v3, so
``torch.as_tensor(x, device="cuda")`` or ``cupy.asarray(x)`` see it without a copy.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np

from ..errors import ZoeExportError

KDL_CPU, KDL_CUDA, KDL_CUDA_HOST, KDL_CUDA_MANAGED = 1, 2, 3, 13
CUDA_DEVICE_TYPES = (KDL_CUDA, KDL_CUDA_MANAGED)
_DEVICE_NAMES = {KDL_CPU: "CPU", KDL_CUDA: "CUDA", KDL_CUDA_HOST: "CUDA host (pinned)", 4: "OpenCL", 7: "Vulkan",
                 8: "Metal", 10: "ROCm", KDL_CUDA_MANAGED: "CUDA managed"}
_DLPACK_READ_ONLY = 1  # DLPACK_FLAG_BITMASK_READ_ONLY in DLManagedTensorVersioned.flags

USE_HOST_PATH = ("use runner.infer() with numpy arrays for host memory, or move the tensor to the GPU first "
                 "(tensor.cuda() / cupy.asarray)")


@dataclass(frozen=True)
class DeviceView:
    """A borrowed view of device memory. ``strides`` are in bytes; None means C-contiguous."""

    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype
    strides: tuple[int, ...] | None = None
    device_id: int | None = 0  # None: the producer did not say
    keepalive: object = field(default=None, repr=False, compare=False)
    device_type: int = KDL_CUDA
    readonly: bool = False
    stream: int | None = None  # __cuda_array_interface__ v3: the producer's stream to order after

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def is_contiguous(self) -> bool:
        return self.strides is None or _is_c_contiguous(self.shape, self.strides, self.dtype.itemsize)


# -- DLPack, read with ctypes --------------------------------------------------------------------------
class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class _DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class _DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", _DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64), ("dl_tensor", _DLTensor)]


# Our own prototypes (not ctypes.pythonapi's shared ones, whose argtypes other code may set).
_capsule_get_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(("PyCapsule_GetName", ctypes.pythonapi))
_capsule_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))
_capsule_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi))

# (DLDataTypeCode, bits) -> numpy; codes: 0 int, 1 uint, 2 float, 4 bfloat, 5 complex, 6 bool
_DL_DTYPES = {(0, 8): np.int8, (0, 16): np.int16, (0, 32): np.int32, (0, 64): np.int64,
              (1, 8): np.uint8, (1, 16): np.uint16, (1, 32): np.uint32, (1, 64): np.uint64,
              (2, 16): np.float16, (2, 32): np.float32, (2, 64): np.float64,
              (5, 64): np.complex64, (5, 128): np.complex128, (6, 8): np.bool_}


def parse_dlpack_capsule(capsule) -> DeviceView:
    """Read a ``"dltensor"`` (or ``"dltensor_versioned"``) capsule into a view of any device.

    The capsule is not consumed: it stays unrenamed and is kept in ``keepalive``.
    """
    name = _capsule_name(capsule)
    if name == b"dltensor_versioned":
        managed = _DLManagedTensorVersioned.from_address(_capsule_get_pointer(capsule, name))
        tensor, readonly = managed.dl_tensor, bool(managed.flags & _DLPACK_READ_ONLY)
    elif name == b"dltensor":
        tensor, readonly = _DLManagedTensor.from_address(_capsule_get_pointer(capsule, name)).dl_tensor, False
    else:
        raise ZoeExportError(f"not a DLPack capsule (capsule name {name!r}); it may have been consumed already: "
                             "pass the array itself, not the result of __dlpack__() used elsewhere.")
    dtype = _dl_dtype(tensor.dtype)
    shape = tuple(int(tensor.shape[i]) for i in range(tensor.ndim))
    strides = None
    if tensor.strides:  # NULL means compact row-major
        strides = tuple(int(tensor.strides[i]) * dtype.itemsize for i in range(tensor.ndim))
    return DeviceView(ptr=(tensor.data or 0) + int(tensor.byte_offset), shape=shape, dtype=dtype, strides=strides,
                      device_id=int(tensor.device.device_id), keepalive=capsule,
                      device_type=int(tensor.device.device_type), readonly=readonly)


def _capsule_name(capsule) -> bytes | None:
    if type(capsule).__name__ != "PyCapsule":
        raise ZoeExportError(f"__dlpack__() returned {type(capsule).__name__}, not a DLPack capsule.")
    return _capsule_get_name(capsule)


def _dl_dtype(dl: _DLDataType) -> np.dtype:
    if dl.lanes != 1:
        raise ZoeExportError(f"DLPack vector dtypes (lanes={dl.lanes}) are not supported: pass a plain array.")
    dtype = _DL_DTYPES.get((dl.code, dl.bits))
    if dtype is None:
        kind = {4: "bfloat"}.get(dl.code, f"type code {dl.code}")
        raise ZoeExportError(f"DLPack dtype {kind}{dl.bits} has no numpy equivalent: convert the tensor to "
                             "float32/float16 first.")
    return np.dtype(dtype)


def is_dlpack_capsule_unconsumed(capsule) -> bool:
    """True while the capsule still carries its producer's name (nobody took ownership)."""
    name = _capsule_get_name(capsule)
    return name in (b"dltensor", b"dltensor_versioned") and bool(_capsule_is_valid(capsule, name))


def from_dlpack(obj, stream: int | None = None, *, what: str = "array") -> DeviceView:
    """A :class:`DeviceView` of a CUDA DLPack producer; host arrays are refused.

    ``stream`` is the consumer's stream, handed to ``__dlpack__`` so the producer orders its
    pending work before it (DLPack's protocol).
    """
    device_type, _ = (int(v) for v in obj.__dlpack_device__())
    if device_type not in CUDA_DEVICE_TYPES:
        where = _DEVICE_NAMES.get(device_type, f"device type {device_type}")
        raise ZoeExportError(f"{what}: {type(obj).__name__} lives in {where} memory, but run() takes CUDA arrays: "
                             f"{USE_HOST_PATH}.")
    if stream is None:
        capsule = obj.__dlpack__()
    else:
        try:
            capsule = obj.__dlpack__(stream=_dlpack_stream(stream))
        except TypeError:  # a producer from before DLPack's stream argument
            capsule = obj.__dlpack__()
    return parse_dlpack_capsule(capsule)


def _dlpack_stream(handle: int) -> int:
    """DLPack reserves 0 (ambiguous): the legacy default stream is 1."""
    return 1 if handle == 0 else handle


# -- __cuda_array_interface__ --------------------------------------------------------------------------
def from_cuda_array_interface(obj) -> DeviceView:
    """A :class:`DeviceView` of an object with ``__cuda_array_interface__`` (v2 or v3)."""
    cai = obj.__cuda_array_interface__
    try:
        ptr, readonly = cai["data"]
        shape = tuple(int(d) for d in cai["shape"])
        dtype = np.dtype(cai["typestr"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ZoeExportError(f"{type(obj).__name__} has a malformed __cuda_array_interface__ ({exc}).") from exc
    if cai.get("mask") is not None:
        raise ZoeExportError(f"{type(obj).__name__} is a masked array: pass plain (unmasked) device arrays.")
    strides = cai.get("strides")
    strides = None if strides is None else tuple(int(s) for s in strides)
    stream = cai.get("stream") if int(cai.get("version", 0)) >= 3 else None
    return DeviceView(ptr=int(ptr or 0), shape=shape, dtype=dtype, strides=strides, device_id=_cai_device(obj),
                      keepalive=obj, readonly=bool(readonly), stream=None if stream is None else int(stream))


def _cai_device(obj) -> int | None:
    """The device id the producer reports (torch, CuPy, our DeviceArray); None when it says nothing."""
    device = getattr(obj, "device", None)
    for attr in ("index", "id"):
        value = getattr(device, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


# -- the front door ------------------------------------------------------------------------------------
def as_device_view(obj, stream: int | None = None, *, what: str = "array") -> DeviceView:
    """A C-contiguous :class:`DeviceView` of a CUDA array, whatever its library; clear errors otherwise.

    DLPack comes first (torch and CuPy offer both): it passes ``stream``, the stream the memory
    will be used on, so the producer orders its pending work before it. Of
    ``__cuda_array_interface__`` producers only v3 ones say which stream to wait for (``view.stream``).
    """
    if isinstance(obj, DeviceView):
        view = obj
    elif hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__"):
        view = from_dlpack(obj, stream, what=what)  # first: DLPack hands the producer our stream to order its work
    elif hasattr(obj, "__cuda_array_interface__"):
        view = from_cuda_array_interface(obj)
    else:
        hint = USE_HOST_PATH if isinstance(obj, (np.ndarray, list, tuple)) else (
            "pass a CUDA array that has __cuda_array_interface__ or __dlpack__ (torch, CuPy, JAX, Numba)")
        raise ZoeExportError(f"{what}: {type(obj).__name__} is not a CUDA array: {hint}.")
    return require_contiguous(view, what)


def require_contiguous(view: DeviceView, what: str = "array") -> DeviceView:
    if not view.is_contiguous:
        raise ZoeExportError(f"{what} is not C-contiguous (shape {list(view.shape)}, byte strides "
                             f"{list(view.strides)}): TensorRT reads dense row-major memory. Pass "
                             "tensor.contiguous() / cupy.ascontiguousarray(x).")
    return view


def _is_c_contiguous(shape, strides, itemsize: int) -> bool:
    if 0 in shape:
        return True
    expected = itemsize
    for dim, stride in zip(reversed(shape), reversed(strides)):
        if dim != 1 and stride != expected:  # a size-1 dimension's stride is arbitrary
            return False
        expected *= dim
    return True


# -- outputs -------------------------------------------------------------------------------------------
class _Device:
    def __init__(self, index: int):
        self.index = self.id = index

    def __repr__(self) -> str:
        return f"cuda:{self.index}"


class DeviceArray:
    """Device memory shown through ``__cuda_array_interface__`` v3 (zero-copy for torch, CuPy, Numba).

    ``owner`` keeps the memory's owner alive. A runner's own output buffers are overwritten by its
    next call: copy what you keep (``torch.as_tensor(x, device="cuda").clone()``).
    """

    def __init__(self, ptr: int, shape: tuple[int, ...], dtype, device_id: int = 0, stream: int | None = None,
                 owner: object = None, readonly: bool = False):
        self.ptr, self.shape, self.dtype = int(ptr), tuple(int(d) for d in shape), np.dtype(dtype)
        self.device, self.stream, self.readonly, self._owner = _Device(device_id), stream, readonly, owner

    @property
    def device_id(self) -> int:
        return self.device.index

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def __cuda_array_interface__(self) -> dict:
        cai = {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ptr, self.readonly),
               "strides": None, "version": 3}
        if self.stream is not None:
            cai["stream"] = 1 if self.stream == 0 else self.stream  # 0 is disallowed; 1 is the legacy default stream
        return cai

    def view(self) -> DeviceView:
        return DeviceView(self.ptr, self.shape, self.dtype, None, self.device_id, keepalive=self, stream=self.stream)

    def __repr__(self) -> str:
        return (f"DeviceArray(shape={list(self.shape)}, dtype={self.dtype}, device=cuda:{self.device_id}, "
                f"ptr={self.ptr:#x})")
