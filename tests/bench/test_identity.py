"""Which model a backend computes, from its card: parity compares only the same weights."""
import json

import pytest
import torch

from zoe_export.bench.backends import BackendSpec, engine_spec, onnx_spec
from zoe_export.bench.identity import identity, mismatches
from zoe_export._files import file_sha256
from zoe_export.models import load_model
from zoe_export.trt.manifest import FORMAT


def _torch(**options):
    return BackendSpec("torch", "test-N", "cpu", "fp32", options)


@pytest.mark.slow
def test_a_graph_and_the_pytorch_flags_it_was_exported_with_agree(tiny_onnx):
    graph = identity(onnx_spec(str(tiny_onnx("test-N")), "cpu"))
    assert graph == {"variant": "test-N", "weights": "random", "random_seed": "0", "max_depth": "default",
                     "domain": "auto"}
    assert mismatches(graph, identity(_torch(weights="random", seed=None))) == []
    assert mismatches(graph, identity(_torch(weights="random", seed=2))) == ["random_seed 2 (the reference: 0)"]


def test_a_checkpoint_is_known_by_its_hash_or_the_pinned_one(tmp_path):
    torch.save(load_model("test-N", weights="random").state_dict(), tmp_path / "n.pt")
    digest = file_sha256(tmp_path / "n.pt")
    assert identity(_torch(checkpoint=str(tmp_path / "n.pt")))["checkpoint_sha256"] == digest
    assert identity(_torch(checkpoint=str(tmp_path / "n.pt"), sha256=digest.upper()))["checkpoint_sha256"] == digest
    assert "checkpoint_sha256" not in identity(_torch())  # the release download: compared by variant only


def test_an_engine_card_without_newer_keys_compares_what_it_has(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    (tmp_path / "m.engine.json").write_text(json.dumps({  # a manifest of version 1: no card, no random_seed
        "format": FORMAT, "version": 1, "precision": "fp16",
        "model": {"variant": "test-N", "weights": "random", "domain": "", "height": "64", "width": "96"}}))
    card = identity(engine_spec(str(engine)))
    assert card == {"variant": "test-N", "weights": "random", "max_depth": "default", "domain": "auto"}
    assert mismatches(card, identity(_torch(weights="random", seed=7))) == []  # no seed recorded: not compared
    assert mismatches(card, identity(BackendSpec("torch", "test-K", "cpu", "fp32", {"weights": "random"}))) == [
        "variant test-K (the reference: test-N)"]
