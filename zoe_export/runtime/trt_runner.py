"""The TensorRT backend (TensorRT 10 and 11, the name-based tensor API, ``execute_async_v3``).

    with TrtRunner("engines/zoed_m12_nk_fp16.engine") as runner:
        out = runner.infer({"image": batch})                 # numpy in, numpy out
        dev = runner.run({"image": torch_cuda_tensor})       # CUDA arrays in, DeviceArray views out
        depth = torch.as_tensor(dev["metric_depth"], device="cuda")

``infer`` copies through page-locked host buffers; ``run`` binds the callers' device pointers
directly (anything with ``__cuda_array_interface__`` or ``__dlpack__``). Device buffers are kept
and reused across calls and grow when shapes grow. An engine with free dimensions (a dynamic batch,
a dynamic height and width: ``zoe-export trt --batch-profile/--size-profile``) takes each call's
shapes from its inputs, checked against the engine's profile before anything runs on the GPU; the
outputs are sized from the shapes TensorRT resolves for them. With ``cuda_graph=True`` the enqueue is
captured into a CUDA graph and replayed while shapes and addresses stay the same.

TensorRT and cuda-python are imported when the runner activates, never at import time.
"""
from __future__ import annotations

import collections
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._files import existing_file
from ..errors import ZoeExportError
from ..sizes import Size, SizeProfile, format_size
from ..trt import cuda
from ..trt.api import import_tensorrt, tensorrt_factory
from ..tensors import TensorSpec
from .base import Runner
from .device_arrays import DeviceArray, DeviceView, as_device_view

if TYPE_CHECKING:  # the types the contract tests check our calls against
    import tensorrt as trt

log = logging.getLogger("zoe_export")

# TensorRT DataType names -> numpy (the IO types an engine of ours can have)
_TRT_DTYPES = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
               "BOOL": np.bool_, "UINT8": np.uint8}
_LOG_LEVELS = {"INTERNAL_ERROR": logging.CRITICAL, "ERROR": logging.ERROR, "WARNING": logging.WARNING,
               "INFO": logging.DEBUG, "VERBOSE": logging.DEBUG}
REBUILD = "rebuild it on this machine with `zoe-export trt`"


def _make_logger():
    """A ``trt.ILogger`` that routes TensorRT's messages to the ``zoe_export`` logger (and keeps its errors)."""
    trt = import_tensorrt()

    class _Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)  # pybind11 needs the base initialised explicitly
            self.errors = collections.deque(maxlen=5)

        def log(self, severity, msg):
            level = _LOG_LEVELS.get(getattr(severity, "name", str(severity)).rsplit(".", 1)[-1], logging.INFO)
            if level >= logging.ERROR:
                self.errors.append(str(msg))
            log.log(level, "TensorRT: %s", msg)

    return _Logger()


@dataclass(frozen=True)
class _Tensor:
    """An engine tensor: its spec (TensorRT's -1 read as None, a dimension set at run time), direction, profile."""

    spec: TensorSpec
    is_input: bool
    profile: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None  # inputs: min, opt, max

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def size_axes(self) -> tuple[int, int] | None:
        """The height and width axes of an image input whose size is free (NCHW: 2, 3; NHWC: 1, 2), else None."""
        shape = self.spec.shape
        if not self.is_input or len(shape) != 4:
            return None
        axes = (2, 3) if shape[1] in (1, 3) else (1, 2) if shape[3] in (1, 3) else None
        return axes if axes and all(shape[a] is None for a in axes) else None

    @property
    def dtype(self) -> np.dtype:
        return self.spec.dtype


class TrtRunner(Runner):
    """A TensorRT engine (a file or its bytes) on one GPU, behind the :class:`Runner` interface.

    ``cuda_graph=True`` captures the enqueue into a CUDA graph after one ordinary run per
    (shapes, addresses) and replays it while they stay the same; any change captures anew.
    """

    name = "tensorrt"

    def __init__(self, engine: str | Path | bytes | trt.IHostMemory, *, device: int = 0, cuda_graph: bool = False):
        super().__init__()
        self.engine, self.device, self.cuda_graph = engine, int(device), bool(cuda_graph)
        self._clear()

    def _clear(self) -> None:
        self._logger = self._runtime = self._engine = self._context = self._stream = None
        self._tensors: dict[str, _Tensor] = {}
        self._device_buffers: dict[str, cuda.DeviceBuffer] = {}
        self._host_buffers: dict[str, cuda.HostBuffer] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}  # input shapes set on the context
        self._addresses: dict[str, int] = {}  # tensor addresses set on the context
        self._graph, self._graph_key = None, None
        self._inflight = None  # the last run()'s arrays, alive until the next call

    # -- lifecycle -------------------------------------------------------------------------------
    def _activate(self) -> None:
        import_tensorrt()  # both packages first: a missing one is named before anything else happens
        cuda.import_cudart()
        data = self._engine_bytes()
        cuda.set_device(self.device)
        try:
            self._load(data)
            self._stream = cuda.Stream()
        except BaseException:
            try:
                self._release()
            except Exception:
                log.debug("TensorRT runner: cleanup after a failed activation failed too", exc_info=True)
            raise

    def _engine_bytes(self) -> bytes:
        if not self._from_file:
            return memoryview(self.engine).tobytes()  # bytes, or the IHostMemory a build returns (no len())
        return existing_file(self.engine, "engine file", "build it with zoe-export trt.").read_bytes()

    def _load(self, data: bytes) -> None:
        trt = import_tensorrt()
        self._logger = _make_logger()
        with tensorrt_factory("a runtime"):
            self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise ZoeExportError(self._deserialize_error())
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise ZoeExportError(
                f"TensorRT could not create an execution context for {self._source()}{self._trt_said()}: usually "
                "the GPU has too little free memory for the engine's activations. Free GPU memory, or rebuild the "
                "engine with a smaller batch profile (zoe-export trt --batch-profile 1:1:N).")
        self._tensors = _read_tensors(self._engine)

    def _deserialize_error(self) -> str:
        try:
            gpu = cuda.device_properties(self.device)
            here = f"; this is {gpu.name}, compute capability {gpu.compute_capability}"
        except ZoeExportError:
            here = ""
        return (f"TensorRT {import_tensorrt().__version__} could not load {self._source()}{self._trt_said()}. "
                f"Most likely it was built with another TensorRT version or for another GPU (engines only run on "
                f"the TensorRT version and compute capability that built them{here}), or the file is not a "
                f"complete engine: {REBUILD}.")

    @property
    def _from_file(self) -> bool:
        return isinstance(self.engine, (str, os.PathLike))

    def _source(self) -> str:
        if not self._from_file:
            return "the engine bytes"
        return f"engine {self.engine}"

    def _trt_said(self) -> str:
        errors = list(getattr(self._logger, "errors", ()))
        return f" (TensorRT: {errors[-1]})" if errors else ""

    def _deactivate(self) -> None:
        self._release()

    def _release(self) -> None:
        """Free everything (idempotent); the first failure is raised once all is freed."""
        graph, buffers = self._graph, [*self._device_buffers.values(), *self._host_buffers.values()]
        stream = self._stream
        try:
            if stream is not None:
                stream.synchronize()  # no kernel may still use the buffers freed below
        finally:
            # TensorRT objects go first, in dependency order: context, engine, runtime, then the logger
            self._context = None
            self._engine = None
            self._runtime = None
            self._logger = None
            self._clear()
            cuda.close_all(graph, *buffers, stream)

    # -- the interface ---------------------------------------------------------------------------
    def input_specs(self) -> list[TensorSpec]:
        return [t.spec for t in self._io(inputs=True)]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self._io(inputs=False)]

    def engine_info(self) -> dict:
        """IO names, dtypes, shapes (None for dynamic) and, for inputs, the profile's min/opt/max."""
        def entry(t: _Tensor) -> dict:
            item = {"name": t.name, "dtype": t.dtype.name, "shape": list(t.spec.shape)}
            if t.is_input:
                item["profile"] = dict(zip(("min", "opt", "max"), (list(s) for s in t.profile)))
            return item

        return {"inputs": [entry(t) for t in self._io(inputs=True)],
                "outputs": [entry(t) for t in self._io(inputs=False)]}

    def _io(self, inputs: bool) -> list[_Tensor]:
        if not self.is_active and not self._tensors:
            raise ZoeExportError(f"{self.name} is not active: use it as a context manager or call activate() first.")
        return [t for t in self._tensors.values() if t.is_input == inputs]

    # -- host arrays -----------------------------------------------------------------------------
    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cuda.set_device(self.device)
        self._inflight = None
        stream = self._stream
        shapes = {name: tuple(int(d) for d in array.shape) for name, array in feed_dict.items()}
        out_shapes = self._set_shapes(shapes)  # checked against the profile before anything is copied or runs
        for name, array in feed_dict.items():
            staged = self._host_buffer(name, array.nbytes).array(array.shape, array.dtype)
            np.copyto(staged, array)
            self._device_buffer(name, array.nbytes).copy_from_host(staged, stream)
        for name, shape in out_shapes.items():
            self._device_buffer(name, _nbytes(shape, self._tensors[name].dtype))
        self._execute(shapes, {name: buf.ptr for name, buf in self._device_buffers.items()}, stream.handle)
        results = {}
        for name, shape in out_shapes.items():
            dtype = self._tensors[name].dtype
            results[name] = self._host_buffer(name, _nbytes(shape, dtype)).array(shape, dtype)
            self._device_buffers[name].copy_to_host(results[name], stream)
        stream.synchronize()
        return {name: array.copy() for name, array in results.items()}

    def _device_buffer(self, name: str, nbytes: int) -> cuda.DeviceBuffer:
        return _grown(self._device_buffers, cuda.DeviceBuffer, name, nbytes)

    def _host_buffer(self, name: str, nbytes: int) -> cuda.HostBuffer:
        return _grown(self._host_buffers, cuda.HostBuffer, name, nbytes)

    # -- device arrays ---------------------------------------------------------------------------
    def run(self, inputs: dict, outputs: dict | None = None, stream=None) -> dict[str, DeviceArray]:
        """Run on CUDA arrays without host copies; returns a :class:`DeviceArray` per output.

        ``inputs`` (and ``outputs``, for some or all outputs) are CUDA arrays of any library with
        ``__cuda_array_interface__`` or ``__dlpack__``, C-contiguous, of the engine's dtypes and
        shapes. Outputs not given land in the runner's own buffers: those views stay valid only
        until the next ``run``/``infer`` (copy what you keep). ``stream=None`` runs on the runner's
        stream and waits for the results; pass your stream (int handle, torch/CuPy/cuda-python
        stream) to queue the work there and return at once.
        """
        if not self.is_active:
            raise ZoeExportError(f"{self.name} is not active: use it as a context manager or call activate() first.")
        handle = self._stream.handle if stream is None else cuda.stream_handle(stream)
        if self.cuda_graph and handle in cuda.DEFAULT_STREAMS:
            raise ZoeExportError("cuda_graph=True cannot capture on the default stream: pass a stream of your own, "
                                 "or stream=None for the runner's.")
        cuda.set_device(self.device)
        self._inflight = None
        views = self._input_views(inputs, handle)
        shapes = {name: view.shape for name, view in views.items()}
        self._check_shapes(shapes)  # before the stream waits for anything
        for view in views.values():
            if view.stream is not None:
                cuda.wait_stream(handle, view.stream)  # __cuda_array_interface__ v3: order after the producer
        out_views = self._output_views(outputs or {}, self._set_shapes(shapes), handle)
        self._execute(shapes, {name: v.ptr for name, v in {**views, **out_views}.items()}, handle)
        if stream is None:
            self._stream.synchronize()
        self._inflight = (views, out_views)
        return {name: DeviceArray(v.ptr, v.shape, v.dtype, self.device, stream=None if stream is None else handle,
                                  owner=v.keepalive if v.keepalive is not None else self)
                for name, v in out_views.items()}

    def _input_views(self, inputs: dict, handle: int) -> dict[str, DeviceView]:
        specs = {s.name: s for s in self.input_specs()}
        if set(inputs) != set(specs):
            raise ZoeExportError(f"{self.name} takes inputs {sorted(specs)}; got {sorted(inputs)}.")
        views = {}
        for name, spec in specs.items():
            view = as_device_view(inputs[name], handle, what=f"input {name!r}")
            self._check_view(view, spec.dtype, spec.shape, f"input {name!r}")
            views[name] = view
        return views

    def _output_views(self, outputs: dict, shapes: dict[str, tuple[int, ...]], handle: int) -> dict[str, DeviceView]:
        unknown = sorted(set(outputs) - set(shapes))
        if unknown:
            raise ZoeExportError(f"{self.name}: no outputs named {unknown}; the engine's outputs are {sorted(shapes)}.")
        views = {}
        for name, shape in shapes.items():
            dtype = self._tensors[name].dtype
            if name in outputs:
                view = as_device_view(outputs[name], handle, what=f"output {name!r}")
                self._check_view(view, dtype, shape, f"output {name!r}")
                if view.readonly:
                    raise ZoeExportError(f"output {name!r} is read-only: pass a writeable array.")
            else:
                buffer = self._device_buffer(name, _nbytes(shape, dtype))
                view = DeviceView(buffer.ptr, shape, dtype, None, self.device)
            views[name] = view
        return views

    def _check_view(self, view: DeviceView, dtype: np.dtype, shape: tuple, what: str) -> None:
        if view.dtype != dtype:
            raise ZoeExportError(f"{self.name}: {what} must be {dtype}, got {view.dtype}.")
        wanted = TensorSpec(what, dtype, shape)
        if not wanted.accepts(tuple(view.shape)):
            raise ZoeExportError(f"{self.name}: {what} must have shape {wanted.shape_text()}, got {list(view.shape)}.")
        if view.device_id is not None and view.device_id != self.device:
            raise ZoeExportError(f"{self.name}: {what} is on cuda:{view.device_id}, the engine on cuda:{self.device}: "
                                 f"move it (tensor.to('cuda:{self.device}')) or make a runner with device="
                                 f"{view.device_id}.")

    # -- shapes, addresses, execution ------------------------------------------------------------
    def _check_shapes(self, shapes: dict[str, tuple[int, ...]]) -> None:
        """Raise unless every dynamic input's shape lies within the engine's profile (one error, naming the fix)."""
        for name, shape in shapes.items():
            tensor = self._tensors[name]
            if tensor.spec.dynamic and self._shapes.get(name) != shape:
                _check_profile(tensor, shape)

    def _set_shapes(self, shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        """Set the dynamic input shapes (checked against the profile); return every output's shape, as the context
        resolves it for these inputs (a frame engine's depth has the frame's height and width)."""
        self._check_shapes(shapes)
        for name, shape in shapes.items():
            tensor = self._tensors[name]
            if not tensor.spec.dynamic or self._shapes.get(name) == shape:
                continue
            self._shapes.pop(name, None)
            if not self._context.set_input_shape(name, shape):
                raise ZoeExportError(f"TensorRT refused shape {list(shape)} for input {name!r}{self._trt_said()}; "
                                     f"the engine's profile is min {list(tensor.profile[0])}, max "
                                     f"{list(tensor.profile[2])}.")
            self._shapes[name] = shape
        return {t.name: self._output_shape(t.name) for t in self._io(inputs=False)}

    def _output_shape(self, name: str) -> tuple[int, ...]:
        shape = tuple(int(d) for d in self._context.get_tensor_shape(name))
        if any(d < 0 for d in shape):
            raise ZoeExportError(f"TensorRT could not work out the shape of output {name!r} ({list(shape)}) from the "
                                 f"inputs{self._trt_said()}: set every input, with shapes inside the profile.")
        return shape

    def _execute(self, shapes: dict, addresses: dict[str, int], stream: int) -> None:
        """Bind the addresses and enqueue: plainly, by replaying the CUDA graph, or capturing a new one."""
        self._bind(addresses)
        if not self.cuda_graph:
            self._enqueue(stream)
            return
        key = (tuple(sorted(shapes.items())), tuple(sorted(addresses.items())))
        if self._graph is not None and self._graph_key == key:
            self._graph.launch(stream)
            return
        self._drop_graph()
        self._enqueue(stream)  # TensorRT must run once after shape changes before its work can be captured
        self._graph = cuda.CudaGraph(stream, lambda: self._enqueue(stream, capturing=True))
        self._graph_key = key

    def _bind(self, addresses: dict[str, int]) -> None:
        for name, ptr in addresses.items():
            if self._addresses.get(name) == ptr:
                continue
            self._addresses.pop(name, None)
            if not self._context.set_tensor_address(name, ptr):
                raise ZoeExportError(f"TensorRT refused the address {ptr:#x} for tensor {name!r}{self._trt_said()}: "
                                     "device memory must be allocated on the engine's GPU and suitably aligned "
                                     "(256 bytes; a sliced tensor may not be).")
            self._addresses[name] = ptr

    def _enqueue(self, stream: int, capturing: bool = False) -> None:
        if self._context.execute_async_v3(stream):
            return
        if capturing:
            raise ZoeExportError(f"TensorRT could not run inside CUDA graph capture{self._trt_said()}: this engine "
                                 "cannot be captured; use cuda_graph=False.")
        raise ZoeExportError(f"TensorRT execute_async_v3 failed{self._trt_said()}: check the logged TensorRT errors; "
                             f"if the engine is at fault, {REBUILD}.")

    def _drop_graph(self) -> None:
        graph, self._graph, self._graph_key = self._graph, None, None
        if graph is not None:
            graph.close()


def _grown(pool: dict, kind, name: str, nbytes: int):
    """The buffer ``pool[name]`` (made on first use), with room for ``nbytes``."""
    if name not in pool:
        pool[name] = kind()
    pool[name].ensure(nbytes)
    return pool[name]


def _read_tensors(engine: trt.ICudaEngine) -> dict[str, _Tensor]:
    trt = import_tensorrt()
    tensors = {}
    for index in range(engine.num_io_tensors):
        name = engine.get_tensor_name(index)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        dtype = _np_dtype(engine.get_tensor_dtype(name), name)
        shape = tuple(int(d) for d in engine.get_tensor_shape(name))
        profile = _profile(engine, name, shape) if is_input else None
        tensors[name] = _Tensor(TensorSpec(name, dtype, shape), is_input, profile)
    return tensors


def _np_dtype(trt_dtype, name: str) -> np.dtype:
    key = getattr(trt_dtype, "name", str(trt_dtype)).rsplit(".", 1)[-1]
    if key not in _TRT_DTYPES:
        raise ZoeExportError(f"engine tensor {name!r} has TensorRT type {key}, which has no numpy equivalent here: "
                             "build the engine with FP32/FP16 inputs and outputs (zoe-export trt does).")
    return np.dtype(_TRT_DTYPES[key])


def _profile(engine: trt.ICudaEngine, name: str, shape: tuple[int, ...]):
    """Profile 0's (min, opt, max) for a dynamic input; the shape itself for a static one."""
    if all(d >= 0 for d in shape):
        return shape, shape, shape
    low, opt, high = engine.get_tensor_profile_shape(name, 0)
    return tuple(int(d) for d in low), tuple(int(d) for d in opt), tuple(int(d) for d in high)


def _check_profile(tensor: _Tensor, shape: tuple[int, ...]) -> None:
    low, opt, high = tensor.profile
    if len(shape) != len(low):
        raise ZoeExportError(f"input {tensor.name!r} must have {len(low)} dimensions, got {list(shape)}.")
    size_axes = tensor.size_axes or ()
    for axis, (d, lo, hi) in enumerate(zip(shape, low, high)):
        if lo <= d <= hi or axis in size_axes:
            continue
        if axis == 0:
            fix = (f"send at most {hi} images per call, or rebuild the engine with zoe-export trt --batch-profile "
                   f"{lo}:{opt[0]}:{d}" if d > hi else
                   f"send at least {lo} images per call, or rebuild the engine with zoe-export trt --batch-profile "
                   f"{max(d, 1)}:{opt[0]}:{hi}")
            raise ZoeExportError(f"batch {d} is outside the engine's profile for input {tensor.name!r} "
                                 f"(batch {lo} to {hi}): {fix}.")
        raise ZoeExportError(f"input {tensor.name!r} dimension {axis} is {d}, outside the engine's profile "
                             f"({lo} to {hi}): resize the input, or rebuild the engine for that size.")
    if size_axes:
        _check_size(tensor, shape, size_axes)


def _check_size(tensor: _Tensor, shape: tuple[int, ...], axes: tuple[int, int]) -> None:
    """An input's height and width against the engine's size profile, with the profile that would take it."""
    size, sizes = _hw(shape, axes), SizeProfile(*(_hw(s, axes) for s in tensor.profile))
    if sizes.contains(size):
        return
    wider = SizeProfile(tuple(map(min, sizes.min, size)), sizes.opt, tuple(map(max, sizes.max, size)))
    raise ZoeExportError(
        f"input {tensor.name!r} is {format_size(size)} (height x width), outside the engine's size profile "
        f"{sizes.text} (MIN:OPT:MAX): resize it to a size from {format_size(sizes.min)} to {format_size(sizes.max)}, "
        f"or rebuild the engine for it: zoe-export trt --size-profile MIN:OPT:MAX (e.g. {wider.text}; the graph "
        "decides which sizes it takes).")


def _hw(shape: tuple[int, ...], axes: tuple[int, int]) -> Size:
    return int(shape[axes[0]]), int(shape[axes[1]])


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize


def open_engine(path: str | Path, *, cuda_graph: bool = False, device: int = 0,
                check_environment: bool = True) -> TrtRunner:
    """The TensorRT backend's opener: the engine's manifest is checked against this TensorRT and GPU before
    anything is deserialised (TensorRT's own failure there is a crash or a cryptic log line)."""
    from ..trt.environment import probe_environment
    from ..trt.manifest import check_compatible, read_manifest

    existing_file(path, "engine", "build it with zoe-export trt --onnx MODEL.onnx.")
    if check_environment:
        check_compatible(read_manifest(path), probe_environment(), path)
    return TrtRunner(path, cuda_graph=cuda_graph, device=device)
