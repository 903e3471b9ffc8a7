"""Fakes of cuda-python's runtime and of TensorRT, held to the real bindings by tests/contract.

A fake is a second implementation of someone else's contract. Each fake class names what it stands
for in ``REAL`` ("tensorrt.ICudaEngine"; "cudart" is ``cuda.bindings.runtime``) and lists the knobs
that exist only for tests in ``FAKE_ONLY``. Everything else it defines must exist in the real API
with the same kind (class, method, property, enum member) and arity, enum members must have the
real values, and methods annotated with a fake return type must return what the real one does
(``tests/contract/standin/test_fakes.py``, run against the real wheels).

    fakes = install(monkeypatch)          # TrtRunner now runs on fakes.cudart and fakes.trt
"""
from .arrays import DLPackProducer, FakeCudaArray, read_device
from .cudart import FakeCudart, cudaError_t
from .tensorrt import EngineSpec, FakeTensorRT, install

__all__ = ["DLPackProducer", "EngineSpec", "FakeCudaArray", "FakeCudart", "FakeTensorRT", "cudaError_t", "install",
           "read_device"]
