"""Engine manifests: the cache key and the compatibility check against the running TensorRT and GPU."""
import json
import logging

import pytest

from zoe_export.errors import ZoeExportError
from zoe_export.trt import (
    Gpu,
    TrtEnvironment,
    check_compatible,
    manifest_path,
    read_manifest,
)
from zoe_export.trt.manifest import FORMAT, MANIFEST_VERSION, cache_key, write_manifest

PLAN = {"mode": "strongly-typed", "precision": "fp16"}


def _manifest(trt="10.13.2.6", gpu=("NVIDIA H200", "9.0")):
    return {"format": FORMAT, "version": MANIFEST_VERSION, "tensorrt_version": trt,
            "gpu": {"name": gpu[0], "compute_capability": gpu[1]}, "onnx": {"file": "zoed_m12_n_fp16.onnx"}}


def test_cache_key_changes_with_what_decides_the_engine(env10, env11):
    key = cache_key("abc", PLAN, env10)
    assert key == cache_key("abc", dict(PLAN), env10) and len(key) == 32
    assert key == cache_key("abc", PLAN, TrtEnvironment("10.13.2.9", True, env10.gpu))  # build number only
    assert key != cache_key("abd", PLAN, env10)
    assert key != cache_key("abc", {**PLAN, "precision": "int8"}, env10)
    assert key != cache_key("abc", PLAN, env11)
    assert key != cache_key("abc", PLAN, TrtEnvironment("10.13.2.6", True, Gpu("NVIDIA H100", "9.0")))
    assert key != cache_key("abc", PLAN, TrtEnvironment("10.13.2.6", True, Gpu("NVIDIA L4", "8.9")))


def test_a_compatible_engine_passes(env10):
    check_compatible(_manifest(), env10)
    check_compatible(_manifest(trt="10.13.2.1"), env10)  # another build of the same release


def test_another_tensorrt_version_is_refused_with_the_fix(env10):
    with pytest.raises(ZoeExportError) as info:
        check_compatible(_manifest(trt="10.12.0.36"), env10, "e.engine")
    message = str(info.value)
    assert "built with TensorRT 10.12.0.36" in message and "this is TensorRT 10.13.2.6" in message
    assert "zoe-export trt --onnx zoed_m12_n_fp16.onnx" in message and "tensorrt==10.12.0" in message


def test_another_compute_capability_is_refused(env10):
    with pytest.raises(ZoeExportError, match=r"built for NVIDIA L4 \(compute capability 8.9\).*this GPU is NVIDIA H200"):
        check_compatible(_manifest(gpu=("NVIDIA L4", "8.9")), env10)


def test_another_gpu_with_the_same_compute_capability_warns(env10, caplog):
    with caplog.at_level(logging.WARNING, logger="zoe_export"):
        check_compatible(_manifest(gpu=("NVIDIA H100 80GB HBM3", "9.0")), env10)
    assert "built on NVIDIA H100 80GB HBM3 and runs on NVIDIA H200" in caplog.text


def test_no_gpu_or_no_tensorrt_stops_before_tensorrt():
    with pytest.raises(ZoeExportError, match="needs a CUDA GPU"):
        check_compatible(_manifest(), TrtEnvironment("10.13.2.6", True, None))
    with pytest.raises(ZoeExportError, match=r"the tensorrt package.*zoe-export\[trt\]"):
        check_compatible(_manifest(), TrtEnvironment(None, True, Gpu("NVIDIA H200", "9.0")))


def test_manifest_round_trip_and_damage(tmp_path):
    engine = tmp_path / "m.engine"
    with pytest.raises(ZoeExportError, match="has no manifest.*zoe-export trt"):
        read_manifest(engine)
    write_manifest(engine, _manifest())
    assert manifest_path(engine).name == "m.engine.json"
    assert read_manifest(engine) == _manifest()
    manifest_path(engine).write_text("{not json")
    with pytest.raises(ZoeExportError, match="not a readable engine manifest"):
        read_manifest(engine)
    manifest_path(engine).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ZoeExportError, match="not a zoe-export engine manifest"):
        read_manifest(engine)
    manifest_path(engine).write_text(json.dumps({**_manifest(), "version": MANIFEST_VERSION + 1}))
    with pytest.raises(ZoeExportError, match="newer zoe-export"):
        read_manifest(engine)
