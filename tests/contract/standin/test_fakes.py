"""The fakes (tests/fakes) have what the real API has: names, kinds, arity, enum values, return types."""
import inspect

import fakes.cudart
import fakes.tensorrt
import pytest
from contract import real_api

FAKE_MODULES = (fakes.cudart, fakes.tensorrt)


def _fakes():
    major = real_api.tensorrt_major()
    for module in FAKE_MODULES:
        for obj in vars(module).values():
            if isinstance(obj, type) and obj.__module__ == module.__name__ and hasattr(obj, "REAL"):
                if getattr(obj, "REAL_MAJOR", major) == major:
                    yield obj


def test_every_fake_class_agrees_with_the_real_api(report):
    checked = list(_fakes())
    problems = [problem for fake in checked for problem in real_api.check_fake(fake)]
    report["fakes"] = len(checked)
    assert not problems, "the fakes disagree with the real API:\n" + "\n".join(problems)
    assert {"FakeEngine", "FakeContext", "FakeRuntime", "FakeHostMemory", "FakeCudart", "Dims", "DataType",
            "cudaError_t"} <= {f.__name__ for f in checked}  # enums too (dir() of an Enum lists no REAL)


def test_a_failed_cuda_call_returns_as_many_values_in_the_fake_as_in_cuda_python():
    """No driver here: every real call fails, and returns (err, None, ...) of its full length."""
    rt = real_api.module("cudart")
    wrong = {}
    for name, fn in vars(fakes.cudart.FakeCudart).items():
        if hasattr(fn, "outputs"):
            real = real_api.failed_call_length(getattr(rt, name), rt)
            if real != 1 + fn.outputs:
                wrong[name] = (real, 1 + fn.outputs)
    assert not wrong, f"(real, fake) tuple lengths differ: {wrong}"


def test_the_engine_a_build_returns_has_no_len_in_both():
    import tensorrt

    engine = fakes.tensorrt.FakeHostMemory.of(b"engine")
    assert not hasattr(tensorrt.IHostMemory, "__len__") and not hasattr(engine, "__len__")
    assert "nbytes" in dir(tensorrt.IHostMemory) and memoryview(engine).nbytes == engine.nbytes == 6


def test_shapes_are_dims_not_tuples_in_both():
    import tensorrt

    shape = fakes.tensorrt.Dims((2, 3, 64, 96))
    real = tensorrt.Dims((2, 3, 64, 96))  # Dims is a plain struct: it needs no library
    assert not isinstance(real, tuple) and not isinstance(shape, tuple)
    assert tuple(real) == tuple(shape) == (2, 3, 64, 96) and len(real) == len(shape) == 4
    with pytest.raises(IndexError):
        real[4]
    with pytest.raises(IndexError):
        shape[4]
    assert inspect.signature(fakes.tensorrt.FakeEngine.get_tensor_shape).return_annotation == "Dims"
