"""What is missing for TensorRT, said in one line, probed without creating TensorRT objects."""
import importlib.util

import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.trt import Gpu, TrtEnvironment, probe_environment


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


@pytest.fixture
def without_cuda_python(monkeypatch, tmp_path):
    """A machine without cuda-python, whose PATH holds only ``tmp_path/bin``; returns a writer of its nvidia-smi."""
    from zoe_export.trt import cuda

    def no_cuda_python():
        raise ZoeExportError("cuda-python is not installed")

    monkeypatch.setattr(cuda, "import_cudart", no_cuda_python)
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))

    def nvidia_smi(rows: str, code: int = 0):
        """An nvidia-smi that prints ``rows`` for the query probe_environment makes (anything else: exit 2)."""
        script = folder / "nvidia-smi"
        script.write_text("#!/bin/sh\n"
                          'if [ "$*" != "--query-gpu=name,compute_cap --format=csv,noheader,nounits" ]; then exit 2; fi\n'
                          f"printf '{rows}'\nexit {code}\n")
        script.chmod(0o755)

    return nvidia_smi


def test_without_cuda_python_the_gpu_comes_from_nvidia_smi(without_cuda_python):
    without_cuda_python("NVIDIA H200, 9.0\\nNVIDIA H200, 9.0\\n")
    env = probe_environment()
    assert env.cuda_python is False and env.gpu == Gpu("NVIDIA H200", "9.0")  # the first GPU
    assert "cuda-python" in env.missing() and "a CUDA GPU" not in env.missing()


@pytest.mark.parametrize("rows, code", [("", 0), ("NVIDIA H200, 9.0\\n", 9), ("NVIDIA H200\\n", 0)])
def test_no_gpu_when_nvidia_smi_says_nothing_fails_or_is_garbled(without_cuda_python, rows, code):
    without_cuda_python(rows, code)
    assert probe_environment().gpu is None


def test_no_gpu_without_nvidia_smi(without_cuda_python):
    env = probe_environment()
    assert env.gpu is None and "a CUDA GPU" in env.missing()
