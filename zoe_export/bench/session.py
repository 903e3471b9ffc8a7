"""A ``zoe-bench`` run: backends in their own workers, timing rounds interleaved, parity, goals.

    result = run_benchmark([torch_spec, onnx_spec, int8_spec], BenchOptions(seconds=120, parity=True))

The first backend is the base the others are compared to. The parent gives each backend a short
round of iterations in turn, so a noisy machine (another job, thermal throttling) affects them
alike, until each has spent its time budget (``seconds``) or done ``iters`` iterations.

What a call is: by default the model at its card's size (a dynamic-size graph's default size) on
prepared images; ``size`` times every backend at one model size; ``frame`` times each backend's
``DepthEngine.predict`` of one synthetic frame of that size, end to end (the official recipe on the
host around a model-io graph, a frame graph alone), says which path each took and compares their
depth where they compute the same thing (REL against the first backend that does).
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._log import log
from ..errors import ZoeExportError, option
from ..sizes import MULTIPLE, Size, format_size
from .backends import BackendSpec
from .worker import Worker, WorkerError, frame_graph_needs_frame

MIN_ITERATIONS = 3
ROUND_SECONDS = 1.0  # one round is about this long (at least one iteration)
CPU_SECONDS, GPU_SECONDS = 120.0, 15.0  # default budgets per backend and batch size
INT8_SPEEDUP_GOAL = 2.5
#: the CPU deployment promise: the best path at this multiple of PyTorch FP32's throughput, within these bounds
CPU_THROUGHPUT_GOAL, CPU_MAX_REL, CPU_MIN_DELTA1 = 4.0, 2e-3, 0.999


@dataclass
class BenchOptions:
    batch_sizes: tuple[int, ...] = (1,)
    warmup: int | None = None  # None: 1 on a CPU, 10 on a GPU
    iters: int | None = None  # a fixed number of timed iterations per backend and batch size, or
    seconds: float | None = None  # a time budget (default: 120 s on a CPU, 15 s on a GPU)
    images: str | None = None  # folder of images; default: generated scenes
    parity: bool = False
    profile: bool = False
    output: Path | None = None
    progress: bool = True
    reference_mismatch_ok: bool = False  # compare with a reference of other weights (warned, in the report)
    size: Size | None = None  # the model size every backend is timed at (None: each card's)
    frame: Size | None = None  # time DepthEngine.predict of one synthetic frame of this size instead
    extra: dict = field(default_factory=dict)  # recorded as given (command-line flags)

    def validate(self) -> None:
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise ZoeExportError(f"{option('--batch-sizes', 'batch_sizes=')} {self.batch_sizes}: give positive sizes, "
                                 "e.g. 1,2,4,8.")
        iters, seconds = option("--iters", "iters="), option("--seconds", "seconds=")
        if self.iters is not None and self.seconds is not None:
            raise ZoeExportError(f"{iters} and {seconds} exclude each other: a number of iterations or a time budget.")
        if (self.iters is not None and self.iters < 1) or (self.seconds is not None and self.seconds <= 0):
            raise ZoeExportError(f"{iters} must be at least 1 and {seconds} positive.")
        if self.warmup is not None and self.warmup < 0:
            raise ZoeExportError(f"{option('--warmup', 'warmup=')} must be 0 or more.")
        size, frame = option("--size", "size="), option("--frame", "frame=")
        for flag, value, multiple in ((size, self.size, MULTIPLE), (frame, self.frame, 1)):
            if value is not None and (len(value) != 2 or any(int(v) != v or v < 1 or v % multiple for v in value)):
                whole = "multiples of 32" if multiple > 1 else "whole numbers of pixels"
                raise ZoeExportError(f"{flag} {value!r}: give a height and width, {whole} (e.g. "
                                     f"{'384x512' if multiple > 1 else '720x1280'}).")
        if self.size is not None and self.frame is not None:
            raise ZoeExportError(f"{size} and {frame} exclude each other: {frame} runs each backend at the model "
                                 "size its graph chooses for the frame.")
        if self.frame is not None:
            clash = [flag for flag, used in ((option("--batch-sizes", "batch_sizes="), tuple(self.batch_sizes) != (1,)),
                                             (option("--parity", "parity=True"), self.parity),
                                             (option("--profile", "profile=True"), self.profile)) if used]
            if clash:
                raise ZoeExportError(f"{frame} times one frame per call, end to end, and compares the backends' depth "
                                     f"itself: drop {', '.join(clash)}.")

    def budget(self, spec: BackendSpec) -> tuple[int | None, float | None]:
        if self.iters is not None:
            return self.iters, None
        return None, self.seconds or (GPU_SECONDS if spec.on_gpu else CPU_SECONDS)

    def warmup_for(self, spec: BackendSpec) -> int:
        return self.warmup if self.warmup is not None else (10 if spec.on_gpu else 1)


def bench_frame(size: Size) -> np.ndarray:
    """The synthetic uint8 frame ``zoe-bench --frame`` times: the built-in scene rendered at ``size``."""
    from ..io import synthetic

    return synthetic.demo_scene(*size)


def check_sizes(specs: list[BackendSpec], options: BenchOptions, reference: BackendSpec | None = None) -> None:
    """Before anything runs: every backend (and the parity reference) takes what it is timed on, the model
    ``options.size``, the frame ``options.frame``, or prepared images at its own size (not a frame graph)."""
    from ..runtime.depth_engine import plan_frame, resolve_options

    for spec in [*specs, *([reference] if reference is not None and options.parity else [])]:
        try:
            card = spec.card
            if card is None:  # the PyTorch model: its size from its options (a frame is checked when it opens)
                if options.size is not None and spec.kind == "torch":
                    _check_torch_size(spec, options.size)
            elif options.frame is not None:
                plan_frame(card, *options.frame, *resolve_options(card))
            elif card.io == "frame":
                raise ZoeExportError(frame_graph_needs_frame())
            elif options.size is not None:
                _check_size(card.size, card.size_range, options.size, "graph")
        except ZoeExportError as exc:
            raise ZoeExportError(f"{spec.name}: {exc}") from None


def _check_size(own: Size, size_range, size: Size, what: str) -> None:
    flag = option("--size", "size=")
    if size_range is not None:
        size_range.check(tuple(size), flag)
    elif tuple(size) != tuple(own):
        raise ZoeExportError(f"{flag} {format_size(size)}: this {what} is fixed at {format_size(own)}. Time it at "
                             f"{flag} {format_size(own)} (or without {flag}), or export a graph that takes other "
                             f"sizes: zoe-export onnx {option('--dynamic-size', 'dynamic_size=')}.")


def _check_torch_size(spec: BackendSpec, size: Size) -> None:
    from ..models import get_variant
    from ..sizes import DEFAULT_SIZE_RANGE, SizeRange

    opts = spec.options
    if opts.get("dynamic_size"):
        dynamic = opts["dynamic_size"]
        _check_size(size, DEFAULT_SIZE_RANGE if dynamic is True else SizeRange.of(dynamic), size, "model")
        return
    native = tuple(get_variant(spec.source).native_size)
    own = (opts.get("height") or native[0], opts.get("width") or native[1])
    if tuple(size) != own:
        flag = option("--size", "size=")
        raise ZoeExportError(f"{flag} {format_size(size)}: the PyTorch model is built at {format_size(own)}: build it "
                             f"at that size with {option('--height', 'height=')} {size[0]} "
                             f"{option('--width', 'width=')} {size[1]}, or leave {flag} out.")


def bench_images(folder: str | None, count: int = 4) -> dict[str, np.ndarray]:
    """Named RGB images: the first ``count`` of a folder, or the built-in scene and generated variants."""
    from ..io import images, synthetic

    if folder is None:
        scenes = [synthetic.demo_scene(), *synthetic.scene_variants(count - 1, seed=1)]
        return {f"scene{i}": s for i, s in enumerate(scenes)}
    files = images.list_images(folder)
    if not files:
        looked_for = ", ".join(sorted(images.IMAGE_SUFFIXES))
        raise ZoeExportError(f"{option('--images', 'images=')} {folder}: no images found (looked for {looked_for}).")
    found = {}
    for path in files:  # the first `count` readable ones; an unreadable file is said and skipped
        if len(found) == count:
            break
        try:
            found[path.stem] = images.read_image(path)
        except ZoeExportError as exc:
            log.warning("skipped %s", exc)
    if not found:
        raise ZoeExportError(f"{option('--images', 'images=')} {folder}: none of its images can be read (see the lines "
                             "above).")
    return found


# ----------------------------------------------------------------------------------------------- run

def run_benchmark(specs: list[BackendSpec], options: BenchOptions, reference: BackendSpec | None = None,
                  command: str = "zoe-bench") -> dict:
    """Time (and check) every backend; returns the result dict (see :mod:`.report` for its outputs)."""
    from .latency import machine_info

    options.validate()
    if not specs:
        raise ZoeExportError("name at least one backend: " + option(
            "--torch, --onnx M.onnx or --engine E.engine.", "specs from torch_spec, onnx_spec or engine_spec."))
    start = time.perf_counter()
    if options.parity:  # both checked before anything runs
        reference = parity_reference(specs, reference)
        warnings = same_model(specs, reference, options.reference_mismatch_ok)
    else:
        warnings = []
    check_sizes(specs, options, reference)
    running = [*specs, reference] if options.parity else specs
    machine = machine_info(any(s.kind == "torch" for s in running), any(s.on_gpu for s in running))
    result = {"command": command, "started": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": machine, "options": _options_record(options), "base": specs[0].name,
              "backends": [_record(spec) for spec in specs], "goals": [], "interrupted": False,
              "warnings": warnings, "failures": []}
    budgets = {options.budget(spec) for spec in specs}
    warmups = {options.warmup_for(spec) for spec in specs}
    if len(budgets) == 1 and len(warmups) == 1:  # the defaults resolved (they differ between CPU and GPU)
        result["options"]["iters"], result["options"]["seconds"] = budgets.pop()
        result["options"]["warmup"] = warmups.pop()
    images = bench_images(options.images)
    frame = None if options.frame is None else bench_frame(options.frame)
    setup = (list(images.values()), options.size, frame)
    workers: dict[str, Worker] = {}
    try:
        _open(specs, setup, workers, result)
        for batch in options.batch_sizes:
            _time_batch(specs, workers, batch, options, result)
        if frame is not None:
            _compare_frames(specs, workers, result)
        if options.parity:
            _parity(specs, workers, images, options, reference, result, setup)
        if options.profile and options.output is not None:
            _profile(specs, workers, options, result)
    except KeyboardInterrupt:
        result["interrupted"] = True
        log.warning("interrupted: writing what was measured")
    finally:
        _close(workers, result)
    _compare_to_base(result)
    result["goals"] = goals(result)
    result["warnings"] += skipped(result)
    result["failures"] = failed_checks(result)
    result["seconds"] = time.perf_counter() - start
    return result


def parity_reference(specs: list[BackendSpec], reference: BackendSpec | None) -> BackendSpec:
    """The FP32 reference asked for, else the run's PyTorch FP32 backend."""
    reference = reference or next((s for s in specs if s.kind == "torch" and s.precision == "fp32"), None)
    if reference is None:
        raise ZoeExportError(option("--parity needs an FP32 reference: add --torch (FP32) with the model flags, or "
                                    "--reference onnx:FP32.onnx.",
                                    "parity=True needs an FP32 reference: add a torch_spec('fp32', ...) to the specs, "
                                    "or pass reference=onnx_spec('FP32.onnx', 'cpu')."))
    return reference


def same_model(specs: list[BackendSpec], reference: BackendSpec, mismatch_ok: bool) -> list[str]:
    """Parity means something only against the same weights: a differing card is an error, or with
    ``mismatch_ok`` a warning (returned, for the report)."""
    from .identity import identity, mismatches

    own = identity(reference)
    found = [f"{spec.name}: {', '.join(diff)}" for spec in specs if spec.name != reference.name
             for diff in [mismatches(own, identity(spec))] if diff]
    if not found:
        return []
    what = f"not the model of the parity reference ({reference.name}): " + "; ".join(found)
    if not mismatch_ok:
        same = option("--variant, --checkpoint or --random-weights --seed, --max-depth, --domain",
                      "variant, checkpoint or weights='random' and seed, max_depth, domain")
        raise ZoeExportError(f"{what}. Give the reference the same weights ({same} as exported), or pass "
                             f"{option('--reference-mismatch-ok', 'reference_mismatch_ok=True')} to compare anyway.")
    log.warning("%s (compared anyway: %s)", what, option("--reference-mismatch-ok", "reference_mismatch_ok=True"))
    return [f"REFERENCE MISMATCH (--reference-mismatch-ok): {what}"]


def skipped(result: dict) -> list[str]:
    """A line for every batch size a backend did not run, with the reason."""
    return [f"SKIPPED {backend['name']} batch {batch}: {figures['skipped']}"
            for backend in result["backends"] for batch, figures in backend["batches"].items()
            if figures.get("skipped")]


def failed_checks(result: dict) -> list[str]:
    """Parity outside its bound, non-finite output, or parity that could not be measured: each fails the run."""
    found = []
    for backend in result["backends"]:
        frame = backend.get("frame") or {}
        if frame.get("finite") is False:
            found.append(f"NON-FINITE DEPTH {backend['name']}: the depth of the {format_size(frame['frame'])} frame "
                         "has NaN or inf values")
        elif frame.get("error"):
            found.append(f"FRAME DEPTH NOT MEASURED {backend['name']}: {frame['error']}")
        parity = backend.get("parity") or {}
        if parity.get("error"):
            found.append(f"PARITY NOT MEASURED {backend['name']}: {parity['error']}")
        elif parity.get("passed") is False:
            o, bound = parity["overall"], parity["bound"]
            finite = "" if parity.get("finite", True) else "non-finite output; "
            found.append(f"PARITY FAIL {backend['name']}: {finite}REL {o['rel']:.3g} (bound {bound['max_rel']:g}), "
                         f"delta1 {o['delta1']:.4f} (bound {bound['min_delta1']:g}) against {parity['reference']}")
    return found


def _options_record(options: BenchOptions) -> dict:
    return {"batch_sizes": list(options.batch_sizes), "warmup": options.warmup if options.warmup is not None
            else "1 on a CPU, 10 on a GPU", "interleaved": True, "iters": options.iters,
            "seconds": options.seconds, "images": options.images, "parity": options.parity,
            "reference_mismatch_ok": options.reference_mismatch_ok, "profile": options.profile,
            "size": None if options.size is None else format_size(options.size),
            "frame": None if options.frame is None else format_size(options.frame), **options.extra}


def _record(spec: BackendSpec) -> dict:
    return {"name": spec.name, "kind": spec.kind, "precision": spec.precision, "device": spec.device,
            "source": spec.source, "options": {k: v for k, v in spec.options.items() if v not in (None, False)},
            "clock": None, "load_s": None, "peak_rss_mb": None, "peak_gpu_mb": None, "inference_precision": None, "error": None,
            "batches": {}, "parity": None, "profile": None, "frame": None}


def _entry(result: dict, spec: BackendSpec) -> dict:
    return next(b for b in result["backends"] if b["name"] == spec.name)


def _open(specs, setup, workers, result) -> None:
    for spec in specs:
        entry = _entry(result, spec)
        log.info("starting %s", spec.name)
        worker = Worker(spec)
        workers[spec.name] = worker
        try:
            info = worker.call("open", *setup)
        except WorkerError as exc:
            entry["error"] = str(exc)
            log.error("%s", exc)
            continue
        entry.update({k: info.get(k) for k in ("clock", "load_s", "peak_rss_mb", "peak_gpu_mb", "inference_precision")})
        entry["model"] = {k: info.get(k) for k in ("height", "width", "batch", "input_format", "io")}
        if info.get("frame_plan"):
            entry["frame"] = dict(info["frame_plan"])
            log.info("%s: %s", spec.name, entry["frame"]["text"])


def _ready(specs, workers, result) -> list[BackendSpec]:
    return [s for s in specs if s.name in workers and _entry(result, s)["error"] is None]


# ------------------------------------------------------------------------------------------- timing

def _time_batch(specs, workers, batch: int, options: BenchOptions, result: dict) -> None:
    from .timing import summarize

    runnable = []
    for spec in _ready(specs, workers, result):
        fixed = _entry(result, spec)["model"]["batch"]
        if fixed is not None and fixed != batch:
            _entry(result, spec)["batches"][str(batch)] = {"iterations": 0, "skipped": f"the graph has a fixed batch "
                                                           f"of {fixed}; export with --dynamic-batch"}
        else:
            runnable.append(spec)
    for spec in runnable:
        _entry(result, spec)["warmup"] = options.warmup_for(spec)
    per_round = {spec.name: _warm_up(workers[spec.name], batch, options.warmup_for(spec)) for spec in runnable}
    timed: dict[str, list] = {spec.name: [] for spec in runnable}
    rounds = dict.fromkeys(timed, 0)
    try:
        _interleave(runnable, workers, batch, options, per_round, timed, rounds)
    finally:
        for spec in runnable:
            _entry(result, spec)["batches"][str(batch)] = {**summarize(timed[spec.name], batch),
                                                           "rounds": rounds[spec.name]}


def _warm_up(worker: Worker, batch: int, warmup: int) -> int:
    """Untimed iterations; returns how many iterations make a round of about ROUND_SECONDS."""
    its = worker.call("run", batch, max(warmup, 1))
    last = sum(its[-1].values())
    return max(1, min(50, int(ROUND_SECONDS / max(last, 1e-6))))


def _interleave(specs, workers, batch, options, per_round, timed, rounds) -> None:
    from tqdm import tqdm

    budgets = {spec.name: options.budget(spec) for spec in specs}
    active = list(specs)
    total = sum(it or secs for it, secs in budgets.values())
    unit = "it" if options.iters is not None else "s"
    with tqdm(total=round(total, 1), desc=f"timing batch {batch}", unit=unit, disable=not options.progress) as bar:
        while active:
            for spec in list(active):
                count = per_round[spec.name]
                if budgets[spec.name][0] is not None:
                    count = min(count, budgets[spec.name][0] - len(timed[spec.name]))
                its = workers[spec.name].call("run", batch, count)
                timed[spec.name].extend(its)
                rounds[spec.name] += 1
                bar.update(len(its) if options.iters is not None else round(sum(sum(i.values()) for i in its), 3))
                if _budget_spent(timed[spec.name], *budgets[spec.name]):
                    active.remove(spec)


def _budget_spent(iterations: list[dict], iters: int | None, seconds: float | None) -> bool:
    if iters is not None:
        return len(iterations) >= iters
    return len(iterations) >= MIN_ITERATIONS and sum(sum(i.values()) for i in iterations) >= seconds


def _compare_to_base(result: dict) -> None:
    """Each backend's compute p50 over the base's at the same batch size (< 1: faster than the base)."""
    base = result["backends"][0]["batches"]
    for backend in result["backends"]:
        for batch, figures in backend["batches"].items():
            ref = base.get(batch, {}).get("compute_ms")
            own = figures.get("compute_ms")
            figures["ratio_to_base"] = own["p50"] / ref["p50"] if own and ref else None


def goals(result: dict) -> list[dict]:
    """The toolkit's promises against a PyTorch FP32 base: ONNX Runtime FP32 no slower, INT8 2.5x faster, and on a
    CPU the best path 4x the throughput within REL 2e-3 and delta1 0.999 (records of :class:`~.report.goals.Goal`)."""
    from .report.goals import Goal

    base = result["backends"][0]
    if base["kind"] != "torch" or base["precision"] != "fp32":
        return []
    found = []
    for backend in result["backends"][1:]:
        ratio = backend["batches"].get("1", {}).get("ratio_to_base")
        if ratio is None or backend["device"] != base["device"]:
            continue
        if backend["kind"] == "onnxruntime" and backend["precision"] == "fp32":
            found.append(Goal(f"{backend['name']} vs {base['name']}, batch 1 compute p50", "ratio", "<=", 1.0, "x",
                              ratio, ratio <= 1.0).as_dict())
        if backend["precision"] == "int8":
            parity = backend.get("parity") or {}
            speedup = 1 / ratio
            met = speedup >= INT8_SPEEDUP_GOAL and parity.get("passed") is not False
            what = (f"{backend['name']} speed-up over {base['name']}, batch 1 compute p50"
                    + ("" if parity else " (accuracy not measured: add --parity)"))
            found.append(Goal(what, "speedup", ">=", INT8_SPEEDUP_GOAL, "x", speedup, met,
                              condition="within its accuracy budget").as_dict())
    if base["device"] == "cpu":
        found += _cpu_deployment_goals(result)
    return found


def _cpu_deployment_goals(result: dict) -> list[dict]:
    """Per batch size: the fastest CPU backend (images/s) whose parity is within CPU_MAX_REL and CPU_MIN_DELTA1,
    over the PyTorch FP32 base; measured only where the run has parity (--parity)."""
    from .report.goals import Goal

    base, others = result["backends"][0], [b for b in result["backends"][1:] if b["device"] == "cpu"]
    condition = f"at mean REL <= {CPU_MAX_REL:g} and delta1 >= {CPU_MIN_DELTA1:g}"
    found = []
    for batch, figures in base["batches"].items():
        base_rate = figures.get("images_per_s")
        rated = [(b["batches"][batch]["images_per_s"] / base_rate, b) for b in others
                 if base_rate and (b.get("parity") or {}).get("overall") and b["batches"].get(batch, {}).get("images_per_s")]
        if not rated:
            continue
        within = [(speedup, b) for speedup, b in rated
                  if b["parity"]["overall"]["rel"] <= CPU_MAX_REL and b["parity"]["overall"]["delta1"] >= CPU_MIN_DELTA1]
        speedup, best = max(within or rated, key=lambda pair: pair[0])
        what = (f"best CPU path at batch {batch}: {best['name']} (REL {best['parity']['overall']['rel']:.2e}, delta1 "
                f"{best['parity']['overall']['delta1']:.4f}), images/s over {base['name']}"
                + ("" if within else " (no backend is within the accuracy bounds)"))
        found.append(Goal(what, "speedup", ">=", CPU_THROUGHPUT_GOAL, "x", speedup,
                          bool(within) and speedup >= CPU_THROUGHPUT_GOAL, condition=condition).as_dict())
    return found


# ------------------------------------------------------------------------------------------- parity

def _parity(specs, workers, images, options, reference: BackendSpec, result, setup) -> None:
    from .parity import compare_backend, prepared_inputs

    ref_spec, ref_worker, own = _reference_worker(workers, reference)
    try:
        ref_model = ref_worker.call("open", *setup) if own else _entry(result, ref_spec)["model"]
        if own:
            ref_model = {k: ref_model[k] for k in ("height", "width")}
        inputs = prepared_inputs(images, (ref_model["height"], ref_model["width"]))
        log.info("parity reference: %s on %d image(s)", ref_spec.name, len(inputs))
        references = ref_worker.call("outputs", [x for x in inputs.values()])
        for spec in _ready(specs, workers, result):
            if spec.name == ref_spec.name:
                continue
            entry = _entry(result, spec)
            if (entry["model"]["height"], entry["model"]["width"]) != (ref_model["height"], ref_model["width"]):
                entry["parity"] = {"error": f"input size {entry['model']['height']}x{entry['model']['width']} differs "
                                            f"from the reference's {ref_model['height']}x{ref_model['width']}"}
                continue
            outputs = workers[spec.name].call("outputs", [x for x in inputs.values()])
            entry["parity"] = compare_backend(spec, ref_spec.name, inputs, references, outputs, options.output)
    finally:
        if own:
            ref_worker.close()


# ------------------------------------------------------------------------------------------- frames

def _compare_frames(specs, workers, result) -> None:
    """Each backend's depth of the timed frame against the first backend's that computes the same thing
    (same model size, padding and flip: precision and backend may differ): REL, max abs, finiteness."""
    from ..compare.metrics import depth_metrics
    from ..runtime.depth_engine import FramePlan

    firsts: dict[tuple, tuple[str, dict, np.ndarray]] = {}
    plans = []
    for spec in _ready(specs, workers, result):
        plan = _entry(result, spec).get("frame")
        if not plan:
            continue
        try:
            depth = workers[spec.name].call("frame_depth")
        except WorkerError as exc:
            plan["error"] = str(exc)
            continue
        plans.append(plan)
        plan.update(finite=bool(np.isfinite(depth).all()), reference=None, rel=None, max_abs=None, compared=0)
        key = FramePlan.from_dict(plan).computes
        if key not in firsts:
            firsts[key] = (spec.name, plan, depth)
            continue
        name, first, ref = firsts[key]
        metrics = depth_metrics(depth, ref)
        first["compared"] += 1
        plan.update(reference=name, rel=metrics["rel"], max_abs=metrics["max_abs"])
    for plan in plans:
        if len(plans) > 1 and plan["reference"] is None and not plan["compared"]:
            plan["note"] = "no other backend computes the same (model size, padding, flip)"


def _reference_worker(workers, reference: BackendSpec):
    """The FP32 reference: a backend of the run when it is the one asked for, else its own worker."""
    if reference.name in workers:
        return reference, workers[reference.name], False
    return reference, Worker(reference), True


# ------------------------------------------------------------------------------------------ profile

def _profile(specs, workers, options, result) -> None:
    for spec in _ready(specs, workers, result):
        log.info("profiling %s", spec.name)
        try:
            _entry(result, spec)["profile"] = workers[spec.name].call("profile", options.batch_sizes[0], 3,
                                                                      str(options.output))
        except WorkerError as exc:
            _entry(result, spec)["profile"] = {"error": str(exc)}


def _close(workers: dict[str, Worker], result: dict) -> None:
    for name, worker in workers.items():
        entry = next(b for b in result["backends"] if b["name"] == name)
        try:
            if entry["error"] is None and worker.drain():
                entry.update(worker.call("memory"))
        except (WorkerError, OSError, EOFError):
            pass
        worker.close()
