"""``zoe-export openvino``: an ONNX graph from zoe-export as OpenVINO IR (``.xml`` + ``.bin``), verified first.

    manifest = export_ir("zoed_m12_n_int8.onnx")                 # -> zoed_m12_n_int8.xml, .bin, .xml.json
    manifest = export_ir("zoed_m12_n.onnx", "ir/m12_n.xml", verify=False)
    ir_from_onnx("nk.onnx", "ir/")                                # the backend registry's from_onnx hook

Any graph the toolkit makes converts: FP32, FP16 and INT8 Q/DQ; model-io and frame graphs; fixed or
dynamic batch and size. The graph's model card goes unchanged into the IR's runtime info (see
:mod:`.ir`); the manifest beside the IR says it is an IR, of which graph (its sha256), how its weights
are stored and why, and what the verification measured.

Before anything is written, the IR (saved into a temporary folder beside the output) runs in
OpenVINO at inference precision f32 against the source graph in ONNX Runtime, on the structured
inputs every conversion is measured on, within the bound of the graph's precision
(:func:`verification_tolerance`). A failure lists every input that broke a bound and writes nothing.
Then the ``.bin``, the ``.xml``, the manifest ``<name>.xml.json`` and the parity picture
``<name>.xml.parity.png`` are renamed into place, in that order: a failed run leaves none of them.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .._files import check_writable, existing_file, file_sha256, folders_removed_on_failure, refuse_folder
from .._log import log, stage
from .._memory import release_memory
from ..card import ModelCard
from ..compare.tolerance import Tolerance
from ..errors import ZoeExportError, option
from ..export.inputs import verification_inputs
from ..export.metadata import read_card
from ..registry import get_backend, get_precision
from ..sizes import format_size
from .device import cpu_info, import_openvino
from .ir import ir_path, read_ir_card, write_ir_card

FORMAT = "zoe-export openvino IR"
MANIFEST_VERSION = 1
#: what the IR is verified against: the graph as written (Q/DQ emulated in float, as the ONNX spec defines them).
#: With optimisations on, ONNX Runtime fuses an INT8 graph's Q/DQ pairs into its own integer kernels, a third INT8
#: implementation (test-NK: 1-2e-4 REL from the graph's arithmetic, where OpenVINO's kernels land at 1e-7). Off,
#: the reference also peaks near the weights' size on BEiT-L (optimising it peaks near 5 GB), as in the export's
#: own verification.
REFERENCE_OPTIMIZATION = "disabled"
#: the files written beside the IR's .xml (after the .bin and the .xml, in this order)
COMPANIONS = (".json", ".parity.png")
Feeds = dict[str, dict[str, np.ndarray]]


def default_ir_output(onnx: str | Path) -> Path:
    """``M.onnx`` -> ``M.xml`` in the same folder (its weights in ``M.bin``)."""
    return Path(onnx).with_suffix(".xml")


def manifest_path(xml: str | Path) -> Path:
    xml = Path(xml)
    return xml.with_name(xml.name + ".json")


def weight_compression(card: ModelCard) -> tuple[bool, str]:
    """(``compress_to_fp16``, why) for the graph's precision: weights are compressed only where that changes no
    result, which on our graphs is nowhere (measured on test-NK, OpenVINO f32 inference)."""
    if card.precision == "fp16":
        return False, ("the FP16 graph's weights are FP16 already and stay FP16 in the IR; compress_to_fp16 would "
                       "also round its FP32 islands' weights to FP16, which changes the outputs (test-NK: REL 2e-6, "
                       "domain logits 4e-4) for 0.6% fewer bytes")
    if card.precision == "int8":
        return False, ("the INT8 Q/DQ graph's quantized weights are INT8 already and stay INT8 in the IR; the weights "
                       "kept out of INT8 stay as the graph has them")
    return False, ("FP16 weights would change the results of an FP32 graph (test-NK: REL 1.5e-5, over FP32's 1e-5 "
                   "bound): its weights stay FP32")


#: an INT8 IR may land this many times the graph's own INT8 drift (REL against FP32) from the graph; see below
INT8_DRIFT_FACTOR = 3.0


def verification_tolerance(card: ModelCard) -> tuple[Tolerance, str]:
    """The bound the IR in OpenVINO (f32) must meet against the graph in ONNX Runtime, and why."""
    fp16 = get_precision("fp16").tolerance
    if card.precision == "int8":
        # OpenVINO runs the Q/DQ pairs as INT8 kernels (exact integer products, INT32 sums), ONNX Runtime (graph
        # optimisations off) emulates them in float: two INT8 implementations. On a shallow model they agree to
        # FP32 rounding (test-NK, 4 blocks: REL 1e-7). On a deep one, rounding differences move activations across
        # quantization steps, block after block, until the two are as far apart as each is from FP32. M12-N at
        # 96x128 (24 blocks, random weights): OpenVINO 1.0-1.1e-3 from FP32, the emulation 0.9-1.1e-3, ONNX
        # Runtime's own fused INT8 kernels 0.9-1.0e-3; OpenVINO from the emulation 1.1-1.3e-3, from ONNX Runtime's
        # INT8 kernels 1.2-1.4e-3, and OpenVINO on the .onnx from OpenVINO on the IR 1.0-1.3e-3; the card's drift
        # 8.2e-4. So the bound follows the graph's drift d (the precision stage's measured_rel, else the user's
        # budget): two results each within d of FP32 are within 2d of each other, and x1.5 for inputs that drift
        # more than the mean (worst seen: 1.6d). FP16's REL is the floor. A fixed bound would fail every faithful
        # IR of a graph with a larger drift (M12 INT8 budgets are 1e-2); delta1 and the logits get INT8's bounds
        # (the router must still pick the same head).
        int8 = get_precision("int8").tolerance
        drift = card.measured_rel if card.measured_rel is not None else card.int8_budget_rel
        if drift is None:
            return Tolerance(fp16.max_rel, int8.min_delta1, int8.max_logit_rel), (
                "INT8: two INT8 implementations; the card records no drift, FP16's REL bound")
        bound = max(fp16.max_rel, INT8_DRIFT_FACTOR * drift)
        return Tolerance(bound, int8.min_delta1, int8.max_logit_rel), (
            f"INT8: two INT8 implementations, within {INT8_DRIFT_FACTOR:g}x the graph's drift from FP32 "
            f"({drift:.3g}), at least FP16's {fp16.max_rel:g}")
    if card.precision == "fp16":
        # OpenVINO at f32 computes the FP16 graph's FP16 parts in FP32 (no FP16 rounding of activations), ONNX
        # Runtime rounds them: the IR lands between the graph and FP32, and the precision stage kept the graph within
        # FP16's bound of FP32 (test-NK: REL 1e-5; M12-N at 96x128: 1.1e-5)
        return fp16, "FP16: OpenVINO computes the FP16 parts in FP32; FP16's bound"
    return get_precision(card.precision).tolerance, f"{card.precision.upper()}: the same maths in another order"


def verification_feeds(card: ModelCard) -> Feeds:
    """The structured scene and noise the graph takes: at its size (a dynamic-size graph also at its range's
    ends); a frame graph's at its frame size, or, when it takes any frame, at the model size and an odd size."""
    if card.io != "frame":
        from ..precision.parity import structured_feeds

        return structured_feeds(card)
    size = tuple(card.frame_size or card.size)
    feeds = {f"frame {format_size(size)} {case}": {card.input_name: array}
             for case, array in verification_inputs(*size, card.input_format, card.batch).items()}
    if card.frame_size is None:  # one row fewer and one column more: the resize inside the graph at work
        odd = (size[0] - 1, size[1] + 1)
        case, array = next(iter(verification_inputs(*odd, card.input_format, card.batch).items()))
        feeds[f"frame {format_size(odd)} {case}"] = {card.input_name: array}
    return feeds


def export_ir(onnx: str | Path, output: str | Path | None = None, verify: bool = True) -> dict:
    """Convert ``onnx`` (a graph from zoe-export, with its card) to OpenVINO IR at ``output`` (default: the graph's
    path with ``.xml``); verify it, then write it with its manifest. Returns the manifest plus ``path``.

    ``verify=False`` skips the verification (the manifest says so) and writes no parity picture."""
    with folders_removed_on_failure():
        return _export(Path(onnx), output, verify)


def ir_from_onnx(onnx_path: str | Path, folder: str | Path, **ignored) -> Path:
    """The backend registry's ``from_onnx`` hook: ``folder/<stem>.xml`` made (and verified) from ``onnx_path``.

    The runner conformance suite passes TensorRT's options too (``batch_profile``): an IR keeps the graph's
    shapes, so they are ignored."""
    folder = Path(folder)
    return Path(export_ir(onnx_path, folder / default_ir_output(Path(onnx_path).name))["path"])


def _export(source: Path, output: str | Path | None, verify: bool) -> dict:
    source = existing_file(source, "ONNX file", "pass an .onnx graph from zoe-export onnx.")
    output = Path(output) if output is not None else default_ir_output(source)
    flag = option("--output", "output=")
    if output.suffix != ".xml":
        raise ZoeExportError(f"{flag} {output}: name the IR NAME.xml (its weights go beside it, in NAME.bin).")
    card = read_card(source)  # no card: refused, naming zoe-export onnx
    ov = import_openvino("zoe-export openvino")
    xml, bin_ = ir_path(output)
    check_writable(xml, flag)
    for companion in (bin_, *(xml.with_name(xml.name + suffix) for suffix in COMPANIONS)):
        refuse_folder(companion)
    compress, why = weight_compression(card)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{xml.name}.", suffix=".part", dir=xml.parent) as tmp:
        staged = Path(tmp) / xml.name
        with stage(f"converting {source} to OpenVINO IR"):
            _convert(ov, source, staged, card, compress)
        seconds = {"convert": round(time.perf_counter() - start, 1)}
        verification, picture = {"passed": None, "skipped": True}, None
        if verify:
            begun = time.perf_counter()
            verification, picture = _verify(source, staged, card)
            seconds["verify"] = round(time.perf_counter() - begun, 1)
            if not verification["passed"]:
                log.warning("%s", "\n".join(verification_lines({"verification": verification})))
                raise ZoeExportError(
                    f"the IR does not compute what {source} computes, nothing written (another OpenVINO version may "
                    f"convert it faithfully; {option('--no-verify', 'verify=False')} writes it unchecked):\n  "
                    + "\n  ".join(verification["failures"]))
        staged_bin = staged.with_suffix(".bin")
        manifest = {
            "format": FORMAT,
            "version": MANIFEST_VERSION,
            "file": xml.name,
            "bin_file": bin_.name,
            "bin_bytes": staged_bin.stat().st_size,
            "bin_sha256": file_sha256(staged_bin),
            "source": {"file": str(source), "sha256": file_sha256(source)},
            "card": card.to_dict(),
            "openvino_version": _openvino_version(ov),
            "compress_to_fp16": compress,
            "weights": why,
            "verification": verification,
            "picture": xml.name + COMPANIONS[1] if picture is not None else None,
            "seconds": seconds,
            "zoe_export_version": __version__,
            "cpu": cpu_info().to_dict(),
        }
        _stage_companions(staged, manifest, picture)
        _move_into_place(staged, xml)
    return {**manifest, "path": str(xml)}


def verification_lines(manifest: dict) -> list[str]:
    """The console lines of a manifest's verification: one per input, then the verdict (the CLI prints them)."""
    v = manifest["verification"]
    if v.get("skipped"):
        return [f"verify   skipped ({option('--no-verify', 'verify=False')}): the IR was not run"]
    lines = []
    for case, outputs in v["cases"].items():
        m = outputs["metric_depth"]
        lines.append(f"verify   {case[:40]:40} REL {m['rel']:.2e}  RMSE {m['rmse']:.2e}  delta1 {m['delta1']:.6f}  "
                     f"max abs {m['max_abs']:.2e}")
    o, t = v["overall"], v["tolerance"]
    verdict = "passed" if v["passed"] else "FAILED"
    lines.append(f"verify   {verdict}: mean REL {o['rel']:.2e} (worst {o['worst_rel']:.2e}), delta1 "
                 f"{o['delta1']:.6f}; every input within REL <= {t['max_rel']:.3g}, delta1 >= "
                 f"{t['min_delta1']:g} ({v['bound']}); {v['backend']}")
    return lines


def _openvino_version(ov) -> str:
    return ov.__version__.split("-")[0]


def _convert(ov, source: Path, staged: Path, card: ModelCard, compress: bool) -> None:
    """``source`` as IR at ``staged`` (+ .bin), the card in its runtime info."""
    try:
        model = ov.convert_model(str(source))
    except Exception as exc:  # OpenVINO's frontends raise their own errors (OpConversionFailure, RuntimeError)
        raise ZoeExportError(f"OpenVINO cannot convert {source}: {exc}".rstrip() + " Nothing was written.") from exc
    write_ir_card(model, card)
    try:
        ov.save_model(model, str(staged), compress_to_fp16=compress)
    except Exception as exc:  # a full disk reads as RuntimeError from OpenVINO's serializer
        raise ZoeExportError(f"OpenVINO could not save the IR into {staged.parent}: {exc}. Nothing was written; "
                             "free space there or choose another output folder.") from exc
    del model
    release_memory()
    if read_ir_card(staged) != card:  # read back from the XML alone, as every reader of the IR will
        raise ZoeExportError(f"the card read back from the IR differs from {source}'s: a zoe-export bug, please "
                             "report it. Nothing was written.")


def _verify(source: Path, staged: Path, card: ModelCard) -> tuple[dict, np.ndarray]:
    """The staged IR in OpenVINO (f32) against ``source`` in ONNX Runtime, one after the other (one model's
    weights in memory at a time); returns the report and the parity picture."""
    from ..precision.parity import Workbench, parity

    tolerance, why = verification_tolerance(card)
    feeds = verification_feeds(card)
    with stage(f"verifying the IR: OpenVINO (f32) against ONNX Runtime on {len(feeds)} input(s)"):
        with get_backend("onnxruntime").open(source, graph_optimization=REFERENCE_OPTIMIZATION) as runner:
            references = {case: runner.infer(feed) for case, feed in feeds.items()}
        release_memory()
        with get_backend("openvino").open(staged, precision="f32", card=card) as runner:
            outputs = {case: runner.infer(feed) for case, feed in feeds.items()}
            computed_in, cpu = runner.inference_precision, runner.cpu
        release_memory()
    import onnxruntime

    openvino = f"OpenVINO {cpu.openvino_version} CPU, {computed_in} inference"
    reference = f"ONNX Runtime {onnxruntime.__version__} CPU (graph optimisations {REFERENCE_OPTIMIZATION})"
    bench = Workbench(source, card, staged.parent, feeds, references=references)
    report = parity(bench, outputs, tolerance, f"{openvino} vs {reference}")
    report.update(openvino=openvino, reference=reference, inference_precision=computed_in, bound=why)
    return report, _picture(bench, outputs)


def _picture(bench, outputs: Feeds) -> np.ndarray:
    """input | ONNX Runtime depth | OpenVINO depth | relative error, for the first input (the structured scene)."""
    from ..io.images import parity_panel
    from ..preprocess import to_uint8

    case = next(iter(outputs))
    image = bench.feeds[case][bench.card.input_name][0]
    rgb = to_uint8(image, "hwc" if image.dtype == np.uint8 else "chw")
    depth = lambda out: np.asarray(out["metric_depth"])[0]  # noqa: E731  [1, h, w] (model io) or [H, W] (frame)
    return parity_panel(rgb, depth(bench.references[case]), depth(outputs[case]),
                        ("input", "ONNX Runtime", "OpenVINO IR"))


def _stage_companions(staged: Path, manifest: dict, picture: np.ndarray | None) -> None:
    """The manifest and the picture, written into the temporary folder beside the staged IR."""
    from ..io.images import write_image

    staged.with_name(staged.name + COMPANIONS[0]).write_text(json.dumps(manifest, indent=2, default=str))
    if picture is not None:
        write_image(staged.with_name(staged.name + COMPANIONS[1]), picture)


def _move_into_place(staged: Path, xml: Path) -> None:
    """Rename the staged files into place: the .bin, the .xml, the manifest, the picture (a reader that finds the
    .xml finds its weights). A picture left from an earlier run is removed when this one has none. Should a rename
    fail, the files already moved are taken back: an IR is never left without its weights or its manifest."""
    pairs = [(staged.with_suffix(".bin"), xml.with_suffix(".bin")), (staged, xml)]
    pairs += [(staged.with_name(staged.name + s), xml.with_name(xml.name + s)) for s in COMPANIONS]
    moved = []
    try:
        for tmp, target in pairs:
            if tmp.exists():
                refuse_folder(target)
                os.replace(tmp, target)
                moved.append(target)
            elif target.suffix == ".png":
                target.unlink(missing_ok=True)  # an earlier run's picture does not describe this IR
    except BaseException:
        for target in moved:
            target.unlink(missing_ok=True)
        raise
