"""Each component's check: ok, missing or incompatible, with the line that fixes it (probed without TensorRT objects)."""
import subprocess

import pytest
from fakes import install

from zoe_export.doctor import checks
from zoe_export.doctor.checks import INCOMPATIBLE, MISSING, OK, Check
from zoe_export.trt import environment


@pytest.fixture
def fakes(monkeypatch):
    return install(monkeypatch)


def test_tensorrt_missing_old_or_broken(monkeypatch):
    real_import = checks.importlib.import_module

    def importing(outcome):
        def import_module(name):
            if name != "tensorrt":
                return real_import(name)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return import_module

    monkeypatch.setattr(checks.importlib, "import_module", importing(ModuleNotFoundError("no", name="tensorrt")))
    check = checks.check_tensorrt()
    assert (check.status, check.found) == (MISSING, "not installed") and "zoe-export[trt]" in check.fix
    monkeypatch.setattr(checks.importlib, "import_module", importing(OSError("libnvinfer.so.10: cannot open")))
    check = checks.check_tensorrt()
    assert check.status == INCOMPATIBLE and "libnvinfer.so.10" in check.found and "--force-reinstall" in check.fix
    monkeypatch.setattr(checks.importlib, "import_module", importing(type("trt", (), {"__version__": "8.6.1"})))
    assert checks.check_tensorrt().status == INCOMPATIBLE
    monkeypatch.setattr(checks.importlib, "import_module", importing(type("trt", (), {"__version__": "11.4.0.106"})))
    assert checks.check_tensorrt() == Check("tensorrt", OK, "11.4.0.106")


@pytest.mark.parametrize("version, status", [("0.49.26", INCOMPATIBLE), ("0.53.6", OK), ("0.54.0", INCOMPATIBLE),
                                             (None, MISSING)])
def test_polygraphy_must_be_in_the_range_that_builds_on_both_majors(version, status, monkeypatch):
    monkeypatch.setattr(checks, "_installed", lambda name: version)
    check = checks.check_polygraphy(Check("tensorrt", OK, "11.4.0.106"))
    assert check.status == status
    if status == OK:
        assert check.found == "0.53.6, works with TensorRT 11.4.0.106" and not check.fix
    else:
        assert "pip install 'polygraphy>=0.50.3,<0.54'" in check.fix
    if version == "0.49.26":
        assert "0.49 fails every TensorRT 11 build" in check.found


def test_cuda_python_the_driver_and_each_gpu(fakes, monkeypatch):
    monkeypatch.setattr(checks, "nvidia_smi", lambda: None)
    fakes.cudart.devices = 2
    cuda_check, runtime = checks.check_cuda_python()
    assert cuda_check.status == OK and "CUDA runtime 12.9" in cuda_check.found and runtime == 12090
    driver, *gpus = checks.check_driver_and_gpus(runtime)
    assert driver == Check("driver", OK, "supports CUDA 12.9")
    assert [g.name for g in gpus] == ["gpu 0", "gpu 1"]
    assert gpus[0].found == "Fake GPU, compute capability 8.9, 16 GiB"
    fakes.cudart.driver = 11080  # a CUDA 11 driver under a CUDA 12 cuda-python
    driver = checks.check_driver_and_gpus(runtime)[0]
    assert driver.status == INCOMPATIBLE and "pip install 'cuda-python<12'" in driver.fix
    fakes.cudart.driver = 0  # no driver at all
    driver, gpu = checks.check_driver_and_gpus(runtime)
    assert (driver.status, gpu.status) == (MISSING, MISSING) and "install the NVIDIA driver" in driver.fix


def test_without_cuda_python_nvidia_smi_still_names_the_driver_and_gpus(monkeypatch):
    monkeypatch.setattr(environment.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(environment.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout="580.159.03, NVIDIA H200, 9.0, 143771\n"))
    driver, gpu = checks.check_driver_and_gpus(None)
    assert driver == Check("driver", OK, "580.159.03 (from nvidia-smi)")
    assert gpu == Check("gpu 0", OK, "NVIDIA H200, compute capability 9.0, 140 GiB")
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    assert [c.status for c in checks.check_driver_and_gpus(None)] == [MISSING, MISSING]


def test_the_other_stages_are_optional():
    for check in (checks.check_onnxruntime(), checks.check_modelopt(), checks.check_torch()):
        assert not check.required and check.status in (OK, MISSING)
    assert "CPU" in checks.check_onnxruntime().found
