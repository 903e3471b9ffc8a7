"""``export_ir``: ONNX -> OpenVINO IR with the card inside, verified against ONNX Runtime before anything is written,
written atomically (.bin, .xml, manifest, picture) or not at all.

Most tests convert tests/fakes/graphs.py's graphs (milliseconds to make, the real export's names, shapes and card;
a second each to convert and verify). The round trips of real graphs (test-NK; test-N in FP16 and INT8) are slow."""
import json
import os
from dataclasses import asdict

import numpy as np
import pytest
from fakes.graphs import dynamic_card, dynamic_graph

from zoe_export import __version__
from zoe_export._files import file_sha256
from zoe_export.card import ModelCard
from zoe_export.compare.tolerance import Tolerance
from zoe_export.errors import ZoeExportError
from zoe_export.export.metadata import read_card
from zoe_export.openvino import export as export_module
from zoe_export.openvino import read_ir_card
from zoe_export.openvino.export import export_ir, ir_from_onnx, verification_lines, verification_tolerance
from zoe_export.registry import get_backend, get_precision

pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install 'zoe-export[openvino]')")

#: every file a conversion writes beside M.xml
WRITTEN = ("m.xml", "m.bin", "m.xml.json", "m.xml.parity.png")


@pytest.fixture
def graph(tmp_path):
    """A dynamic-batch, dynamic-size model graph (its card: test-N, 64x96, sizes 32x32 to 128x192)."""
    return dynamic_graph(tmp_path / "m.onnx", batch=None)


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------------------- what is written

def test_default_output_is_the_onnx_path_with_xml_and_the_manifest_says_what_it_is(graph, tmp_path):
    manifest = export_ir(graph)
    assert manifest["path"] == str(tmp_path / "m.xml")
    assert _files(tmp_path) == sorted(("m.onnx", *WRITTEN))  # no temporary folder left either
    written = json.loads((tmp_path / "m.xml.json").read_text())
    assert written == json.loads(json.dumps({k: v for k, v in manifest.items() if k != "path"}))
    assert written["format"] == "zoe-export openvino IR" and written["version"] == 1
    assert (written["file"], written["bin_file"], written["picture"]) == ("m.xml", "m.bin", "m.xml.parity.png")
    assert written["source"] == {"file": str(graph), "sha256": file_sha256(graph)}
    assert written["bin_sha256"] == file_sha256(tmp_path / "m.bin")
    assert ModelCard.from_dict(written["card"]) == read_card(graph) == read_ir_card(tmp_path / "m.xml")
    assert written["compress_to_fp16"] is False and "stay FP32" in written["weights"]
    assert written["openvino_version"] == written["cpu"]["openvino"]
    assert set(written["cpu"]) == {"cpu", "capabilities", "default_precision", "openvino"}
    assert written["zoe_export_version"] == __version__ and set(written["seconds"]) == {"convert", "verify"}


def test_the_verification_is_recorded_per_input_with_its_bound(graph, tmp_path):
    v = export_ir(graph, tmp_path / "out" / "m.xml")["verification"]
    assert v["passed"] is True and v["failures"] == []
    assert v["openvino"].startswith("OpenVINO ") and v["openvino"].endswith("CPU, f32 inference")
    assert v["reference"].startswith("ONNX Runtime ") and v["inference_precision"] == "f32"
    assert v["tolerance"] == asdict(get_precision("fp32").tolerance)
    # the structured scene and noise at the default size, and the scene at the range's ends (a dynamic-size graph)
    assert list(v["cases"]) == ["batch", "single", "32x32 batch", "128x192 batch"]
    assert v["sizes"] == ["32x32", "64x96", "128x192"]
    assert v["overall"]["rel"] <= 1e-7 and v["overall"]["delta1"] == 1.0  # a channel mean: the same sums
    lines = verification_lines({"verification": v})
    assert lines[0].startswith("verify   batch ") and lines[-1].startswith("verify   passed: mean REL")


@pytest.mark.parametrize("kind", ["frame", "frame_fixed", "uint8"])
def test_frame_and_uint8_graphs_convert_and_verify(kind, tmp_path):
    graph = {"frame": lambda p: dynamic_graph(p, io="frame"),
             "frame_fixed": lambda p: dynamic_graph(p, io="frame", fixed_size=(40, 50)),
             "uint8": lambda p: dynamic_graph(p, input_format="uint8-nhwc")}[kind](tmp_path / "m.onnx")
    manifest = export_ir(graph)
    cases = list(manifest["verification"]["cases"])
    expected = {"frame": ["frame 64x96 input0", "frame 64x96 input1", "frame 63x97 input0"],  # any size: an odd one
                "frame_fixed": ["frame 40x50 input0", "frame 40x50 input1"],  # the one size it takes
                "uint8": ["input0", "input1", "32x32 input0", "128x192 input0"]}[kind]
    assert cases == expected and manifest["verification"]["passed"] is True
    assert _files(tmp_path) == sorted(("m.onnx", *WRITTEN))


def test_no_verify_writes_the_ir_says_so_and_leaves_no_stale_picture(graph, tmp_path):
    (tmp_path / "m.xml.parity.png").write_bytes(b"an earlier run's picture")
    manifest = export_ir(graph, verify=False)
    assert manifest["verification"] == {"passed": None, "skipped": True} and manifest["picture"] is None
    assert _files(tmp_path) == ["m.bin", "m.onnx", "m.xml", "m.xml.json"]
    assert verification_lines(manifest) == ["verify   skipped (verify=False): the IR was not run"]


def test_ir_from_onnx_is_the_registrys_hook(graph, tmp_path):
    made = ir_from_onnx(graph, tmp_path / "ir" / "openvino", batch_profile=(1, 2, 4))  # TensorRT's options: ignored
    assert made == tmp_path / "ir" / "openvino" / "m.xml" and made.with_suffix(".bin").is_file()
    assert get_backend("openvino").read_card(made) == read_card(graph)


# ------------------------------------------------------------------------------------------- all or nothing

def test_a_failing_verification_writes_nothing_and_keeps_what_was_there(graph, tmp_path, monkeypatch):
    export_ir(graph)
    before = {name: (tmp_path / name).read_bytes() for name in WRITTEN}
    impossible = Tolerance(max_rel=-1.0, min_delta1=2.0, max_logit_rel=0.0)
    monkeypatch.setattr(export_module, "verification_tolerance", lambda card: (impossible, "impossible"))
    with pytest.raises(ZoeExportError, match=r"(?s)nothing written .*verify=False writes it unchecked\):\n  "
                                             r"batch: metric_depth: REL 0 > -1.*delta1 1\.000000 < 2"):
        export_ir(graph, verify=True)
    assert {name: (tmp_path / name).read_bytes() for name in WRITTEN} == before  # the earlier IR, untouched
    assert _files(tmp_path) == sorted(("m.onnx", *WRITTEN))  # no temporary folder either


def test_a_failed_rename_takes_back_what_was_moved(graph, tmp_path, monkeypatch):
    replace = os.replace

    def failing(src, dst):
        if str(dst).endswith(".json"):
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(export_module.os, "replace", failing)
    with pytest.raises(OSError, match="No space left"):
        export_ir(graph)
    assert _files(tmp_path) == ["m.onnx"]  # not an IR without its manifest


@pytest.mark.parametrize("output, message", [
    ("m.onnx.ir", "name the IR NAME.xml"),
    ("m", "name the IR NAME.xml"),
])
def test_an_output_not_ending_in_xml_is_refused(output, message, graph, tmp_path):
    with pytest.raises(ZoeExportError, match=f"output= {tmp_path / output}: {message}"):
        export_ir(graph, tmp_path / output)
    assert _files(tmp_path) == ["m.onnx"]


def test_an_output_that_is_a_folder_is_refused_before_converting(graph, tmp_path):
    (tmp_path / "m.xml.json").mkdir()
    with pytest.raises(ZoeExportError, match="is an existing folder"):
        export_ir(graph)
    assert _files(tmp_path) == ["m.onnx", "m.xml.json"]


def test_a_graph_without_a_card_is_refused_naming_zoe_export_onnx(tmp_path):
    import onnx

    path = dynamic_graph(tmp_path / "m.onnx")
    model = onnx.load(path)
    del model.metadata_props[:]
    onnx.save(model, path)
    with pytest.raises(ZoeExportError, match="has no zoe-export model card .*zoe-export onnx"):
        export_ir(path)
    assert _files(tmp_path) == ["m.onnx"]


def test_a_missing_graph_is_refused(tmp_path):
    with pytest.raises(ZoeExportError, match="ONNX file .*missing.onnx does not exist; pass an .onnx graph"):
        export_ir(tmp_path / "missing.onnx")


def test_a_missing_openvino_names_the_extra_and_writes_nothing(graph, tmp_path, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_openvino(name, *args):
        if name.split(".")[0] == "openvino":
            raise ImportError(f"No module named {name!r}", name=name)
        return real(name, *args)

    monkeypatch.setattr("zoe_export._lazy.importlib.import_module", without_openvino)
    with pytest.raises(ZoeExportError, match=r"pip install 'zoe-export\[openvino\]'"):
        export_ir(graph, tmp_path / "ir" / "m.xml")
    assert _files(tmp_path) == ["m.onnx"]


# ------------------------------------------------------------------------------------------- real graphs

@pytest.fixture(scope="module")
def nk_onnx(tmp_path_factory):
    """test-NK (seeded random weights), dynamic batch: two outputs, the router's logits among them."""
    from zoe_export.export import ExportOptions, export_onnx
    from zoe_export.models import load_model

    path = tmp_path_factory.mktemp("nk") / "nk.onnx"
    export_onnx(load_model("test-NK", weights="random"), path, ExportOptions(batch=None, verify=False))
    return path


@pytest.mark.slow
def test_round_trip_of_a_real_graph(nk_onnx, tmp_path):
    xml = tmp_path / "nk.xml"
    manifest = export_ir(nk_onnx, xml)
    assert read_ir_card(xml) == read_card(nk_onnx)  # the card is the model's, unchanged
    # on inputs the verification did not use, a batch of three (the batch is free in the IR too)
    batch = {"image": np.random.default_rng(7).random((3, 3, 64, 96)).astype(np.float32)}
    with get_backend("onnxruntime").open(nk_onnx) as runner:
        reference = runner.infer(batch)
    with get_backend("openvino").open(xml) as runner:
        assert runner.input_specs()[0].shape == (None, 3, 64, 96)
        outputs = runner.infer(batch)
    from zoe_export.compare.metrics import compare_outputs

    assert all(r.passed for r in compare_outputs(outputs, reference, get_precision("fp32").tolerance))
    v = manifest["verification"]
    assert set(v["cases"]["batch"]) == {"metric_depth", "domain_logits"}
    assert v["overall"]["rel"] < 1e-6  # the same FP32 maths in another order (measured: 9e-8)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_converted_graphs_keep_their_weights_and_verify(precision, tiny_converted, tmp_path):
    source = tiny_converted(precision)
    card = read_card(source)
    manifest = export_ir(source, tmp_path / f"n_{precision}.xml")
    v = manifest["verification"]
    assert manifest["card"]["precision"] == precision and manifest["compress_to_fp16"] is False
    assert v["passed"] is True and read_ir_card(manifest["path"]) == card
    fp16, int8 = get_precision("fp16").tolerance, get_precision("int8").tolerance
    if precision == "fp16":
        assert v["tolerance"] == asdict(fp16)
    else:  # two INT8 implementations: 3x the graph's own drift from FP32, FP16's REL at least; INT8's other bounds
        assert v["tolerance"] == {"max_rel": max(fp16.max_rel, 3 * card.measured_rel),
                                  "min_delta1": int8.min_delta1, "max_logit_rel": int8.max_logit_rel}
    # a shallow model: FP16, OpenVINO computes the FP16 parts in FP32 (measured on test-NK: 1e-5); INT8, the two
    # implementations differ by FP32 rounding only (measured on test-NK: 1e-7). Both far inside 2e-3.
    assert v["overall"]["worst_rel"] < 1e-4


def test_int8_bound_follows_the_graphs_drift():
    card = dynamic_card().with_changes(precision="int8")
    assert verification_tolerance(card.with_changes(measured_rel=1e-2))[0].max_rel == pytest.approx(3e-2)
    assert verification_tolerance(card.with_changes(measured_rel=1e-4))[0].max_rel == 2e-3  # FP16's, the floor
    assert verification_tolerance(card.with_changes(int8_budget_rel=5e-3))[0].max_rel == pytest.approx(1.5e-2)
    tolerance, why = verification_tolerance(card)
    assert tolerance.max_rel == 2e-3 and "records no drift" in why
    assert verification_tolerance(card.with_changes(precision="fp32"))[0] == get_precision("fp32").tolerance
