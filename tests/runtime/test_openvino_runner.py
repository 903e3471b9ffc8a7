"""The OpenVINO runner beyond the conformance suite: ONNX graphs directly, inference precisions named and read back,
a CPU without bf16 refused, the throughput hint's split batch, per-node profiles, a missing install."""
import numpy as np
import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.openvino import device
from zoe_export.registry import get_backend

pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install 'zoe-export[openvino]')")
pytestmark = pytest.mark.slow  # the module's graph: a test-NK export of about 10 s


def _batch(n=2):
    return np.random.default_rng(0).random((n, 3, 64, 96)).astype(np.float32)


@pytest.fixture(scope="module")
def reference(onnx_file):
    with get_backend("onnxruntime").open(onnx_file) as runner:
        return runner.infer({"image": _batch()})


def _rel(out, ref):
    return float(np.mean(np.abs(out["metric_depth"] - ref["metric_depth"]) / ref["metric_depth"]))


def test_an_onnx_graph_runs_in_f32_as_onnx_runtime_does_and_reads_its_card(onnx_file, reference):
    with get_backend("openvino").open(onnx_file) as runner:  # f32 by default: never the CPU's silent bf16
        out = runner.infer({"image": _batch()})
        assert runner.inference_precision == "f32" and runner.card.variant == "test-NK"
        assert runner.input_specs()[0].shape == (None, 3, 64, 96)
    assert _rel(out, reference) < 1e-5
    assert runner.card is None  # read on activation, released with it


def test_bf16_is_asked_for_read_back_and_within_its_own_bound(onnx_file, reference):
    from zoe_export.registry import get_precision

    if not device.cpu_info().supports("bf16"):
        pytest.skip("this CPU has no bf16 (AVX-512 BF16 or AMX)")
    with get_backend("openvino").open(onnx_file, precision="bf16") as runner:
        out = runner.infer({"image": _batch()})
        assert runner.inference_precision == "bf16" and runner.config_text == "bf16 latency"
    assert 1e-5 < _rel(out, reference) < get_precision("bf16").tolerance.max_rel  # it did change the numerics


def test_default_precision_is_the_cpus_own_read_back(onnx_file):
    with get_backend("openvino").open(onnx_file, precision="default") as runner:
        runner.infer({"image": _batch(1)})
        assert runner.inference_precision == device.cpu_info().default_precision
        assert runner.config_text.endswith("(default) latency")


def test_a_cpu_without_bf16_refuses_it_with_what_the_cpu_reports(onnx_file, monkeypatch):
    plain = device.CpuInfo("Old Xeon", ("FP32", "INT8"), "f32", "2026.4")
    monkeypatch.setattr(device, "cpu_info", lambda core=None: plain)
    monkeypatch.setattr("zoe_export.runtime.openvino_runner.cpu_info", lambda core=None: plain)
    with pytest.raises(ZoeExportError, match=r"this CPU \(Old Xeon\) cannot compute in bf16; OpenVINO reports "
                                             r"FP32, INT8 .*Use --ov-precision f32|precision=f32"):
        get_backend("openvino").open(onnx_file, precision="bf16").activate()


def test_unknown_precision_and_hint_are_refused(onnx_file):
    with pytest.raises(ZoeExportError, match="'fp8': choose one of f32, bf16, default"):
        get_backend("openvino").open(onnx_file, precision="fp8").activate()
    with pytest.raises(ZoeExportError, match="'fast': choose one of latency, throughput"):
        get_backend("openvino").open(onnx_file, hint="fast")


def test_the_throughput_hint_splits_a_batch_over_parallel_requests_with_the_same_result(onnx_file):
    x = _batch(3)
    with get_backend("openvino").open(onnx_file, hint="throughput", threads=2) as split:
        assert split._inputs_batch_free() and not split.static_shapes  # one sample per request, one compile
        parallel = split.infer({"image": x})
    with get_backend("openvino").open(onnx_file) as whole:
        together = whole.infer({"image": x})
    for name in together:
        np.testing.assert_allclose(parallel[name], together[name], rtol=1e-5, atol=1e-6)


def test_profile_rows_name_each_node_with_its_kernel(onnx_file):
    with get_backend("openvino").open(onnx_file, profile=True) as runner:
        runner.infer({"image": _batch(1)})
        runner.infer({"image": _batch(1)})
        rows = runner.profile_rows()
    assert rows and all(1 <= r["calls"] <= 2 and r["ms"] >= 0 and r["kernel"] for r in rows)  # some skip a call
    assert rows[0]["calls"] == 2
    assert rows == sorted(rows, key=lambda r: -r["ms"]) and {"MatMul", "Convolution"} & {r["type"] for r in rows}


def test_a_graph_openvino_cannot_read_is_a_clear_error(tmp_path):
    from zoe_export.card import ModelCard

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    card = ModelCard.for_input("image", 64, 96)
    with pytest.raises(ZoeExportError, match="OpenVINO cannot read .*bad.onnx"):
        get_backend("openvino").open(bad, card=card).activate()


def test_missing_openvino_names_the_extra(onnx_file, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(ZoeExportError, match=r"openvino is not installed .*pip install 'zoe-export\[openvino\]'"):
        get_backend("openvino").open(onnx_file).activate()
