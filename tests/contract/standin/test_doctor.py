"""zoe-export doctor on the real bindings: TensorRT and cuda-python found, no driver, not ready, --smoke refused."""
import json

import tensorrt as trt

from zoe_export.cli.main import main


def test_doctor_reports_the_real_packages_and_the_missing_driver(capsys):
    assert main(["doctor", "--smoke", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    found = {c["name"]: c for c in report["checks"]}
    assert found["tensorrt"]["status"] == "ok" and found["tensorrt"]["found"] == trt.__version__
    assert found["polygraphy"]["status"] == "ok" and found["polygraphy"]["found"].endswith(
        f"works with TensorRT {trt.__version__}")
    assert found["cuda-python"]["status"] == "ok" and "CUDA runtime" in found["cuda-python"]["found"]
    assert found["driver"]["status"] == "missing" and "no NVIDIA driver is loaded" in found["driver"]["found"]
    assert report["smoke"] is None and report["smoke_refused"].startswith("the smoke test needs driver (missing)")
