"""Inside the contract subprocess: the real tensorrt (bindings over stand-in libraries), cuda-python, Polygraphy."""
import json
import os
from pathlib import Path

import pytest
import tensorrt

from zoe_export.trt import Gpu, TrtEnvironment


@pytest.fixture(scope="session")
def graphs() -> dict[str, Path]:
    """The tiny graphs the outer test made: fp32, dynamic (batch), fp16 (converted), calib (a calibration set),
    sized (dynamic batch, height and width), frame (raw frames of any size)."""
    return {name: Path(path) for name, path in json.loads(os.environ["ZOE_CONTRACT_GRAPHS"]).items()}


@pytest.fixture(scope="session")
def report():
    """Figures for the outer test (how many names and fakes were checked)."""
    data: dict = {}
    yield data
    Path(os.environ["ZOE_CONTRACT_REPORT"]).write_text(json.dumps(data))


@pytest.fixture
def env() -> TrtEnvironment:
    """This TensorRT, as a machine with a GPU would report it (the probe itself finds no GPU here)."""
    return TrtEnvironment(tensorrt.__version__, True, Gpu("NVIDIA H200", "9.0"))
