"""What is missing for TensorRT, said in one line, probed without creating TensorRT objects."""
import importlib.util
import subprocess

import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.trt import Gpu, TrtEnvironment, environment, probe_environment


@pytest.mark.parametrize("env, missing", [
    (TrtEnvironment(None, False, None), "the tensorrt package and cuda-python and a CUDA GPU"),
    (TrtEnvironment(None, True, Gpu("NVIDIA H200", "9.0")), "the tensorrt package,"),
    (TrtEnvironment("10.13.2.6", False, Gpu("NVIDIA H200", "9.0")), "cuda-python,"),
])
def test_missing_packages_name_the_install_command(env, missing):
    with pytest.raises(ZoeExportError) as info:
        env.require()
    message = str(info.value)
    assert f"building TensorRT engines needs {missing}" in message
    assert "pip install 'zoe-export[trt]' --extra-index-url https://pypi.nvidia.com" in message
    assert "\n" not in message


def test_a_missing_gpu_alone_says_so():
    with pytest.raises(ZoeExportError, match="needs a CUDA GPU.*NVIDIA GPU and its driver") as info:
        TrtEnvironment("10.13.2.6", True, None).require("running a TensorRT engine")
    assert "pip install" not in str(info.value)


def test_a_complete_environment_passes(env10):
    env10.require()
    assert env10.gpu.sm == "sm_90" and env10.tensorrt.major == 10
    assert env10.describe() == "TensorRT 10.13.2.6, NVIDIA H200 (sm_90)"


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_probing_this_machine_finds_no_tensorrt():
    env = probe_environment()
    assert env.tensorrt_version is None and "the tensorrt package" in env.missing()


def test_gpu_from_nvidia_smi(monkeypatch):
    monkeypatch.setattr(environment.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(environment.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout="NVIDIA H200, 9.0\nNVIDIA H200, 9.0\n"))
    assert environment._gpu_from_smi() == Gpu("NVIDIA H200", "9.0")
    monkeypatch.setattr(environment.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=""))
    assert environment._gpu_from_smi() is None
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    assert environment._gpu_from_smi() is None
