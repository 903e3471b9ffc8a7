"""zoe-export doctor: the report, its exit status, JSON, and --smoke (refused without TensorRT; run on fakes)."""
import json

import numpy as np
import pytest
from fakes import EngineSpec, install
from fakes.tensorrt import FakeHostMemory

from zoe_export.cli.main import main
from zoe_export.doctor import Report, checks, diagnose, smoke
from zoe_export.doctor.checks import MISSING, OK, Check
from zoe_export.trt import Gpu, TrtEnvironment, environment
from zoe_export.trt import build as build_module

READY = [Check("tensorrt", OK, "10.16.1.11"), Check("polygraphy", OK, "0.53.6"), Check("cuda-python", OK, "12.9.10"),
         Check("driver", OK, "supports CUDA 12.9"), Check("gpu 0", OK, "NVIDIA H200"),
         Check("onnxruntime", OK, "1.32.0", required=False), Check("torch", OK, "2.13.0", required=False)]


def test_this_machine_is_not_ready_and_says_what_is_missing(capsys):
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "tensorrt" in out and "missing" in out and "fix:" in out and "zoe-export[trt]" in out
    assert out.strip().splitlines()[-1].startswith("result   not ready: tensorrt missing")


def test_json_to_stdout_or_a_file(capsys, tmp_path):
    assert main(["doctor", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
    assert report["ok"] is False and report["machine"]["zoe_export"] and report["smoke"] is None
    assert {c["name"] for c in report["checks"]} >= {"tensorrt", "polygraphy", "cuda-python", "onnxruntime", "torch"}
    assert main(["doctor", "--json", str(tmp_path / "report.json")]) == 1
    assert json.loads((tmp_path / "report.json").read_text())["checks"] == report["checks"]


def test_smoke_is_refused_before_anything_slow_without_tensorrt(monkeypatch, capsys):
    monkeypatch.setattr(smoke, "run_smoke", lambda: pytest.fail("the smoke test ran without TensorRT"))
    assert main(["doctor", "--smoke"]) == 1
    assert "smoke    refused before doing anything: the smoke test needs tensorrt (missing)" in capsys.readouterr().out


def test_everything_required_ok_is_exit_0_and_optional_gaps_do_not_matter(monkeypatch, capsys):
    monkeypatch.setattr(checks, "check_all", lambda: [*READY, Check("modelopt", MISSING, "no", "pip", required=False)])
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out.strip().endswith("result   ready: TensorRT engines can be built and run here")
    monkeypatch.setattr(checks, "check_all", lambda: [*READY[:-1], Check("torch", MISSING, "no", "make", required=False)])
    assert diagnose().ok and not diagnose(smoke=True).ok  # --smoke needs torch to export the tiny model


@pytest.mark.slow
def test_smoke_builds_both_engines_and_fails_when_they_disagree_with_onnx_runtime(monkeypatch, tmp_path, capsys):
    """TensorRT faked: its 'engines' compute the channel mean + 1, not the model, so parity must fail."""
    fakes = install(monkeypatch)
    env = TrtEnvironment("10.99.0", True, Gpu("Fake GPU", "8.9"))
    monkeypatch.setattr(environment, "probe_environment", lambda: env)
    monkeypatch.setattr("zoe_export.trt.probe_environment", lambda: env)
    engine = FakeHostMemory.of(EngineSpec(height=64, width=96, batch=None).serialize())
    monkeypatch.setattr(build_module, "loader_chain", lambda plan, progress=None: lambda: engine)
    monkeypatch.setattr(checks, "check_all", lambda: READY)
    monkeypatch.setattr(smoke.tempfile, "tempdir", str(tmp_path))
    assert main(["doctor", "--smoke", "--json", str(tmp_path / "r.json")]) == 1
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "r.json").read_text())["smoke"]
    assert [r["precision"] for r in results] == ["fp32", "fp16"] and not any(r["passed"] for r in results)
    assert all(r["rel"] > r["max_rel"] and np.isfinite(r["latency_p50_ms"]) for r in results)
    assert "smoke    fp32 engine vs ONNX Runtime: REL" in out and "FAILED: metric_depth: REL" in out
    assert fakes.trt.calls["kernels run"] > 20  # the engines ran (prediction and timed calls)
    assert not list(tmp_path.glob("zoe-doctor-*"))  # nothing left behind (torch keeps its own compile cache)


def test_a_report_passes_only_when_the_smoke_engines_pass():
    assert Report(READY, smoke=[{"passed": True}]).ok and not Report(READY, smoke=[{"passed": False}]).ok
    assert not Report(READY, refused="needs tensorrt").ok
