"""The OpenVINO backend (CPU): our ONNX graphs and OpenVINO IR, in the inference precision asked for.

    with OpenvinoRunner("zoed_m12_n_int8.onnx", precision="bf16") as runner:   # or an .xml from zoe-export openvino
        outputs = runner.infer({"image": batch})
        runner.inference_precision                                           # "bf16", as the compiled model reports

``precision``: ``f32`` (default), ``bf16`` (refused on a CPU without AVX-512 BF16 or AMX, with what the
CPU reports), or ``default``: what the plugin picks (bf16 where the CPU has it), read back and
recorded. An INT8 Q/DQ graph computes its INT8 parts in integers whatever the precision; the rest
runs in it. ``hint``: OpenVINO's ``latency`` (one stream, every thread on one request) or
``throughput`` (several streams; a batch is split over parallel requests, one sample each, when its
batch dimension is free). ``threads``: ``INFERENCE_NUM_THREADS`` (default: the plugin's, all cores).
``profile``: OpenVINO's per-node counters (``PERF_COUNT``), kept for :meth:`profile_rows`.

Shapes: a graph with quantized parts (OpenVINO's FakeQuantize) and a free dimension is compiled for each
input shape it meets (``static_shapes``), the card's own shape at activation; the last few stay
compiled. OpenVINO 2026.4 computes such graphs wrongly while a dimension is free: M12-N INT8 at
384x512 lands at mean REL 5.2e-2 from FP32 with a free batch, 8.8e-4 reshaped to batch 1 (the ONNX
Runtime emulation: 8.5e-4). Other graphs keep their free dimensions and compile once.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from .._files import existing_file
from ..errors import ZoeExportError
from ..openvino.device import check_hint, check_precision, cpu_info, element_type_name, import_openvino
from ..tensors import TensorSpec
from .base import Runner

#: compiled models kept per input shape (static_shapes); a compile of M12-N takes seconds
SHAPES_KEPT = 4


class OpenvinoRunner(Runner):
    name = "openvino"

    def __init__(self, path: str | Path, precision: str = "f32", threads: int | None = None, hint: str = "latency",
                 card=None, profile: bool = False, static_shapes: bool | None = None):
        super().__init__()
        self.path = Path(path)
        self.precision, self.threads, self.hint = precision, threads, check_hint(hint)
        self.card, self._card_given = card, card is not None
        self.profile = profile
        self.static_shapes = static_shapes  # None: for quantized graphs with a free dimension (see the module)
        self.inference_precision: str | None = None  # what the compiled model computes in (read back)
        self.cpu = None  # CpuInfo, once active
        self._core = self._model = self._config = None
        self._inputs: dict = {}  # our input name -> the model's port (its dtype and partial shape)
        self._outputs: list[str] = []
        self._shapes: OrderedDict = OrderedDict()  # input shapes -> (compiled model, request, parallel requests)
        self._profile: list = []

    # -- lifecycle -------------------------------------------------------------------------------------
    def _activate(self) -> None:
        ov = import_openvino()
        existing_file(self.path, "OpenVINO model", "pass an .onnx graph from zoe-export onnx or an .xml IR from "
                                                   "zoe-export openvino.")
        self._core = ov.Core()
        self.cpu = check_precision(self.precision, cpu_info(self._core))
        if not self._card_given:
            from ..openvino.ir import read_card

            self.card = read_card(self.path)  # an IR without our card is refused here, before the slow compile
        try:
            self._model = self._core.read_model(str(self.path))
        except Exception as exc:  # OpenVINO raises RuntimeError with its own text for graphs it cannot read
            raise ZoeExportError(f"OpenVINO cannot read {self.path}: {exc}") from exc
        self._config = {"PERFORMANCE_HINT": self.hint.upper()}
        if self.precision != "default":
            self._config["INFERENCE_PRECISION_HINT"] = self.precision
        if self.threads:
            self._config["INFERENCE_NUM_THREADS"] = int(self.threads)
        if self.profile:
            self._config["PERF_COUNT"] = True
        # a port carries every name its tensor had in the graph (an output may also be named after the node that
        # made it): ours are the card's
        wanted = (self.card.input_name, *self.card.outputs) if self.card is not None else ()
        self._inputs = {_name(port, wanted): port for port in self._model.inputs}
        self._outputs = [_name(port, wanted) for port in self._model.outputs]
        free = any(port.get_partial_shape().is_dynamic for port in self._model.inputs)
        if self.static_shapes is None:
            self.static_shapes = free and any(op.get_type_name() == "FakeQuantize" for op in self._model.get_ops())
        self.static_shapes = self.static_shapes and free
        first = self._default_shapes() if self.static_shapes else None
        compiled = self._compile(first)[0]
        self.inference_precision = element_type_name(compiled.get_property("INFERENCE_PRECISION_HINT"))
        if self.precision != "default" and self.inference_precision != self.precision:
            raise ZoeExportError(f"OpenVINO compiled {self.path} in {self.inference_precision}, not the {self.precision} "
                                 "asked for: refusing to run with other numerics than the ones named.")

    def _default_shapes(self) -> tuple:
        """The card's input shape, a free batch as 1 and free sizes at the card's size (compiled at activation)."""
        card, shapes = self.card, []
        for port in self._model.inputs:
            dims = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]
            if card is not None and len(dims) == 4:
                fixed = card.with_changes(batch=card.batch or 1).input_shape
                dims = [d if d is not None else f for d, f in zip(dims, fixed)]
                if card.io == "frame" and None in dims:  # frames of any size: one at the model size
                    dims = [d if d is not None else s for d, s in zip(dims, (1, *card.size, 3))]
            shapes.append(tuple(1 if d is None else d for d in dims))
        return tuple(shapes)

    def _compile(self, shapes: tuple | None):
        """(compiled model, infer request, parallel requests) for ``shapes`` (None: the graph as it is)."""
        if shapes in self._shapes:
            self._shapes.move_to_end(shapes)
            return self._shapes[shapes]
        model = self._model
        if shapes is not None:
            model = self._model.clone()
            model.reshape({port: list(shape) for port, shape in zip(model.inputs, shapes)})
        try:
            compiled = self._core.compile_model(model, "CPU", self._config)
        except Exception as exc:  # OpenVINO's RuntimeError, with its own text
            raise ZoeExportError(f"OpenVINO cannot compile {self.path}: {exc}") from exc
        parallel = []  # the throughput hint's requests, one sample each (plain requests: no callbacks to tear down)
        if self.hint == "throughput" and self._inputs_batch_free():  # only a free batch is split (see _infer)
            parallel = [compiled.create_infer_request()
                        for _ in range(int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))]
        self._shapes[shapes] = (compiled, compiled.create_infer_request(), parallel)
        while len(self._shapes) > SHAPES_KEPT:
            self._shapes.popitem(last=False)
        return self._shapes[shapes]

    def _deactivate(self) -> None:
        self._shapes.clear()
        self._core = self._model = None
        self._inputs, self._outputs = {}, []
        if not self._card_given:
            self.card = None

    @property
    def config_text(self) -> str:
        """``f32 latency`` / ``bf16 (default) throughput 2 threads``: what this runner was asked for."""
        asked = self.precision if self.precision != "default" else f"{self.inference_precision or '?'} (default)"
        return f"{asked} {self.hint}" + (f" {self.threads} threads" if self.threads else "")

    # -- inference -------------------------------------------------------------------------------------
    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec(name, np.dtype(port.get_element_type().to_dtype()),
                           tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape()))
                for name, port in self._inputs.items()]

    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        arrays = [feed_dict[name] for name in self._inputs]
        batch = len(arrays[0])
        split = self.hint == "throughput" and batch > 1 and self._inputs_batch_free()
        if self.static_shapes:
            one = tuple((1, *a.shape[1:]) if split else a.shape for a in arrays)
            compiled, request, parallel = self._compile(one)
        else:
            compiled, request, parallel = self._compile(None)
        if split and parallel:
            return self._infer_split(compiled, parallel, arrays, batch)
        return self._run(compiled, request, arrays)

    def _inputs_batch_free(self) -> bool:
        return self._model.inputs[0].get_partial_shape()[0].is_dynamic

    def _run(self, compiled, request, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
        request.infer(dict(zip(compiled.inputs, arrays)))
        if self.profile:
            self._profile.append(request.get_profiling_info())
        return self._read(compiled, request)

    def _read(self, compiled, request) -> dict[str, np.ndarray]:
        """The outputs, copied: the request's buffers are reused by its next call."""
        return {name: np.array(request.get_tensor(port).data, copy=True)
                for name, port in zip(self._outputs, compiled.outputs)}

    def _infer_split(self, compiled, parallel: list, arrays: list[np.ndarray], batch: int) -> dict[str, np.ndarray]:
        """One sample per request, the requests in parallel (the throughput hint's streams), stacked back."""
        results = []
        for start in range(0, batch, len(parallel)):
            running = list(zip(parallel, range(start, min(start + len(parallel), batch))))
            for request, index in running:
                request.start_async(dict(zip(compiled.inputs, (a[index:index + 1] for a in arrays))))
            for request, _ in running:
                request.wait()
                results.append(self._read(compiled, request))
        return {name: np.concatenate([r[name] for r in results]) for name in results[0]}

    def profile_rows(self) -> list[dict]:
        """Per node, summed over the profiled calls: name, type, kernel (exec type, e.g. jit_avx512_amx_bf16), ms."""
        totals: dict[str, dict] = {}
        for call in self._profile:
            for info in call:
                if str(info.status).endswith("NOT_RUN"):
                    continue
                row = totals.setdefault(info.node_name, {"node": info.node_name, "type": info.node_type,
                                                         "kernel": info.exec_type, "ms": 0.0, "calls": 0})
                row["ms"] += info.real_time.total_seconds() * 1e3
                row["calls"] += 1
        return sorted(totals.values(), key=lambda r: -r["ms"])


def _name(port, wanted: tuple[str, ...]) -> str:
    names = port.get_names()
    return next((name for name in wanted if name in names), port.get_any_name())
