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
    with pytest.raises(ZoeExportError, match="precision 'fp8': choose one of fp32, fp16, int8, bf16"):
        get_precision("fp8")


def test_bf16_is_an_inference_precision_at_least_as_strict_as_fp16():
    """OpenVINO computes FP32 graphs in bf16 on request: judged by its own bound, never offered as a graph's."""
    bf16, fp16 = get_precision("bf16"), get_precision("fp16")
    assert list_precisions(inference=True) == ["fp32", "fp16", "int8", "bf16"] and "bf16" not in list_precisions()
    assert bf16.inference_only and bf16.converter is None and bf16.trt_flag is None
    assert bf16.tolerance.max_rel <= fp16.tolerance.max_rel and bf16.tolerance.min_delta1 >= fp16.tolerance.min_delta1
    assert bf16.tolerance.max_logit_rel <= fp16.tolerance.max_logit_rel
    with pytest.raises(ZoeExportError, match="'bf16': choose one of fp32, fp16, int8[.]"):
        PrecisionOptions("bf16").validate()


def test_a_new_precision_is_accepted_everywhere_once_registered():
    fp8 = Precision("fp8", "FP8", Tolerance(max_rel=1e-2, min_delta1=0.999, max_logit_rel=1e-2),
                    converter="zoe_export.precision.convert:fp16_stage", builder_flag=None, trt_flag="--fp8")
    with pytest.raises(ZoeExportError, match="'fp8': choose one of"):
        PrecisionOptions("fp8").validate()
    with registered(fp8):
        PrecisionOptions("fp8").validate()
        BuildOptions(precision="fp8").validate()
        assert get_precision("fp8").tolerance.max_rel == 1e-2
    with pytest.raises(ZoeExportError):
        BuildOptions(precision="fp8").validate()


def test_a_registered_precision_replaces_and_restores():
    strict = dataclasses.replace(get_precision("fp16"), tolerance=Tolerance(0.0, 1.0, 0.0))
    with registered(strict):
        assert get_precision("fp16").tolerance.max_rel == 0.0
    assert get_precision("fp16").tolerance.max_rel == 2e-3
