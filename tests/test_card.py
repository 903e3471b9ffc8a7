"""The model card reads and writes the same from ONNX metadata, the .onnx.json manifest and an engine manifest."""
import json

import pytest

from zoe_export.card import (
    CARD_VERSION,
    Calibration,
    ModelCard,
    Weights,
    card_from_manifest,
    read_card,
)
from zoe_export.errors import ZoeExportError
from zoe_export.sizes import SizeProfile, SizeRange

INT8 = ModelCard(
    variant="M12-NK", head="NK", height=384, width=672, input_format="uint8-nhwc", batch=None, batch_profile=(1, 2, 8),
    depth_range=(1e-3, 80.0), max_depth=40.0, domain="kitti", outputs=("metric_depth", "domain_logits"),
    precision="int8", source_precision="fp32", fp16_islands=("layer_norm", "attractors"), high_precision="fp16",
    int8_groups=("mlp", "attention"), int8_budget_rel=0.01, calibration=Calibration("abc123", "entropy"),
    converter="ONNX Runtime QDQ quantizer", measured_rel=0.004, reference="PyTorch (FP32)", measured_on="openvino:bf16",
    weights=Weights("checkpoint", "f" * 64), opset=18, versions={"zoe_export": "0.1.0", "tensorrt": "10.13.2.6"})


DYNAMIC_ENGINE = ModelCard(
    variant="M12-N", head="N", height=384, width=512, size_range=SizeRange((256, 256), (768, 1344)),
    size_profile=SizeProfile((320, 320), (384, 672), (768, 1344)), weights=Weights("random", seed=0))
FRAME = ModelCard(variant="M12-K", head="K", height=384, width=768, input_name="frame", input_format="uint8-nhwc",
                  io="frame", fit="minimal", size_range=SizeRange((256, 256), (768, 1344)), flip=True,
                  frame_size=(352, 1216), weights=Weights("random", seed=0))


@pytest.mark.parametrize("card", [INT8, ModelCard("test-N", "N", 64, 96, weights=Weights("random", seed=3)),
                                  DYNAMIC_ENGINE, FRAME])
def test_metadata_and_json_round_trip_to_the_same_card(card):
    meta = card.to_metadata()
    assert all(isinstance(v, str) for v in meta.values()) and meta["card_version"] == str(CARD_VERSION)
    assert ModelCard.from_metadata(meta) == card
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card
    assert card_from_manifest({"card": card.to_dict()}, "m.onnx.json") == card


def test_derived_facts():
    assert INT8.input_shape == (None, 384, 672, 3) and INT8.size == (384, 672) and INT8.depth_max == 40.0
    spec = INT8.input_spec()
    assert spec.name == "image" and spec.dtype.name == "uint8" and spec.shape == (None, 384, 672, 3)
    assert INT8.to_metadata()["input_shape"] == "N,384,672,3" and INT8.to_metadata()["batch"] == "dynamic"
    assert INT8.identity() == {"variant": "M12-NK", "weights": "checkpoint", "checkpoint_sha256": "f" * 64,
                               "max_depth": "40", "domain": "kitti"}


def test_version_1_graph_metadata_still_loads():
    """Metadata as zoe-export 0.1 wrote it (no card_version, no depth_range)."""
    old = {"zoe_export.version": "0.1.0", "variant": "M12-K", "head_type": "K", "precision": "fp16",
           "input_name": "image", "input_format": "float-nchw", "input_shape": "1,3,384,768", "height": "384",
           "width": "768", "batch": "1", "depth_min": "0.001", "depth_max": "80", "max_depth": "80", "domain": "",
           "mean": "0.5,0.5,0.5", "std": "0.5,0.5,0.5", "fit": "stretch", "outputs": "metric_depth",
           "weights": "random", "checkpoint_sha256": "", "random_seed": "0", "opset": "18",
           "fp16_islands": "layer_norm,attractors", "measured_rel": "1.234e-04"}
    card = ModelCard.from_metadata(old, "old.onnx")
    assert (card.variant, card.head, card.size, card.batch, card.precision) == ("M12-K", "K", (384, 768), 1, "fp16")
    assert card.depth_range == (0.001, 80.0) and card.max_depth == 80.0 and card.domain is None
    assert card.weights == Weights("random", None, 0) and card.fp16_islands == ("layer_norm", "attractors")
    assert card.measured_rel == pytest.approx(1.234e-4) and card.measured_on is None  # not recorded then


def test_where_the_figure_was_measured_round_trips_and_cards_without_it_still_load():
    meta = INT8.to_metadata()
    assert meta["measured_on"] == "openvino:bf16" and INT8.to_dict()["measured_on"] == "openvino:bf16"
    assert ModelCard.from_metadata(meta).measured_on == "openvino:bf16"
    unknown = INT8.with_changes(measured_on=None)
    assert "measured_on" not in unknown.to_metadata()  # like every unset fact: no key
    del meta["measured_on"]  # a graph converted before zoe-export recorded it
    assert ModelCard.from_metadata(meta) == unknown
    data = INT8.to_dict()
    del data["measured_on"]  # an older .onnx.json manifest
    assert ModelCard.from_dict(data) == unknown


def test_version_1_engine_manifest_still_loads_or_names_the_rebuild():
    old = {"format": "zoe-export engine", "version": 1, "precision": "int8", "calibration_set": "c0ffee",
           "islands": {"high_precision": "fp16", "int8_budget_rel": "0.01", "calibration_method": "entropy"},
           "inputs": [{"name": "image", "profile": {"min": [1, 3, 64, 96], "opt": [2, 3, 64, 96], "max": [8, 3, 64, 96]}}],
           "model": {"variant": "test-N", "head_type": "N", "height": "64", "width": "96", "batch": "dynamic",
                     "input_format": "float-nchw", "weights": "random", "random_seed": "0"}}
    card = card_from_manifest(old, "m.engine.json")
    assert card.precision == "int8" and card.high_precision == "fp16" and card.int8_budget_rel == 0.01
    assert card.calibration == Calibration("c0ffee", "entropy") and card.batch_profile == (1, 2, 8)
    with pytest.raises(ZoeExportError, match="m.engine.json has no zoe-export model card.*zoe-export trt --rebuild"):
        card_from_manifest({"format": "zoe-export engine", "version": 1, "model": {}}, "m.engine.json")


@pytest.mark.parametrize("meta,match", [
    ({"variant": "test-N", "height": "sixty", "width": "96"}, "height 'sixty' is not a whole number"),
    ({"variant": "test-N", "height": "64", "width": "96", "input_format": "rgb"}, "input format 'rgb'"),
    ({"height": "64", "width": "96"}, "no zoe-export model card .lacks variant.: export it again"),
    ({"variant": "test-N", "height": "64", "width": "96", "card_version": "99"}, "newer than this zoe-export"),
])
def test_bad_cards_say_what_is_wrong_and_the_fix(meta, match):
    with pytest.raises(ZoeExportError, match=match):
        ModelCard.from_metadata(meta, "x.onnx")


def test_read_card_finds_the_card_of_any_file(tiny_onnx, tmp_path):
    path = tiny_onnx("test-N")
    card = read_card(path)
    assert card.variant == "test-N" and card.precision == "fp32" and card.weights.kind == "random"
    assert read_card(path.with_name(path.name + ".json")) == card
    with pytest.raises(ZoeExportError, match="no backend opens .txt"):
        read_card(tmp_path / "notes.txt")


def test_sizes_of_dynamic_and_frame_graphs():
    assert DYNAMIC_ENGINE.input_shape == (1, 3, None, None) and DYNAMIC_ENGINE.depth_shape == (1, 1, None, None)
    assert DYNAMIC_ENGINE.to_metadata()["size_range"] == "256x256:768x1344"
    assert DYNAMIC_ENGINE.to_metadata()["size_profile"] == "320x320:384x672:768x1344"
    assert FRAME.input_shape == (1, 352, 1216, 3) and FRAME.depth_shape == (1, 352, 1216)
    assert FRAME.with_changes(frame_size=None).input_shape == (1, None, None, 3)
    # the official keep-aspect size of a KITTI frame for K: padded 430x1362 -> 384x1216
    assert FRAME.model_size_for_frame(352, 1216) == (384, 1216)
    assert INT8.model_size_for_frame(720, 1280) == (384, 672)  # a fixed graph always runs at its size
    DYNAMIC_ENGINE.check_model_size((384, 672))
    with pytest.raises(ZoeExportError, match=r"outside this graph's range 256x256:768x1344.*--dynamic-size|dynamic_size="):
        DYNAMIC_ENGINE.check_model_size((384, 1376))
    with pytest.raises(ZoeExportError, match="fixed at 384x672"):
        INT8.check_model_size((384, 512))


def test_a_card_with_a_bad_size_range_names_the_fix():
    meta = {**DYNAMIC_ENGINE.to_metadata(), "size_range": "256x256"}
    with pytest.raises(ZoeExportError, match="size_range.*export it again"):
        ModelCard.from_metadata(meta)
