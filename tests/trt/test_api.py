"""The door to TensorRT: null factories become one error line, version-only code is guarded, Polygraphy pinned."""
import sys
import tomllib
import types
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from zoe_export.errors import ZoeExportError
from zoe_export.trt.api import POLYGRAPHY, requires_tensorrt, tensorrt_factory

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_a_null_factory_is_one_error_line_and_other_type_errors_stay_bugs():
    with pytest.raises(ZoeExportError, match="TensorRT could not create a runtime .*zoe-export doctor") as info:
        with tensorrt_factory("a runtime"):
            raise TypeError("pybind11::init(): factory function returned nullptr")
    assert "\n" not in str(info.value)
    with pytest.raises(TypeError, match="incompatible function arguments"), tensorrt_factory("a runtime"):
        raise TypeError("__init__(): incompatible function arguments")


def test_code_for_one_major_version_refuses_the_other(monkeypatch):
    @requires_tensorrt(10)
    def legacy():
        return "ran"

    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.16.1.11"))
    assert legacy() == "ran" and legacy.tensorrt_major == 10
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="11.4.0.106"))
    with pytest.raises(ZoeExportError, match="legacy needs TensorRT 10; this is TensorRT 11"):
        legacy()


def test_every_extra_pins_polygraphy_to_the_range_that_works_on_tensorrt_10_and_11():
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    pins = [Requirement(r) for reqs in extras.values() for r in reqs if Requirement(r).name == "polygraphy"]
    assert len(pins) >= 2 and all(str(p.specifier) == str(Requirement("polygraphy" + POLYGRAPHY).specifier)
                                  for p in pins)
    allowed = pins[0].specifier
    assert "0.49.26" not in allowed  # reads ILayer.precision_is_set unguarded: every TensorRT 11 build fails
    assert "0.50.3" in allowed and Version(metadata.version("polygraphy")) in allowed
