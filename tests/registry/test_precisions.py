"""The precision registry: tolerances, converters and flags in one place; a new precision is one registration."""
import dataclasses
import math

import pytest

from zoe_export._lazy import resolve
from zoe_export.compare.tolerance import Tolerance
from zoe_export.errors import ZoeExportError
from zoe_export.precision import PrecisionOptions
from zoe_export.registry.precisions import Precision, get_precision, list_precisions, registered
from zoe_export.trt import BuildOptions


def test_each_precision_carries_its_tolerance_converter_and_flags():
    assert list_precisions() == ["fp32", "fp16", "int8"] and list_precisions(converted=True) == ["fp16", "int8"]
    fp32, fp16, int8 = (get_precision(p) for p in ("fp32", "fp16", "int8"))
    assert fp32.tolerance.max_rel < fp16.tolerance.max_rel and fp16.tolerance.min_delta1 < fp32.tolerance.min_delta1
    assert math.isinf(int8.tolerance.max_rel) and int8.budget_from_card and int8.needs_calibration
    assert fp32.converter is None and (fp16.trt_flag, int8.trt_flag) == ("--fp16", "--int8")
    for precision in (fp16, int8):
        assert callable(resolve(precision.converter))
    with pytest.raises(ZoeExportError, match="precision 'bf16': choose one of fp32, fp16, int8"):
        get_precision("bf16")


def test_a_new_precision_is_accepted_everywhere_once_registered():
    bf16 = Precision("bf16", "BF16", Tolerance(max_rel=1e-3, min_delta1=0.9999, max_logit_rel=1e-2),
                     converter="zoe_export.precision.convert:fp16_stage", builder_flag=None, trt_flag="--bf16")
    with pytest.raises(ZoeExportError, match="'bf16': choose one of"):
        PrecisionOptions("bf16").validate()
    with registered(bf16):
        PrecisionOptions("bf16").validate()
        BuildOptions(precision="bf16").validate()
        assert get_precision("bf16").tolerance.max_rel == 1e-3
    with pytest.raises(ZoeExportError):
        BuildOptions(precision="bf16").validate()


def test_a_registered_precision_replaces_and_restores():
    strict = dataclasses.replace(get_precision("fp16"), tolerance=Tolerance(0.0, 1.0, 0.0))
    with registered(strict):
        assert get_precision("fp16").tolerance.max_rel == 0.0
    assert get_precision("fp16").tolerance.max_rel == 2e-3
