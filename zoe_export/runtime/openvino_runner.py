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
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .._files import existing_file
from ..errors import ZoeExportError
from ..openvino.device import check_hint, check_precision, cpu_info, element_type_name, import_openvino
from ..tensors import TensorSpec
from .base import Runner


class OpenvinoRunner(Runner):
    name = "openvino"

    def __init__(self, path: str | Path, precision: str = "f32", threads: int | None = None, hint: str = "latency",
                 card=None, profile: bool = False):
        super().__init__()
        self.path = Path(path)
        self.precision, self.threads, self.hint = precision, threads, check_hint(hint)
        self.card, self._card_given = card, card is not None
        self.profile = profile
        self.inference_precision: str | None = None  # what the compiled model computes in (read back)
        self.cpu = None  # CpuInfo, once active
        self.compiled = self._request = self._queue = None
        self._batch_free = False
        self._inputs: dict = {}
        self._outputs: dict = {}
        self._profile: list = []

    def _activate(self) -> None:
        ov = import_openvino()
        existing_file(self.path, "OpenVINO model", "pass an .onnx graph from zoe-export onnx or an .xml IR from "
                                                   "zoe-export openvino.")
        core = ov.Core()
        self.cpu = check_precision(self.precision, cpu_info(core))
        if not self._card_given:
            from ..openvino.ir import read_card

            self.card = read_card(self.path)  # an IR without our card is refused here, before the slow compile
        config = {"PERFORMANCE_HINT": self.hint.upper()}
        if self.precision != "default":
            config["INFERENCE_PRECISION_HINT"] = self.precision
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = int(self.threads)
        if self.profile:
            config["PERF_COUNT"] = True
        try:
            self.compiled = core.compile_model(str(self.path), "CPU", config)
        except Exception as exc:  # OpenVINO raises RuntimeError with its own text for graphs it cannot read
            raise ZoeExportError(f"OpenVINO cannot compile {self.path}: {exc}") from exc
        self.inference_precision = element_type_name(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        if self.precision != "default" and self.inference_precision != self.precision:
            raise ZoeExportError(f"OpenVINO compiled {self.path} in {self.inference_precision}, not the {self.precision} "
                                 "asked for: refusing to run with other numerics than the ones named.")
        # a port carries every name its tensor had in the graph (an output may also be named after the node that
        # made it): ours are the card's
        card = self.card
        wanted = (card.input_name, *card.outputs) if card is not None else ()
        self._inputs = {_name(port, wanted): port for port in self.compiled.inputs}
        self._outputs = {_name(port, wanted): port for port in self.compiled.outputs}
        self._request = self.compiled.create_infer_request()
        self._batch_free = self.compiled.inputs[0].get_partial_shape()[0].is_dynamic
        if self.hint == "throughput" and self._batch_free:
            self._queue = ov.AsyncInferQueue(self.compiled, int(self.compiled.get_property(
                "OPTIMAL_NUMBER_OF_INFER_REQUESTS")))

    @property
    def config_text(self) -> str:
        """``f32 latency`` / ``bf16 (default) throughput 2 threads``: what this runner was asked for."""
        asked = self.precision if self.precision != "default" else f"{self.inference_precision or '?'} (default)"
        return f"{asked} {self.hint}" + (f" {self.threads} threads" if self.threads else "")

    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec(name, np.dtype(port.get_element_type().to_dtype()),
                           tuple(d.get_length() if d.is_static else None for d in port.get_partial_shape()))
                for name, port in self._inputs.items()]

    def _infer(self, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = len(next(iter(feed_dict.values())))
        if self._queue is not None and batch > 1:
            return self._infer_split(feed_dict, batch)
        return self._run(self._request, feed_dict)

    def _run(self, request, feed_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        request.infer({self._inputs[name]: array for name, array in feed_dict.items()})
        if self.profile:
            self._profile.append(request.get_profiling_info())
        return self._read(request)

    def _read(self, request) -> dict[str, np.ndarray]:
        """The outputs, copied: the request's buffers are reused by its next call."""
        return {name: np.array(request.get_tensor(port).data, copy=True) for name, port in self._outputs.items()}

    def _infer_split(self, feed_dict: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
        """One sample per request, the requests in parallel (the throughput hint's streams), stacked back."""
        results: list = [None] * batch

        def done(request, index):
            results[index] = self._read(request)

        self._queue.set_callback(done)
        for index in range(batch):
            self._queue.start_async({self._inputs[name]: array[index:index + 1] for name, array in feed_dict.items()},
                                    index)
        self._queue.wait_all()
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

    def _deactivate(self) -> None:
        self.compiled = self._request = self._queue = None
        self._inputs = self._outputs = {}
        if not self._card_given:
            self.card = None


def _name(port, wanted: tuple[str, ...]) -> str:
    names = port.get_names()
    return next((name for name in wanted if name in names), port.get_any_name())
