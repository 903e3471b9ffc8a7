"""DeviceView from DLPack (parsed with ctypes, tested on numpy and hand-made capsules) and from
``__cuda_array_interface__``; DeviceArray's interface for outputs."""
import gc

import numpy as np
import pytest
from fakes.arrays import DLPackProducer

from zoe_export.errors import ZoeExportError
from zoe_export.runtime.device_arrays import (
    KDL_CPU,
    KDL_CUDA,
    DeviceArray,
    DeviceView,
    as_device_view,
    from_cuda_array_interface,
    is_dlpack_capsule_unconsumed,
    parse_dlpack_capsule,
    require_contiguous,
)


# -- DLPack on numpy (CPU) ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8, np.int64, np.bool_])
def test_dlpack_dtypes_and_shape(dtype):
    array = np.arange(24).reshape(2, 3, 4).astype(dtype)
    capsule = array.__dlpack__()
    view = parse_dlpack_capsule(capsule)
    assert (view.ptr, view.shape, view.dtype) == (array.ctypes.data, (2, 3, 4), np.dtype(dtype))
    assert view.device_type == KDL_CPU and view.device_id == 0 and view.is_contiguous
    assert view.strides in (None, array.strides) and view.nbytes == array.nbytes
    assert view.keepalive is capsule and is_dlpack_capsule_unconsumed(capsule)


def test_dlpack_offsets_and_strides_of_numpy_views():
    array = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    rows = parse_dlpack_capsule(array[1:].__dlpack__())
    assert rows.ptr == array[1:].ctypes.data == array.ctypes.data + 80 and rows.is_contiguous
    columns = parse_dlpack_capsule(array[:, :, 1::2].__dlpack__())
    assert columns.ptr == array.ctypes.data + 4 and columns.strides == (80, 20, 8) and not columns.is_contiguous
    with pytest.raises(ZoeExportError, match=r"input 'x' is not C-contiguous \(shape \[3, 4, 2\], byte strides "
                                             r"\[80, 20, 8\]\).*tensor.contiguous\(\)"):
        require_contiguous(columns, "input 'x'")
    assert not parse_dlpack_capsule(array.transpose(2, 0, 1).__dlpack__()).is_contiguous
    assert not parse_dlpack_capsule(array[:, :1].__dlpack__()).is_contiguous
    expanded = array[0][:, None, :]  # shape (4, 1, 5), the size-1 dimension's stride is arbitrary
    assert parse_dlpack_capsule(expanded.__dlpack__()).is_contiguous


def test_dlpack_versioned_capsule():
    array = np.ones((2, 2), np.float16)
    try:
        capsule = array.__dlpack__(max_version=(1, 0))
    except TypeError:
        pytest.skip("this numpy has no DLPack 1.0")
    view = parse_dlpack_capsule(capsule)
    assert view.shape == (2, 2) and view.dtype == np.float16 and view.ptr == array.ctypes.data
    assert view.readonly is False
    array.flags.writeable = False
    assert parse_dlpack_capsule(array.__dlpack__(max_version=(1, 0))).readonly is True


def test_cpu_arrays_are_refused_for_the_device_path():
    with pytest.raises(ZoeExportError, match=r"input 'image': ndarray lives in CPU memory, but run\(\) takes CUDA "
                                             r"arrays: use runner.infer\(\) with numpy arrays .* move the tensor to "
                                             r"the GPU"):
        as_device_view(np.zeros((1, 3, 4, 4), np.float32), what="input 'image'")


def test_not_an_array():
    with pytest.raises(ZoeExportError, match=r"dict is not a CUDA array: pass a CUDA array that has "
                                             r"__cuda_array_interface__ or __dlpack__"):
        as_device_view({})


# -- hand-made DLPack producers (CUDA device, byte_offset, ownership) ---------------------------------------
def test_dlpack_cuda_producer_with_byte_offset():
    base = np.arange(40, dtype=np.float32)
    producer = DLPackProducer(base, device_type=KDL_CUDA, device_id=1, byte_offset=16, shape=(2, 3, 6))
    view = as_device_view(producer, stream=0x1234)
    assert view.ptr == base.ctypes.data + 16 and view.shape == (2, 3, 6) and view.device_id == 1
    assert view.device_type == KDL_CUDA and view.strides is None and view.dtype == np.float32
    assert producer.streams == [0x1234]  # the consumer's stream goes to the producer


def test_dlpack_default_stream_zero_is_passed_as_one():
    producer = DLPackProducer(np.zeros(4, np.float32))
    as_device_view(producer, stream=0)
    assert producer.streams == [1]  # DLPack reserves 0; 1 is the legacy default stream


def test_dlpack_managed_memory_and_explicit_strides():
    base = np.zeros((2, 3), np.float32)
    contiguous = as_device_view(DLPackProducer(base, device_type=13, strides=(3, 1)))
    assert contiguous.strides == (12, 4)
    with pytest.raises(ZoeExportError, match="not C-contiguous"):
        as_device_view(DLPackProducer(base, device_type=13, shape=(3, 2), strides=(1, 3)))


def test_dlpack_capsule_is_borrowed_not_consumed():
    producer = DLPackProducer(np.zeros(8, np.float32))
    view = as_device_view(producer)
    capsule = view.keepalive
    assert is_dlpack_capsule_unconsumed(capsule)
    del capsule
    gc.collect()
    assert producer.destroyed == []  # the view keeps the capsule (and so the tensor) alive
    del view
    gc.collect()
    assert producer.destroyed == [b"dltensor"]  # freed by its producer, never renamed


@pytest.mark.parametrize("dl_dtype,match", [((4, 16), "bfloat16 has no numpy equivalent"),
                                            ((2, 8), "type code 2")])
def test_dlpack_unsupported_dtypes(dl_dtype, match):
    with pytest.raises(ZoeExportError, match=match):
        as_device_view(DLPackProducer(np.zeros(4, np.uint16), dl_dtype=dl_dtype))


def test_a_consumed_capsule_is_refused():
    import ctypes

    capsule = np.zeros(3).__dlpack__()
    rename = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(("PyCapsule_SetName", ctypes.pythonapi))
    name = ctypes.c_char_p(b"used_dltensor")
    rename(capsule, name)
    with pytest.raises(ZoeExportError, match="not a DLPack capsule .* consumed already"):
        parse_dlpack_capsule(capsule)
    rename(capsule, ctypes.c_char_p(b"dltensor"))  # let numpy's destructor free it


# -- __cuda_array_interface__ ------------------------------------------------------------------------------
class Cai:
    def __init__(self, **fields):
        self.__cuda_array_interface__ = {"shape": (2, 3), "typestr": "<f2", "data": (0x7000, False), "version": 2,
                                         **fields}


def test_cuda_array_interface_v2():
    view = as_device_view(Cai(strides=None))
    assert view == DeviceView(0x7000, (2, 3), np.dtype(np.float16), None, None)
    assert view.stream is None and not view.readonly


def test_cuda_array_interface_v3_readonly_stream_and_device():
    obj = Cai(version=3, stream=7, data=(0x8000, True), typestr="|u1", strides=(3, 1))
    obj.device = type("Device", (), {"index": 1})()
    view = as_device_view(obj)
    assert (view.ptr, view.dtype, view.readonly, view.stream, view.device_id) == (0x8000, np.uint8, True, 7, 1)
    assert view.strides == (3, 1) and view.is_contiguous and view.keepalive is obj


def test_cuda_array_interface_v2_ignores_stream():
    assert from_cuda_array_interface(Cai(stream=5)).stream is None


def test_cuda_array_interface_non_contiguous_and_masked():
    with pytest.raises(ZoeExportError, match=r"not C-contiguous \(shape \[2, 3\], byte strides \[2, 4\]\)"):
        as_device_view(Cai(strides=(2, 4)))
    with pytest.raises(ZoeExportError, match="masked"):
        as_device_view(Cai(mask=object()))
    with pytest.raises(ZoeExportError, match="malformed"):
        as_device_view(Cai(typestr="not a dtype"))


# -- DeviceArray (outputs) -----------------------------------------------------------------------------------
def test_device_array_exposes_a_valid_interface():
    owner = object()
    array = DeviceArray(0x9000, (2, 1, 4, 6), np.float32, device_id=0, stream=None, owner=owner)
    cai = array.__cuda_array_interface__
    assert cai == {"shape": (2, 1, 4, 6), "typestr": "<f4", "data": (0x9000, False), "strides": None, "version": 3}
    assert array.nbytes == 192 and array.device.index == 0 and "DeviceArray(shape=[2, 1, 4, 6]" in repr(array)
    assert DeviceArray(1, (1,), np.float16, stream=33).__cuda_array_interface__["stream"] == 33
    assert DeviceArray(1, (1,), np.float16, stream=0).__cuda_array_interface__["stream"] == 1  # 0 is disallowed


def test_device_array_round_trips_through_as_device_view():
    array = DeviceArray(0x9000, (3,), np.float16, device_id=2, stream=9)
    view = as_device_view(array)
    assert (view.ptr, view.shape, view.dtype, view.device_id, view.stream) == (0x9000, (3,), np.float16, 2, 9)
    assert array.view() == view


def test_dlpack_is_preferred_when_both_protocols_are_offered():
    class Both(DLPackProducer):
        @property
        def __cuda_array_interface__(self):
            return {"shape": (1,), "typestr": "<f4", "data": (0x10, False), "version": 2}

    producer = Both(np.zeros(4, np.float32))
    view = as_device_view(producer, stream=0x55)
    assert view.shape == (4,) and producer.streams == [0x55]


def test_dlpack_producer_without_a_stream_argument():
    class Old(DLPackProducer):
        def __dlpack__(self):
            return super().__dlpack__()

    assert as_device_view(Old(np.zeros(4, np.float32)), stream=0x55).shape == (4,)
