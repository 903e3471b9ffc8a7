"""Environments as TensorRT 10 and 11 machines would report them (tiny graphs: tests/conftest.py)."""
import pytest

from zoe_export.trt import Gpu, TrtEnvironment

H200 = Gpu("NVIDIA H200", "9.0")


@pytest.fixture
def env10():
    return TrtEnvironment("10.13.2.6", True, H200)


@pytest.fixture
def env11():
    return TrtEnvironment("11.0.0.7", True, H200)
