"""CUDA arrays as other libraries hand them to our runners: ``__cuda_array_interface__`` and DLPack."""
from __future__ import annotations

import ctypes
from types import SimpleNamespace

import numpy as np

from .cudart import FakeCudart


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


def read_device(cudart: FakeCudart, array) -> np.ndarray:
    """A copy of what a DeviceArray (or anything with the interface) points at."""
    cai = array.__cuda_array_interface__
    return device_numpy(cudart, cai["data"][0], cai["shape"], np.dtype(cai["typestr"])).copy()


def device_numpy(cudart: FakeCudart, ptr: int, shape, dtype) -> np.ndarray:
    """The numpy view of fake device memory at ``ptr`` (asserting it is device memory of that size)."""
    nbytes = int(np.prod(shape)) * dtype.itemsize
    assert cudart.is_device(ptr, nbytes), f"TensorRT was given {ptr:#x}, which is not device memory of {nbytes} bytes"
    return np.frombuffer((ctypes.c_uint8 * nbytes).from_address(ptr), dtype=dtype).reshape(shape)


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

