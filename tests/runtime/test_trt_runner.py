"""TrtRunner on fake TensorRT and fake cuda-python (tests/fakes), plus one real-GPU test (marker gpu)."""
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from fakes import DLPackProducer, EngineSpec, FakeCudaArray, cudaError_t, install, read_device
from fakes.cudart import Handle
from fakes.tensorrt import FakeHostMemory

from zoe_export.errors import ZoeExportError
from zoe_export.runtime.base import TensorSpec
from zoe_export.runtime.trt_runner import TrtRunner
from zoe_export.trt import cuda
from zoe_export.trt.api import import_tensorrt

NOTHING_LIVE = {"device": 0, "host": 0, "streams": 0, "events": 0, "graphs": 0, "graph_execs": 0}


@pytest.fixture
def fakes(monkeypatch):
    return install(monkeypatch)


DEFAULT = EngineSpec()


def _image(batch=2, spec=DEFAULT, seed=0, size=None):
    return np.random.default_rng(seed).random(spec.input_shape(batch, size)).astype(spec.dtype)


def _expected(image):
    return image.astype(np.float32).mean(axis=1, keepdims=True) + 1


# -- lifecycle and values ---------------------------------------------------------------------------
def test_infer_computes_through_the_fakes_and_frees_everything(fakes):
    runner = TrtRunner(EngineSpec(domain_logits=True).serialize())
    with runner:
        assert runner.input_specs() == [TensorSpec("image", np.dtype(np.float32), (None, 3, 4, 6))]
        assert runner.output_names == ["metric_depth", "domain_logits"]
        image = _image(2)
        out = runner.infer({"image": image})
        assert fakes.cudart.live["device"] == 3 and fakes.cudart.live["streams"] == 1
    assert set(out) == {"metric_depth", "domain_logits"}
    np.testing.assert_allclose(out["metric_depth"], _expected(image), rtol=1e-6)
    np.testing.assert_allclose(out["domain_logits"][:, 0], image.reshape(2, -1).mean(axis=1), rtol=1e-6)
    assert out["metric_depth"].dtype == np.float32 and out["metric_depth"].flags.owndata
    assert not runner.is_active and fakes.cudart.live == NOTHING_LIVE


def test_lifecycle_is_idempotent_and_reactivates(fakes):
    runner = TrtRunner(EngineSpec().serialize())
    with pytest.raises(ZoeExportError, match="not active"):
        runner.infer({"image": _image()})
    with pytest.raises(ZoeExportError, match="not active"):
        runner.input_specs()
    runner.activate()
    runner.activate()  # no second engine
    assert fakes.trt.calls["deserialize_cuda_engine"] == 1
    runner.infer({"image": _image(1)})
    runner.deactivate()
    runner.deactivate()
    assert fakes.cudart.live == NOTHING_LIVE
    with runner:
        np.testing.assert_allclose(runner.infer({"image": _image(3)})["metric_depth"], _expected(_image(3)), rtol=1e-6)
    assert fakes.cudart.live == NOTHING_LIVE


def test_engine_from_a_file(fakes, tmp_path):
    path = tmp_path / "m.engine"
    path.write_bytes(EngineSpec().serialize())
    with TrtRunner(path) as runner, TrtRunner(str(path)) as same:
        assert runner.input_specs() == same.input_specs()
    with pytest.raises(ZoeExportError, match=r"does not exist; build it with zoe-export trt"):
        TrtRunner(tmp_path / "missing.engine").activate()


def test_engine_info(fakes):
    with TrtRunner(EngineSpec(domain_logits=True).serialize()) as runner:
        info = runner.engine_info()
    assert info == {
        "inputs": [{"name": "image", "dtype": "float32", "shape": [None, 3, 4, 6],
                    "profile": {"min": [1, 3, 4, 6], "opt": [2, 3, 4, 6], "max": [4, 3, 4, 6]}}],
        "outputs": [{"name": "metric_depth", "dtype": "float32", "shape": [None, 1, 4, 6]},
                    {"name": "domain_logits", "dtype": "float32", "shape": [None, 2]}],
    }


def test_static_engine_and_float16(fakes):
    spec = EngineSpec(batch=None, dtype="float16")
    with TrtRunner(spec.serialize()) as runner:
        assert runner.input_specs() == [TensorSpec("image", np.dtype(np.float16), (1, 3, 4, 6))]
        assert runner.engine_info()["inputs"][0]["profile"]["max"] == [1, 3, 4, 6]
        image = _image(1, spec)
        out = runner.infer({"image": image})
        with pytest.raises(ZoeExportError, match=r"must have shape \[1, 3, 4, 6\]"):
            runner.infer({"image": _image(2, spec)})
    assert out["metric_depth"].dtype == np.float16
    np.testing.assert_allclose(out["metric_depth"], _expected(image), rtol=2e-3)
    assert fakes.trt.calls["set_input_shape"] == 0 and fakes.trt.calls["get_tensor_profile_shape"] == 0


def test_logger_routes_tensorrt_messages_to_python_logging(fakes, caplog):
    with caplog.at_level(logging.ERROR, logger="zoe_export"), pytest.raises(ZoeExportError):
        TrtRunner(b"not an engine").activate()
    assert "TensorRT: The engine plan file is not compatible" in caplog.text


def test_nothing_imports_tensorrt_or_cuda_at_import_time():
    code = ("import sys, zoe_export.runtime.trt_runner, zoe_export.trt.cuda, zoe_export.runtime.device_arrays; "
            "bad = [m for m in ('tensorrt', 'cuda', 'cuda.bindings') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_packages_name_the_install(monkeypatch):
    # whatever this machine has: None in sys.modules makes the import fail as if the package were absent
    for name in ("tensorrt", "cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ZoeExportError, match=r"tensorrt is not installed: pip install 'zoe-export\[trt\]'"):
        import_tensorrt()
    with pytest.raises(ZoeExportError, match=r"cuda-python is not installed: pip install 'zoe-export\[trt\]'"):
        cuda.import_cudart()
    with pytest.raises(ZoeExportError, match=r"tensorrt is not installed"):
        TrtRunner(EngineSpec().serialize()).activate()  # before anything else is tried


def test_the_engine_a_build_returns_runs_as_it_is(fakes):
    engine = FakeHostMemory.of(EngineSpec().serialize())  # what build_serialized_network returns: no len()
    with pytest.raises(TypeError):
        len(engine)
    with TrtRunner(engine) as runner:
        image = _image(2)
        np.testing.assert_allclose(runner.infer({"image": image})["metric_depth"], _expected(image), rtol=1e-6)


# -- dynamic batch ---------------------------------------------------------------------------------------
def test_batch_within_the_profile_sets_shapes_only_when_they_change(fakes):
    with TrtRunner(EngineSpec().serialize()) as runner:
        for batch in (1, 4, 4, 2):
            image = _image(batch)
            np.testing.assert_allclose(runner.infer({"image": image})["metric_depth"], _expected(image), rtol=1e-6)
    assert fakes.trt.calls["set_input_shape"] == 3


def test_batch_outside_the_profile(fakes):
    match = (r"batch 5 is outside the engine's profile for input 'image' \(batch 1 to 4\): send at most 4 images "
             r"per call, or rebuild the engine with zoe-export trt --batch-profile 1:2:5")
    with TrtRunner(EngineSpec().serialize()) as runner:
        with pytest.raises(ZoeExportError, match=match):
            runner.infer({"image": _image(5)})
        assert fakes.trt.calls["set_input_shape"] == 0  # refused before TensorRT saw it
        runner.infer({"image": _image(2)})  # still usable


def test_batch_below_the_profile(fakes):
    match = r"batch 1 .* \(batch 2 to 4\): send at least 2 images .* 1:2:4"
    with TrtRunner(EngineSpec(batch=(2, 2, 4)).serialize()) as runner, pytest.raises(ZoeExportError, match=match):
        runner.infer({"image": _image(1)})


# -- free height and width (zoe-export trt --size-profile) -----------------------------------------------------
SIZED = EngineSpec(sizes=((2, 2), (4, 6), (8, 10)))  # profile 2x2:4x6:8x10, batch 1:2:4


def test_free_height_and_width_follow_each_feed(fakes):
    with TrtRunner(SIZED.serialize()) as runner:
        assert runner.input_specs() == [TensorSpec("image", np.dtype(np.float32), (None, 3, None, None))]
        assert runner.engine_info()["inputs"][0]["profile"] == {"min": [1, 3, 2, 2], "opt": [2, 3, 4, 6],
                                                                "max": [4, 3, 8, 10]}
        for batch, size in ((1, (2, 2)), (2, (8, 10)), (2, (8, 10)), (4, (5, 3)), (1, (8, 2))):
            image = _image(batch, SIZED, size=size)
            out = runner.infer({"image": image})["metric_depth"]
            assert out.shape == (batch, 1, *size)  # sized from the shape the context resolved
            np.testing.assert_allclose(out, _expected(image), rtol=1e-6)
    assert fakes.trt.calls["set_input_shape"] == 4  # not again for the same shape


@pytest.mark.parametrize("size", [(9, 6), (4, 11), (1, 6), (1, 11)])
def test_a_size_outside_the_profile_is_refused_before_the_gpu_with_the_profile_and_the_fix(fakes, size):
    with TrtRunner(SIZED.serialize()) as runner:
        with pytest.raises(ZoeExportError) as info:
            runner.infer({"image": _image(2, SIZED, size=size)})
        message = str(info.value)
        assert message.startswith(f"input 'image' is {size[0]}x{size[1]} (height x width), outside the engine's size "
                                  "profile 2x2:4x6:8x10 (MIN:OPT:MAX): resize it to a size from 2x2 to 8x10")
        wider = f"{min(size[0], 2)}x{min(size[1], 2)}:4x6:{max(size[0], 8)}x{max(size[1], 10)}"
        assert f"zoe-export trt --size-profile MIN:OPT:MAX (e.g. {wider};" in message
        assert fakes.trt.calls["set_input_shape"] == 0 and fakes.trt.calls["execute_async_v3"] == 0
        assert fakes.cudart.calls["cudaMemcpyAsync"] == 0 and fakes.cudart.calls["cudaMalloc"] == 0
        image = _image(2, SIZED, size=(3, 3))  # still usable
        np.testing.assert_allclose(runner.infer({"image": image})["metric_depth"], _expected(image), rtol=1e-6)


def test_a_batch_outside_the_profile_is_named_first(fakes):
    with TrtRunner(SIZED.serialize()) as runner, pytest.raises(ZoeExportError, match="batch 5 is outside"):
        runner.infer({"image": _image(5, SIZED, size=(9, 9))})


def test_a_frame_engine_takes_uint8_frames_of_any_size_in_its_profile(fakes):
    spec = EngineSpec(io="frame", batch=None, sizes=((2, 2), (4, 6), (6, 8)))
    with TrtRunner(spec.serialize()) as runner:
        assert runner.input_specs() == [TensorSpec("frame", np.dtype(np.uint8), (1, None, None, 3))]
        for size in ((2, 2), (6, 8), (3, 5)):
            frame = np.random.default_rng(0).integers(0, 256, (1, *size, 3), dtype=np.uint8)
            depth = runner.infer({"frame": frame})["metric_depth"]
            assert depth.shape == (1, *size) and depth.dtype == np.float32
            np.testing.assert_allclose(depth, frame.astype(np.float32).mean(axis=-1) + 1, rtol=1e-6)
        with pytest.raises(ZoeExportError, match=r"input 'frame' is 7x8 \(height x width\), outside the engine's size "
                                                 r"profile 2x2:4x6:6x8 .* --size-profile MIN:OPT:MAX \(e\.g\. "
                                                 r"2x2:4x6:7x8;"):
            runner.infer({"frame": np.zeros((1, 7, 8, 3), np.uint8)})


def test_run_checks_the_size_before_anything_is_queued(fakes):
    with TrtRunner(SIZED.serialize()) as runner:
        image = FakeCudaArray(fakes.cudart, _image(2, SIZED, size=(8, 10)))
        out = runner.run({"image": image})
        assert out["metric_depth"].shape == (2, 1, 8, 10)
        np.testing.assert_allclose(read_device(fakes.cudart, out["metric_depth"]), _expected(image.array), rtol=1e-6)
        runs = fakes.trt.calls["execute_async_v3"]
        with pytest.raises(ZoeExportError, match="outside the engine's size profile 2x2:4x6:8x10"):
            runner.run({"image": FakeCudaArray(fakes.cudart, _image(2, SIZED, size=(12, 10)))})
        assert fakes.trt.calls["execute_async_v3"] == runs and fakes.trt.calls["set_input_shape"] == 1


def test_cuda_graph_recaptures_when_the_size_changes(fakes):
    calls = fakes.cudart.calls
    with TrtRunner(SIZED.serialize(), cuda_graph=True) as runner:
        for size in ((4, 6), (4, 6), (8, 10), (8, 10)):
            image = _image(2, SIZED, size=size)
            np.testing.assert_allclose(runner.infer({"image": image})["metric_depth"], _expected(image), rtol=1e-6)
        assert calls["cudaStreamBeginCapture"] == 2 and fakes.cudart.launched == 2
    assert fakes.cudart.live == NOTHING_LIVE


def test_input_checks_come_from_the_base_class(fakes):
    with TrtRunner(EngineSpec().serialize()) as runner:
        with pytest.raises(ZoeExportError, match="takes inputs"):
            runner.infer({"img": _image()})
        with pytest.raises(ZoeExportError, match="must be float32"):
            runner.infer({"image": _image().astype(np.float64)})


# -- every checked return value --------------------------------------------------------------------------
@pytest.mark.parametrize("knob,match", [
    ("fail_context", r"could not create an execution context .* too little free memory"),
    ("fail_set_input_shape", r"TensorRT refused shape \[2, 3, 4, 6\] for input 'image' \(TensorRT: setInputShape"),
    ("fail_set_tensor_address", r"TensorRT refused the address 0x[0-9a-f]+ for tensor 'image'"),
    ("fail_execute", r"TensorRT execute_async_v3 failed"),
])
def test_tensorrt_failures_become_clear_errors(fakes, knob, match):
    setattr(fakes.trt, knob, True)
    runner = TrtRunner(EngineSpec().serialize())
    with pytest.raises(ZoeExportError, match=match), runner:
        runner.infer({"image": _image()})
    assert fakes.cudart.live == NOTHING_LIVE


def test_deserialize_failure_names_the_likely_causes(fakes):
    with pytest.raises(ZoeExportError) as info:
        TrtRunner(b"an engine from TensorRT 8").activate()
    message = str(info.value)
    assert "TensorRT 10.99.0 could not load the engine bytes (TensorRT: The engine plan file is not" in message
    assert "another TensorRT version or for another GPU" in message
    assert "this is Fake GPU, compute capability 8.9" in message
    assert "rebuild it on this machine with `zoe-export trt`" in message
    assert fakes.cudart.live == NOTHING_LIVE


@pytest.mark.parametrize("call,where", [
    ("cudaMalloc", "infer"), ("cudaMallocHost", "infer"), ("cudaMemcpyAsync", "infer"),
    ("cudaStreamSynchronize", "infer"), ("cudaStreamCreateWithFlags", "activate"), ("cudaSetDevice", "activate"),
])
def test_cuda_errors_become_clear_errors_and_nothing_leaks(fakes, call, where):
    runner = TrtRunner(EngineSpec().serialize())
    if where == "infer":
        runner.activate()
    fakes.cudart.fail(call, cudaError_t.cudaErrorMemoryAllocation)
    with pytest.raises(cuda.CudaError, match=rf"{call}.* failed: cudaErrorMemoryAllocation \(out of memory\)\. "
                                             r"The GPU is out of memory") as info:
        runner.activate() if where == "activate" else runner.infer({"image": _image()})
    assert isinstance(info.value, ZoeExportError) and info.value.error_name == "cudaErrorMemoryAllocation"
    runner.deactivate()
    assert fakes.cudart.live == NOTHING_LIVE


def test_an_error_while_freeing_is_reported_after_freeing_the_rest(fakes):
    runner = TrtRunner(EngineSpec().serialize()).activate()
    runner.infer({"image": _image()})
    fakes.cudart.fail("cudaFree", cudaError_t.cudaErrorIllegalAddress)
    with pytest.raises(cuda.CudaError, match="cudaFree failed: cudaErrorIllegalAddress"):
        runner.deactivate()
    assert fakes.cudart.live["host"] == 0 and fakes.cudart.live["streams"] == 0
    assert fakes.cudart.live["device"] == 1  # only the one whose cudaFree failed


def test_missing_device(fakes):
    with pytest.raises(ZoeExportError, match=r"CUDA device 3 does not exist: this machine has 1 CUDA GPU"):
        TrtRunner(EngineSpec().serialize(), device=3).activate()


# -- buffers -----------------------------------------------------------------------------------------------
def test_device_buffers_are_reused_and_grow(fakes):
    calls = fakes.cudart.calls
    with TrtRunner(EngineSpec().serialize()) as runner:
        runner.infer({"image": _image(2)})
        assert (calls["cudaMalloc"], calls["cudaMallocHost"]) == (2, 2)
        runner.infer({"image": _image(2, seed=1)})
        runner.infer({"image": _image(1)})  # smaller: fits
        assert (calls["cudaMalloc"], calls["cudaMallocHost"]) == (2, 2)
        image = _image(4)
        np.testing.assert_allclose(runner.infer({"image": image})["metric_depth"], _expected(image), rtol=1e-6)
        assert (calls["cudaMalloc"], calls["cudaFree"]) == (4, 2)  # both grew, the old ones freed
    assert calls["cudaMalloc"] == calls["cudaFree"] and calls["cudaMallocHost"] == calls["cudaFreeHost"]


# -- run(): device arrays, no host copies ----------------------------------------------------------------------
def test_run_binds_device_arrays_without_copies(fakes):
    spec = EngineSpec(domain_logits=True)
    image = _image(2, spec)
    with TrtRunner(spec.serialize()) as runner:
        out = runner.run({"image": FakeCudaArray(fakes.cudart, image)})
        first = out["metric_depth"].ptr
        cai = out["metric_depth"].__cuda_array_interface__
        np.testing.assert_allclose(read_device(fakes.cudart, out["metric_depth"]), _expected(image), rtol=1e-6)
        again = runner.run({"image": FakeCudaArray(fakes.cudart, _image(2, spec, seed=3))})
        assert again["metric_depth"].ptr == first  # the runner's buffer, reused
        np.testing.assert_allclose(read_device(fakes.cudart, again["metric_depth"]), _expected(_image(2, spec, seed=3)),
                                   rtol=1e-6)
    assert fakes.cudart.calls["cudaMemcpyAsync"] == 0 and fakes.cudart.calls["cudaMallocHost"] == 0
    assert cai == {"shape": (2, 1, 4, 6), "typestr": "<f4", "data": (first, False), "strides": None, "version": 3}
    assert fakes.cudart.live == NOTHING_LIVE


def test_run_into_given_outputs(fakes):
    image = _image(3)
    depth = FakeCudaArray(fakes.cudart, np.zeros((3, 1, 4, 6), np.float32))
    with TrtRunner(EngineSpec().serialize()) as runner:
        out = runner.run({"image": FakeCudaArray(fakes.cudart, image, version=2)}, outputs={"metric_depth": depth})
    assert out["metric_depth"].ptr == depth.ptr
    np.testing.assert_allclose(depth.array, _expected(image), rtol=1e-6)
    assert fakes.cudart.calls["cudaMalloc"] == 0


def test_run_accepts_dlpack_cuda_producers_and_hands_them_the_stream(fakes):
    image = _image(2)
    fakes.cudart.adopt(image)
    producer = DLPackProducer(image, device_type=2)
    with TrtRunner(EngineSpec().serialize()) as runner:
        out = runner.run({"image": producer})
        np.testing.assert_allclose(read_device(fakes.cudart, out["metric_depth"]), _expected(image), rtol=1e-6)
        (own,) = fakes.cudart.streams  # the one stream alive: the runner's, which run() uses without a stream=
    assert producer.streams == [own] and own not in cuda.DEFAULT_STREAMS


def test_run_on_a_caller_stream_is_asynchronous(fakes):
    theirs = fakes.cudart.new_stream()
    producer_stream = fakes.cudart.new_stream()
    with TrtRunner(EngineSpec().serialize()) as runner:
        syncs = fakes.cudart.calls["cudaStreamSynchronize"]
        out = runner.run({"image": FakeCudaArray(fakes.cudart, _image(), stream=producer_stream)}, stream=theirs)
        assert fakes.cudart.calls["cudaStreamSynchronize"] == syncs
        assert out["metric_depth"].__cuda_array_interface__["stream"] == theirs
        assert fakes.cudart.calls["cudaStreamWaitEvent"] == 1  # ordered after the producer's stream
        assert fakes.cudart.calls["cudaEventDestroy"] == fakes.cudart.calls["cudaEventCreateWithFlags"] == 1


@pytest.mark.parametrize("make,match", [
    (lambda c: {"image": _image()}, r"input 'image': ndarray lives in CPU memory, but run\(\) takes CUDA arrays"),
    (lambda c: {"image": FakeCudaArray(c, _image().astype(np.float16))}, r"input 'image' must be float32, got float16"),
    (lambda c: {"image": FakeCudaArray(c, _image()[:, :2])}, r"input 'image' must have shape \['N', 3, 4, 6\]"),
    (lambda c: {"img": FakeCudaArray(c, _image())}, r"takes inputs \['image'\]; got \['img'\]"),
    (lambda c: {"image": FakeCudaArray(c, _image(), device=1)}, r"input 'image' is on cuda:1, the engine on cuda:0"),
    (lambda c: {"image": [1, 2]}, r"input 'image': list is not a CUDA array: use runner.infer\(\) with numpy"),
])
def test_run_checks_inputs(fakes, make, match):
    with TrtRunner(EngineSpec().serialize()) as runner, pytest.raises(ZoeExportError, match=match):
        runner.run(make(fakes.cudart))


def test_run_rejects_non_contiguous_inputs(fakes):
    class Strided(FakeCudaArray):
        @property
        def __cuda_array_interface__(self):
            return {**super().__cuda_array_interface__, "strides": (0, 4 * 4 * 6, 4 * 6, 4)}

    with TrtRunner(EngineSpec().serialize()) as runner, pytest.raises(ZoeExportError, match="not C-contiguous"):
        runner.run({"image": Strided(fakes.cudart, _image(2))})


@pytest.mark.parametrize("outputs,match", [
    (lambda c: {"depth": FakeCudaArray(c, np.zeros((2, 1, 4, 6), np.float32))}, r"no outputs named \['depth'\]"),
    (lambda c: {"metric_depth": FakeCudaArray(c, np.zeros((2, 1, 4, 5), np.float32))},
     r"output 'metric_depth' must have shape \[2, 1, 4, 6\], got \[2, 1, 4, 5\]"),
    (lambda c: {"metric_depth": FakeCudaArray(c, np.zeros((2, 1, 4, 6), np.float32), readonly=True)}, "read-only"),
])
def test_run_checks_outputs(fakes, outputs, match):
    with TrtRunner(EngineSpec().serialize()) as runner, pytest.raises(ZoeExportError, match=match):
        runner.run({"image": FakeCudaArray(fakes.cudart, _image(2))}, outputs=outputs(fakes.cudart))


# -- CUDA graphs ----------------------------------------------------------------------------------------------
def test_cuda_graph_captures_once_then_replays(fakes):
    calls, trt_calls = fakes.cudart.calls, fakes.trt.calls
    image = FakeCudaArray(fakes.cudart, _image(2))
    with TrtRunner(EngineSpec().serialize(), cuda_graph=True) as runner:
        for seed in range(4):
            image.array[...] = _image(2, seed=seed)  # same address, new data
            out = runner.run({"image": image})
            np.testing.assert_allclose(read_device(fakes.cudart, out["metric_depth"]), _expected(image.array),
                                       rtol=1e-6)
        assert trt_calls["execute_async_v3"] == 2  # one plain run (TensorRT's warm-up), one captured
        assert trt_calls["execute_async_v3 (captured)"] == 1 and trt_calls["kernels run"] == 4
        assert calls["cudaStreamBeginCapture"] == calls["cudaGraphInstantiate"] == 1
        assert fakes.cudart.launched == 3
    assert fakes.cudart.live == NOTHING_LIVE


def test_cuda_graph_recaptures_when_an_address_or_shape_changes(fakes):
    calls = fakes.cudart.calls
    with TrtRunner(EngineSpec().serialize(), cuda_graph=True) as runner:
        first = FakeCudaArray(fakes.cudart, _image(2))
        runner.run({"image": first})
        runner.run({"image": first})
        other = FakeCudaArray(fakes.cudart, _image(2, seed=1))  # another address
        out = runner.run({"image": other})
        np.testing.assert_allclose(read_device(fakes.cudart, out["metric_depth"]), _expected(other.array), rtol=1e-6)
        assert calls["cudaStreamBeginCapture"] == 2 and calls["cudaGraphExecDestroy"] == 1
        runner.run({"image": FakeCudaArray(fakes.cudart, _image(3))})  # another batch (and output buffer)
        assert calls["cudaStreamBeginCapture"] == 3
        assert fakes.cudart.live["graph_execs"] == 1
    assert fakes.cudart.live == NOTHING_LIVE


def test_cuda_graph_with_host_arrays(fakes):
    with TrtRunner(EngineSpec().serialize(), cuda_graph=True) as runner:
        for seed in range(3):
            image = _image(2, seed=seed)
            np.testing.assert_allclose(runner.infer({"image": image})["metric_depth"], _expected(image), rtol=1e-6)
    assert fakes.cudart.calls["cudaStreamBeginCapture"] == 1 and fakes.cudart.launched == 2


def test_cuda_graph_capture_failure_is_clear_and_leaves_no_capture(fakes):
    fakes.trt.fail_capture = True
    with TrtRunner(EngineSpec().serialize(), cuda_graph=True) as runner:
        with pytest.raises(ZoeExportError, match=r"cannot be captured; use cuda_graph=False"):
            runner.infer({"image": _image()})
        assert all(work is None for work in fakes.cudart.streams.values())  # capture ended
        assert fakes.cudart.live["graphs"] == fakes.cudart.live["graph_execs"] == 0
    assert fakes.cudart.live == NOTHING_LIVE


def test_cuda_graph_instantiate_failure(fakes):
    fakes.cudart.fail("cudaGraphInstantiate", cudaError_t.cudaErrorStreamCaptureUnsupported)
    with TrtRunner(EngineSpec().serialize(), cuda_graph=True) as runner:
        with pytest.raises(cuda.CudaError, match="cudaGraphInstantiate failed.*run it with cuda_graph=False"):
            runner.infer({"image": _image()})
        assert fakes.cudart.live["graphs"] == 0
    assert fakes.cudart.live == NOTHING_LIVE


def test_cuda_graph_refuses_the_default_stream(fakes):
    runner = TrtRunner(EngineSpec().serialize(), cuda_graph=True)
    with runner, pytest.raises(ZoeExportError, match="cannot capture on the default stream"):
        runner.run({"image": FakeCudaArray(fakes.cudart, _image())}, stream=0)


# -- the CUDA layer on its own ----------------------------------------------------------------------------
def test_cuda_helpers(fakes):
    props = cuda.device_properties(0)
    assert (props.name, props.major, props.minor) == ("Fake GPU", 8, 9) and props.compute_capability == "8.9"
    assert props.total_memory == 16 * 2**30 and cuda.memory_info() == (16 * 2**30, 16 * 2**30)
    assert cuda.driver_version() == 12090 and cuda.version_text(cuda.runtime_version()) == "12.9"
    assert cuda.check((cudaError_t.cudaSuccess,)) is None
    assert cuda.check((cudaError_t.cudaSuccess, 5)) == 5 and cuda.check((cudaError_t.cudaSuccess, 1, 2)) == (1, 2)
    with pytest.raises(cuda.CudaError, match=r"cudaFoo failed: cudaErrorInvalidValue \(invalid argument\)\.$"):
        cuda.check((cudaError_t.cudaErrorInvalidValue, None), "cudaFoo")
    stream = cuda.Stream()
    assert cuda.stream_handle(stream) == stream.handle and stream.handle in fakes.cudart.streams
    assert cuda.stream_handle(Handle(0x4200)) == 0x4200  # cuda-python's cudaStream_t: an object with __int__
    assert cuda.stream_handle(7) == 7
    assert cuda.stream_handle(type("TorchStream", (), {"cuda_stream": 9})()) == 9
    with pytest.raises(ZoeExportError, match="cannot use 'x' as a CUDA stream"):
        cuda.stream_handle("x")
    with pytest.raises(ZoeExportError, match="cannot be captured on the default stream"):
        cuda.CudaGraph(0, lambda: None)
    stream.close()
    stream.close()  # idempotent
    assert fakes.cudart.live["streams"] == 0


def test_no_driver_and_an_old_driver_are_told_apart(fakes):
    fakes.cudart.driver = 0  # what cuda-python reports with no libcuda: every call fails, driver version 0
    with pytest.raises(cuda.CudaError, match="cudaErrorInsufficientDriver.*No NVIDIA driver is loaded") as info:
        cuda.device_count()
    assert "update the driver" not in str(info.value)
    fakes.cudart.driver = 11080
    fakes.cudart.fail("cudaMalloc", cudaError_t.cudaErrorInsufficientDriver)
    with pytest.raises(cuda.CudaError, match=r"supports CUDA 11\.8, older than .*\(CUDA 12\.9\): update the driver"):
        cuda.DeviceBuffer(16)


def test_a_failed_call_returns_as_many_values_as_a_good_one(fakes):
    fakes.cudart.fail("cudaMemGetInfo")
    fakes.cudart.fail("cudaMemGetInfo")
    assert fakes.cudart.cudaMemGetInfo() == (cudaError_t.cudaErrorMemoryAllocation, None, None)
    with pytest.raises(cuda.CudaError, match="cudaMemGetInfo failed: cudaErrorMemoryAllocation"):
        cuda.memory_used_mb()


def test_events_time_the_work_between_them(fakes):
    stream, start, end = cuda.Stream(), cuda.Event(), cuda.Event()
    buffer = cuda.DeviceBuffer(64)
    start.record(stream)
    buffer.copy_from_host(np.ones(16, np.float32), stream)
    end.record(stream)
    assert start.elapsed_ms(end) >= 0
    cuda.close_all(start, end, buffer, stream)
    assert fakes.cudart.live == NOTHING_LIVE


def test_device_buffer_round_trip_and_reuse(fakes):
    stream = cuda.Stream()
    buffer = cuda.DeviceBuffer(64)
    assert not buffer.ensure(32) and buffer.nbytes == 64  # reused
    data = np.arange(16, dtype=np.float32)
    buffer.copy_from_host(data, stream)
    back = np.zeros_like(data)
    buffer.copy_to_host(back, stream)
    stream.synchronize()
    np.testing.assert_array_equal(back, data)
    with pytest.raises(ValueError, match="do not fit"):
        buffer.copy_from_host(np.zeros(17, np.float32), stream)
    with pytest.raises(ValueError, match="C-contiguous"):
        buffer.copy_from_host(data[::2], stream)
    assert buffer.ensure(128) and fakes.cudart.calls["cudaFree"] == 1  # grown: the old one freed
    cuda.close_all(buffer, None, stream)
    buffer.close()
    assert fakes.cudart.live == NOTHING_LIVE


# -- a real engine on a real GPU -----------------------------------------------------------------------------
@pytest.mark.gpu
def test_real_engine_on_a_gpu():
    pytest.importorskip("tensorrt", reason="TensorRT is not installed (pip install 'zoe-export[trt]')")
    try:
        gpus = cuda.device_count()
    except ZoeExportError as exc:
        pytest.skip(f"no usable CUDA runtime: {exc}")
    if gpus == 0:
        pytest.skip("no CUDA GPU")
    engine = os.environ.get("ZOE_TEST_ENGINE")
    if not engine:
        pytest.skip("set ZOE_TEST_ENGINE to an engine built here by `zoe-export trt` (e.g. engines/zoed_m12_n.engine)")
    with TrtRunner(engine) as runner:
        spec = runner.input_specs()[0]
        shape = tuple(1 if d is None else d for d in spec.shape)
        rng = np.random.default_rng(0)
        batch = (rng.random(shape) if spec.dtype.kind == "f" else rng.integers(0, 256, shape)).astype(spec.dtype)
        out = runner.infer({spec.name: batch})
        assert list(out) == runner.output_names
        assert [i["name"] for i in runner.engine_info()["outputs"]] == runner.output_names
    assert all(np.isfinite(v).all() for v in out.values())
    with TrtRunner(engine, cuda_graph=True) as graphed:
        for _ in range(3):
            again = graphed.infer({spec.name: batch})
    for name, value in out.items():
        np.testing.assert_allclose(again[name], value, rtol=1e-3, atol=1e-3)
