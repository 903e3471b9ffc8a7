"""Fakes of TensorRT: the runtime the runner uses, and the builder objects Polygraphy's loaders touch.

Runtime side: ``FakeTensorRT`` deserialises engines made by :meth:`EngineSpec.serialize`:
``metric_depth = mean over channels of the image + 1``, shape (B, 1, H, W), and optionally
``domain_logits = [mean of the image, -1]``, shape (B, 2). With ``sizes`` the height and width are
free within that profile (-1 in the engine's shapes, set per call with ``set_input_shape``); with
``io="frame"`` the input is ``frame``, uint8 (B, H, W, 3), and ``metric_depth`` (B, H, W). Shapes come
back as :class:`Dims` (a sequence with ``len`` and indexing, not a tuple), as the real API returns them;
the context refuses shapes outside the profile, and resolves output shapes only once every free input
dimension is set, as TensorRT does.

Builder side (used with the real ``tensorrt`` module's enums, in tests/contract): ``FakeBuilder``
makes a config and profiles, and ``build_serialized_network`` reports its phases to the config's
progress monitor and returns a :class:`FakeHostMemory`: the buffer protocol and ``nbytes``, no
``len()``, exactly what TensorRT returns.

    fakes = install(monkeypatch)          # TrtRunner now runs on fakes.cudart and fakes.trt
    runner = TrtRunner(EngineSpec().serialize())
"""
from __future__ import annotations

import ctypes
import enum
import json
from collections import Counter
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import numpy as np

from .arrays import device_numpy
from .cudart import FakeCudart, cudaError_t


# -- enums and small types ------------------------------------------------------------------------------
class Severity(enum.Enum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class TensorIOMode(enum.Enum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class DataType(enum.Enum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3
    BOOL = 4
    UINT8 = 5
    FP8 = 6
    BF16 = 7
    INT64 = 8
    INT4 = 9
    FP4 = 10


class ErrorCode(enum.Enum):
    SUCCESS = 0
    MODEL_DESERIALIZE_FAILED = 3
    INVALID_GRAPH = 5
    UNSUPPORTED_NODE = 8


for _enum, _real in ((Severity, "tensorrt.ILogger.Severity"), (TensorIOMode, "tensorrt.TensorIOMode"),
                     (DataType, "tensorrt.DataType"), (ErrorCode, "tensorrt.ErrorCode")):
    _enum.REAL = _real  # set after the class: in its body it would become a member

_DTYPES = {np.dtype(np.float32): DataType.FLOAT, np.dtype(np.float16): DataType.HALF,
           np.dtype(np.uint8): DataType.UINT8}


class Dims:
    """``trt.Dims``: a shape with ``len`` and indexing (iteration through ``__getitem__``), not a tuple."""

    REAL = "tensorrt.Dims"

    def __init__(self, shape=()):
        self._shape = [int(d) for d in shape]

    def __len__(self) -> int:
        return len(self._shape)

    def __getitem__(self, index: int) -> int:
        return self._shape[index]  # IndexError past the end ends iteration, as with the real Dims

    def __setitem__(self, index: int, value: int) -> None:
        self._shape[index] = int(value)

    def __eq__(self, other) -> bool:
        return list(self) == list(other)

    def __repr__(self) -> str:
        return f"Dims({self._shape})"


class ILogger:
    REAL = "tensorrt.ILogger"
    Severity = Severity

    def __init__(self):
        self._initialised = True


class FakeHostMemory(ctypes.Structure):
    """``trt.IHostMemory``: the buffer protocol and ``nbytes``, no ``len()`` (sized subclasses hold the bytes)."""

    REAL = "tensorrt.IHostMemory"
    FAKE_ONLY = frozenset({"of"})

    @classmethod
    def of(cls, data: bytes) -> FakeHostMemory:
        sized = type(cls.__name__, (cls,), {"_fields_": [("_data", ctypes.c_uint8 * len(data))]})
        return sized.from_buffer_copy(data)

    @property
    def nbytes(self) -> int:
        return ctypes.sizeof(self)

    @property
    def dtype(self) -> DataType:
        return DataType.UINT8

    def __enter__(self) -> FakeHostMemory:  # tensorrt/__init__.py adds these (deprecated; Polygraphy uses them)
        return self

    def __exit__(self, *exc) -> None:
        pass


class FakeParserError:
    REAL = "tensorrt.ParserError"

    def __init__(self, node: int, desc: str, code: ErrorCode = ErrorCode.UNSUPPORTED_NODE, name: str = "",
                 op: str = ""):
        self._node, self._desc, self._code, self._name, self._op = node, desc, code, name, op

    def node(self) -> int:
        return self._node

    def node_name(self) -> str:
        return self._name

    def node_operator(self) -> str:
        return self._op

    def desc(self) -> str:
        return self._desc

    def code(self) -> ErrorCode:
        return self._code


# -- the runtime: engines, contexts ------------------------------------------------------------------------
@dataclass
class EngineSpec:
    """The engine a fake ``deserialize_cuda_engine`` returns. ``batch`` None: a static batch of 1; ``sizes`` None:
    a static height x width, else the profile's (min, opt, max) (height, width)."""

    height: int = 4
    width: int = 6
    channels: int = 3
    batch: tuple[int, int, int] | None = (1, 2, 4)  # min, opt, max
    dtype: str = "float32"
    domain_logits: bool = False
    sizes: tuple[tuple[int, int], tuple[int, int], tuple[int, int]] | None = None  # min, opt, max (height, width)
    io: str = "model"  # model: image (B, C, H, W) -> (B, 1, H, W); frame: frame uint8 (B, H, W, C) -> (B, H, W)

    def serialize(self) -> bytes:
        return b"FAKE-TRT-ENGINE" + json.dumps(asdict(self)).encode()

    @classmethod
    def parse(cls, data) -> EngineSpec | None:
        data = memoryview(data).tobytes()
        if not data.startswith(b"FAKE-TRT-ENGINE"):
            return None
        fields = json.loads(data[len(b"FAKE-TRT-ENGINE"):])
        fields["batch"] = tuple(fields["batch"]) if fields["batch"] else None
        fields["sizes"] = tuple(tuple(s) for s in fields["sizes"]) if fields.get("sizes") else None
        return cls(**fields)

    @property
    def input_name(self) -> str:
        return "frame" if self.io == "frame" else "image"

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.io == "frame" else self.dtype)

    @property
    def size_axes(self) -> tuple[int, int]:
        return (1, 2) if self.io == "frame" else (2, 3)

    def input_shape(self, batch: int, size: tuple[int, int] | None = None) -> tuple[int, ...]:
        height, width = size or ((-1, -1) if self.sizes else (self.height, self.width))
        if self.io == "frame":
            return batch, height, width, self.channels
        return batch, self.channels, height, width

    def output_shapes(self, batch: int, size: tuple[int, int] | None = None) -> dict[str, tuple[int, ...]]:
        height, width = size or ((-1, -1) if self.sizes else (self.height, self.width))
        shapes = {"metric_depth": (batch, height, width) if self.io == "frame" else (batch, 1, height, width)}
        if self.domain_logits:
            shapes["domain_logits"] = (batch, 2)
        return shapes

    def profile(self) -> list[tuple[int, ...]]:
        """The input's (min, opt, max) shapes."""
        batches = self.batch or (1, 1, 1)
        sizes = self.sizes or ((self.height, self.width),) * 3
        return [self.input_shape(b, s) for b, s in zip(batches, sizes)]


class FakeEngine:
    REAL = "tensorrt.ICudaEngine"
    FAKE_ONLY = frozenset({"trt", "spec", "names"})

    def __init__(self, trt: FakeTensorRT, spec: EngineSpec):
        self.trt, self.spec = trt, spec
        self.names = [spec.input_name, *spec.output_shapes(1)]

    @property
    def num_io_tensors(self) -> int:
        return len(self.names)

    def get_tensor_name(self, index: int) -> str:
        return self.names[index]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return TensorIOMode.INPUT if name == self.spec.input_name else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> DataType:
        return _DTYPES[self.spec.input_dtype if name == self.spec.input_name else np.dtype(self.spec.dtype)]

    def get_tensor_shape(self, name: str) -> Dims:
        batch = -1 if self.spec.batch else 1
        spec = self.spec
        return Dims(spec.input_shape(batch) if name == spec.input_name else spec.output_shapes(batch)[name])

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]:
        self.trt.calls["get_tensor_profile_shape"] += 1
        dynamic = self.spec.batch or self.spec.sizes
        assert name == self.spec.input_name and profile_index == 0 and dynamic, "profile of a static or output tensor"
        return [Dims(shape) for shape in self.spec.profile()]

    def create_execution_context(self) -> FakeContext:
        self.trt.calls["create_execution_context"] += 1
        return None if self.trt.fail_context else FakeContext(self.trt, self)


class FakeContext:
    REAL = "tensorrt.IExecutionContext"
    FAKE_ONLY = frozenset({"trt", "engine", "spec", "shape", "addresses"})

    def __init__(self, trt: FakeTensorRT, engine: FakeEngine):
        self.trt, self.engine, self.spec = trt, engine, engine.spec
        static = tuple(engine.get_tensor_shape(self.spec.input_name))
        self.shape = static if all(d >= 0 for d in static) else None  # the input's shape, once set
        self.addresses: dict[str, int] = {}

    def set_input_shape(self, name: str, shape) -> bool:
        self.trt.calls["set_input_shape"] += 1
        shape = tuple(shape)
        low, _, high = self.spec.profile()
        inside = len(shape) == len(low) and all(lo <= d <= hi for lo, d, hi in zip(low, shape, high))
        if self.trt.fail_set_input_shape or name != self.spec.input_name or not inside:
            self.trt.logger.log(Severity.ERROR, f"setInputShape: {name} {shape} is not in the profile")
            return False
        self.shape = shape
        return True

    def get_tensor_shape(self, name: str) -> Dims:
        spec = self.spec
        if self.shape is None:  # not set yet: the engine's shapes, -1 where free
            return self.engine.get_tensor_shape(name)
        batch, size = self.shape[0], tuple(self.shape[a] for a in spec.size_axes)
        return Dims(self.shape if name == spec.input_name else spec.output_shapes(batch, size)[name])

    def set_tensor_address(self, name: str, memory: int) -> bool:
        self.trt.calls["set_tensor_address"] += 1
        if self.trt.fail_set_tensor_address or name not in self.engine.names:
            return False
        self.addresses[name] = int(memory)
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        self.trt.calls["execute_async_v3"] += 1
        capturing = self.trt.cudart.capturing(stream_handle) is not None
        if capturing:
            self.trt.calls["execute_async_v3 (captured)"] += 1
        if self.trt.fail_execute or self.shape is None or set(self.addresses) != set(self.engine.names):
            return False
        if capturing and self.trt.fail_capture:
            return False
        work = self._work(self.shape, dict(self.addresses))  # a graph bakes in shapes and addresses
        return self.trt.cudart.queue(stream_handle, work) == cudaError_t.cudaSuccess

    def _work(self, shape: tuple[int, ...], addresses: dict[str, int]):
        spec, dtype = self.spec, np.dtype(self.spec.dtype)
        batch, size = shape[0], tuple(shape[a] for a in spec.size_axes)
        out_shapes = spec.output_shapes(batch, size)
        channels = -1 if spec.io == "frame" else 1

        def run():
            cudart = self.trt.cudart
            image = device_numpy(cudart, addresses[spec.input_name], shape, spec.input_dtype).astype(np.float32)
            depth = device_numpy(cudart, addresses["metric_depth"], out_shapes["metric_depth"], dtype)
            depth[...] = image.mean(axis=channels, keepdims=spec.io != "frame") + 1
            if "domain_logits" in out_shapes:
                logits = device_numpy(cudart, addresses["domain_logits"], out_shapes["domain_logits"], dtype)
                logits[:, 0] = image.reshape(batch, -1).mean(axis=1)
                logits[:, 1] = -1
            self.trt.calls["kernels run"] += 1

        return run


class FakeRuntime:
    REAL = "tensorrt.Runtime"
    FAKE_ONLY = frozenset({"trt"})

    def __init__(self, trt: FakeTensorRT, logger):
        assert getattr(logger, "_initialised", False), "the logger must call trt.ILogger.__init__(self)"
        self.trt = trt
        trt.logger = logger

    def deserialize_cuda_engine(self, serialized_engine) -> FakeEngine:
        self.trt.calls["deserialize_cuda_engine"] += 1
        spec = EngineSpec.parse(serialized_engine)
        if spec is None:
            self.trt.logger.log(Severity.ERROR, "The engine plan file is not compatible with this version of TensorRT")
            return None
        return FakeEngine(self.trt, spec)


class FakeTensorRT:
    """The ``tensorrt`` module, as far as the runner uses it."""

    REAL = "tensorrt"
    FAKE_ONLY = frozenset({"cudart", "calls", "logger", "fail_context", "fail_set_input_shape",
                           "fail_set_tensor_address", "fail_execute", "fail_capture"})
    __version__ = "10.99.0"
    ILogger = ILogger
    TensorIOMode = TensorIOMode
    DataType = DataType
    Dims = Dims

    def __init__(self, cudart: FakeCudart):
        self.cudart = cudart
        self.calls: Counter = Counter()
        self.logger = None
        self.fail_context = self.fail_set_input_shape = self.fail_set_tensor_address = False
        self.fail_execute = self.fail_capture = False

    def Runtime(self, logger) -> FakeRuntime:
        self.calls["Runtime"] += 1
        return FakeRuntime(self, logger)


def install(monkeypatch, devices: int = 1) -> SimpleNamespace:
    """Point the runner's lazy imports at fresh fakes; returns them (``.cudart``, ``.trt``)."""
    from zoe_export.runtime import trt_runner
    from zoe_export.trt import cuda

    cudart = FakeCudart(devices)
    trt = FakeTensorRT(cudart)
    monkeypatch.setattr(cuda, "import_cudart", lambda: cudart)
    monkeypatch.setattr(trt_runner, "import_tensorrt", lambda: trt)
    return SimpleNamespace(cudart=cudart, trt=trt)


# -- the builder side: what Polygraphy's CreateConfig and EngineBytesFromNetwork touch ------------------------
class FakeTensor:
    REAL = "tensorrt.ITensor"
    name: str
    shape: Dims
    dtype: object
    is_shape_tensor: bool

    def __init__(self, name: str, shape, dtype):
        self.name, self.shape, self.dtype, self.is_shape_tensor = name, Dims(shape), dtype, False


class FakeLayer:
    """``trt.ILayer`` as both major versions have it."""

    REAL = "tensorrt.ILayer"
    name: str
    type: object
    metadata: str
    num_outputs: int

    def __init__(self, name: str, layer_type, outputs: list[FakeTensor], metadata: str = ""):
        self.name, self.type, self.metadata, self._outputs = name, layer_type, metadata, outputs
        self.num_outputs = len(outputs)

    def get_output(self, index: int) -> FakeTensor:
        return self._outputs[index]


class FakeLayer10(FakeLayer):
    """``trt.ILayer`` on TensorRT 10: per-layer precision and output types (removed in 11)."""

    REAL_MAJOR = 10
    FAKE_ONLY = frozenset({"output_types"})
    precision_is_set: bool

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._precision, self.precision_is_set, self.output_types = None, False, {}

    @property
    def precision(self):
        return self._precision

    @precision.setter
    def precision(self, dtype) -> None:
        self._precision, self.precision_is_set = dtype, True

    def set_output_type(self, index: int, dtype) -> None:
        self.output_types[index] = dtype


class FakeNetwork:
    REAL = "tensorrt.INetworkDefinition"
    FAKE_ONLY = frozenset({"inputs", "layers"})

    def __init__(self, inputs: list[FakeTensor], layers: list[FakeLayer]):
        self.inputs, self.layers = inputs, layers

    @property
    def num_inputs(self) -> int:
        return len(self.inputs)

    def get_input(self, index: int) -> FakeTensor:
        return self.inputs[index]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def get_layer(self, index: int) -> FakeLayer:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> FakeLayer:
        return self.layers[index]  # Polygraphy iterates a network's layers this way


class FakeProfile:
    REAL = "tensorrt.IOptimizationProfile"
    FAKE_ONLY = frozenset({"shapes"})

    def __init__(self):
        self.shapes: dict[str, list[Dims]] = {}

    def set_shape(self, input: str, min, opt, max) -> None:  # noqa: A002 - the real parameter names
        self.shapes[input] = [Dims(min), Dims(opt), Dims(max)]

    def get_shape(self, input: str) -> list[Dims]:  # noqa: A002
        return self.shapes.get(input, [])


class FakeTimingCache:
    REAL = "tensorrt.ITimingCache"

    def __init__(self, data: bytes = b""):
        self._data = bytes(data) or b"fake timing cache"

    def serialize(self) -> FakeHostMemory:
        return FakeHostMemory.of(self._data)

    def combine(self, input_cache, ignore_mismatch: bool) -> bool:
        return True


class FakeBuilderConfig:
    """``trt.IBuilderConfig`` as both major versions have it; records what was set."""

    REAL = "tensorrt.IBuilderConfig"
    FAKE_ONLY = frozenset({"flags_set", "pools", "profiles", "timing_cache"})
    profiling_verbosity: object
    DLA_core: int
    default_device_type: object

    def __init__(self):
        self.flags_set, self.pools, self.profiles, self.timing_cache = set(), {}, [], None
        self._monitor, self.profiling_verbosity, self.DLA_core, self.default_device_type = None, None, -1, None

    @property
    def num_optimization_profiles(self) -> int:
        return len(self.profiles)

    def set_flag(self, flag) -> None:
        self.flags_set.add(flag.name)

    def clear_flag(self, flag) -> None:
        self.flags_set.discard(flag.name)

    def get_flag(self, flag) -> bool:
        return flag.name in self.flags_set

    def set_memory_pool_limit(self, pool, pool_size: int) -> None:
        self.pools[pool.name] = pool_size

    def add_optimization_profile(self, profile: FakeProfile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def create_timing_cache(self, serialized_timing_cache) -> FakeTimingCache:
        return FakeTimingCache(memoryview(serialized_timing_cache).tobytes())

    def set_timing_cache(self, cache: FakeTimingCache, ignore_mismatch: bool) -> bool:
        self.timing_cache = cache
        return True

    def get_timing_cache(self) -> FakeTimingCache:
        return self.timing_cache

    @property
    def progress_monitor(self):
        return self._monitor

    @progress_monitor.setter
    def progress_monitor(self, monitor) -> None:
        self._monitor = monitor


class FakeBuilderConfig10(FakeBuilderConfig):
    """``trt.IBuilderConfig`` on TensorRT 10: the INT8 calibrator and its profile (removed in 11)."""

    REAL_MAJOR = 10
    FAKE_ONLY = FakeBuilderConfig.FAKE_ONLY | {"calibration_profile"}

    def __init__(self):
        super().__init__()
        self._calibrator, self.calibration_profile = None, None

    @property
    def int8_calibrator(self):
        return self._calibrator

    @int8_calibrator.setter
    def int8_calibrator(self, calibrator) -> None:
        self._calibrator = calibrator

    def set_calibration_profile(self, profile: FakeProfile) -> bool:
        self.calibration_profile = profile
        return True

    def get_calibration_profile(self) -> FakeProfile:
        return self.calibration_profile


class FakeBuilder:
    """``trt.Builder``: a config of the major version's kind; a build that steps the progress monitor.

    ``engine``: the bytes ``build_serialized_network`` returns (None: TensorRT failed). ``steps``:
    the steps of its one phase; ``during_build(step)`` runs before each (a test's Ctrl-C, say).
    """

    REAL = "tensorrt.Builder"
    FAKE_ONLY = frozenset({"major", "engine", "steps", "during_build", "built_with"})

    def __init__(self, major: int, engine: bytes | None = b"fake engine", steps: int = 3, during_build=None):
        self.major, self.engine, self.steps, self.during_build = major, engine, steps, during_build
        self.built_with: FakeBuilderConfig | None = None

    def create_builder_config(self) -> FakeBuilderConfig:
        return FakeBuilderConfig10() if self.major == 10 else FakeBuilderConfig()

    def create_optimization_profile(self) -> FakeProfile:
        return FakeProfile()

    def build_serialized_network(self, network: FakeNetwork, config: FakeBuilderConfig) -> FakeHostMemory:
        self.built_with = config
        monitor = config.progress_monitor
        if monitor is not None:
            monitor.phase_start("Building engine", None, self.steps)
        for step in range(self.steps):
            if self.during_build is not None:
                self.during_build(step)
            if monitor is not None and not monitor.step_complete("Building engine", step):
                return None  # cancelled: TensorRT returns nothing
        if monitor is not None:
            monitor.phase_finish("Building engine")
        return None if self.engine is None else FakeHostMemory.of(self.engine)
