"""The one door to the ``tensorrt`` package: its import, its install line, and its failures.

* :func:`import_tensorrt` imports it lazily (never at import time) with an error naming the install.
* :func:`tensorrt_factory` turns the ``TypeError`` that pybind11 raises when one of TensorRT's
  factories returns null (``trt.Builder``, ``trt.Runtime``, ``trt.OnnxParser`` never return None)
  into one :class:`ZoeExportError` line.
* :func:`requires_tensorrt` marks code that uses names only one TensorRT major version has (the
  legacy builder flags and calibrators of TensorRT 10) and checks the version when it runs; the
  contract tests read the marker and check those names on that version only.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Iterator

from packaging.version import Version

from .._lazy import INSTALL as LAZY_INSTALL
from .._lazy import require
from ..errors import ZoeExportError

INSTALL = LAZY_INSTALL["tensorrt"]
#: Polygraphy versions that build with TensorRT 10 and 11 (0.49 reads ILayer.precision_is_set, gone in 11);
#: pyproject.toml's extras say the same (a test checks)
POLYGRAPHY = ">=0.50.3,<0.54"
DOCTOR = "run `zoe-export doctor` to see what this machine's TensorRT, driver and GPU report"


def import_tensorrt():
    return require("tensorrt")


def tensorrt_major() -> int:
    return Version(import_tensorrt().__version__).major


@contextlib.contextmanager
def tensorrt_factory(what: str) -> Iterator[None]:
    """Around ``trt.Builder(...)``, ``trt.Runtime(...)``, ``trt.OnnxParser(...)``: a null factory is our error."""
    try:
        yield
    except TypeError as exc:
        if "returned nullptr" not in str(exc):  # a wrong argument: our bug, keep the traceback
            raise
        raise ZoeExportError(
            f"TensorRT could not create {what} (its library returned nothing): the TensorRT libraries are "
            f"missing or do not match the tensorrt Python package, or no GPU and driver are usable; {DOCTOR}."
        ) from exc


def requires_tensorrt(major: int):
    """Decorator: the function uses names only TensorRT ``major`` has; elsewhere it is one clear error."""

    def decorate(fn):
        @functools.wraps(fn)
        def guarded(*args, **kwargs):
            have = tensorrt_major()
            if have != major:
                raise ZoeExportError(f"{fn.__qualname__} needs TensorRT {major}; this is TensorRT {have}, which removed "
                                     f"what it uses. Use the default strongly typed build.")
            return fn(*args, **kwargs)

        guarded.tensorrt_major = major
        return guarded

    return decorate
