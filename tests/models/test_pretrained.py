"""Checkpoint files: formats, strict checks with a useful error, sha256, download and cache."""
import dataclasses
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest
import torch

from zoe_export.errors import ZoeExportError
from zoe_export.models import get_variant, load_model, random_state_dict
from zoe_export.models._pretrained import cache_dir, guess_variant
from zoe_export.models._registry import CheckpointRef


@pytest.fixture(scope="module")
def tiny_n_state():
    return load_model("test-N", weights="random", seed=4).state_dict()


def _output(model):
    with torch.inference_mode():
        return model(torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(0)))["metric_depth"]


@pytest.mark.parametrize("wrap", ["model", "top-level", "module-prefix"])
def test_checkpoint_layouts_load_the_same_weights(tmp_path, tiny_n_state, wrap):
    payload = {
        "model": {"model": tiny_n_state, "optimizer": {}},
        "top-level": tiny_n_state,
        "module-prefix": {"model": {f"module.{k}": v for k, v in tiny_n_state.items()}},
    }[wrap]
    path = tmp_path / "ckpt.pt"
    torch.save(payload, path)
    model = load_model("test-N", path)
    assert torch.equal(_output(model), _output(load_model("test-N", weights=tiny_n_state)))
    assert model.provenance["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_checkpoint_of_another_variant_names_the_look_alike(tmp_path):
    path = tmp_path / "k.pt"
    torch.save({"model": load_model("test-K", weights="random").state_dict()}, path)
    with pytest.raises(ZoeExportError) as err:
        load_model("test-N", path)
    message = str(err.value)
    assert "looks like a test-K checkpoint" in message and "variant='test-K'" in message  # the API's spelling
    assert "shape mismatch (8)" in message  # K's attractors have 2 channels per attractor


def test_mismatch_report_lists_missing_unexpected_and_misshaped_with_counts(tiny_n_state):
    broken = dict(tiny_n_state)
    del broken["conv2.bias"]
    broken["head.extra"] = torch.zeros(1)
    broken["conv2.weight"] = torch.zeros(3, 3)
    with pytest.raises(ZoeExportError) as err:
        load_model("test-N", weights=broken)
    message = str(err.value)
    assert "missing (1): conv2.bias" in message
    assert "unexpected (1): head.extra" in message
    assert "shape mismatch (1): conv2.weight (3, 3) vs (16, 16, 1, 1)" in message


def test_guess_variant_tells_the_official_layouts_apart(tiny_n_state):
    assert guess_variant(tiny_n_state) == ("test-N", 1.0)
    assert guess_variant(load_model("test-NK", weights="random").state_dict())[0] == "test-NK"


@pytest.mark.parametrize("content,match", [(b"", "corrupt"), (b"not a checkpoint at all", "corrupt")])
def test_corrupt_or_truncated_file(tmp_path, tiny_n_state, content, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ZoeExportError, match=match):
        load_model("test-N", path)
    good = tmp_path / "good.pt"
    torch.save(tiny_n_state, good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ZoeExportError, match="corrupt"):
        load_model("test-N", truncated)


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(ZoeExportError, match="does not exist"):
        load_model("test-N", tmp_path / "nope.pt")


def test_pinned_sha256(tmp_path, tiny_n_state):
    path = tmp_path / "n.pt"
    torch.save(tiny_n_state, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_model("test-N", path, sha256=digest).provenance["sha256"] == digest
    with pytest.raises(ZoeExportError, match="does not match the pinned sha256="):
        load_model("test-N", path, sha256="0" * 64)


def test_checkpoint_and_weights_exclude_each_other(tmp_path):
    with pytest.raises(ZoeExportError, match="exclude each other"):
        load_model("test-N", tmp_path / "x.pt", weights="random")


def test_random_state_dict_matches_the_model_layout():
    model = load_model("test-NK", weights="random")
    sd = random_state_dict(model, seed=0)
    assert {k: v.shape for k, v in sd.items()} == {k: v.shape for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------------- download

class _Server:
    """A loopback HTTP server for one file; ``truncate`` sends fewer bytes than it announces."""

    def __init__(self, payload: bytes, truncate: bool = False):
        payload_ = payload

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload_)))
                self.end_headers()
                self.wfile.write(payload_[: len(payload_) // 3] if truncate else payload_)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ZoeD_test_N.pt"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _released(url: str):
    return dataclasses.replace(get_variant("test-N"), checkpoint=CheckpointRef(url=url, filename="ZoeD_test_N.pt"))


def _checkpoint_bytes(state, tmp_path) -> bytes:
    path = tmp_path / "payload.pt"
    torch.save({"model": state}, path)
    return path.read_bytes()


def test_download_caches_records_sha256_and_verifies_later_loads(tmp_path, tiny_n_state):
    payload = _checkpoint_bytes(tiny_n_state, tmp_path)
    with _Server(payload) as server:
        variant = _released(server.url)
        first = load_model(variant)
    cached = cache_dir() / "ZoeD_test_N.pt"
    record = json.loads((cache_dir() / "ZoeD_test_N.pt.json").read_text())
    assert cached.read_bytes() == payload
    assert record["sha256"] == hashlib.sha256(payload).hexdigest() == first.provenance["sha256"]
    second = load_model(variant)  # server is gone: served from the cache
    assert torch.equal(_output(first), _output(second))
    cached.write_bytes(payload[:-1] + bytes([payload[-1] ^ 1]))  # bit rot in the cache
    with pytest.raises(ZoeExportError, match="recorded in ZoeD_test_N.pt.json.*delete"):
        load_model(variant)


def test_offline_download_says_how_to_pass_a_local_file():
    variant = _released("http://127.0.0.1:9/ZoeD_test_N.pt")  # discard port: nothing listens
    with pytest.raises(ZoeExportError, match="could not download.*--checkpoint PATH"):
        load_model(variant)
    assert not cache_dir().exists() or not any(cache_dir().iterdir())


def test_interrupted_download_leaves_no_partial_file(tmp_path, tiny_n_state):
    with _Server(_checkpoint_bytes(tiny_n_state, tmp_path), truncate=True) as server:
        with pytest.raises(ZoeExportError, match="broke off after"):
            load_model(_released(server.url))
    assert not cache_dir().exists()  # the folder the download made is taken back too


def test_published_sha256_is_checked_on_download(tmp_path, tiny_n_state):
    with _Server(_checkpoint_bytes(tiny_n_state, tmp_path)) as server:
        variant = _released(server.url)
        variant = dataclasses.replace(variant, checkpoint=dataclasses.replace(variant.checkpoint, sha256="ab" * 32))
        with pytest.raises(ZoeExportError, match="corrupt: sha256"):
            load_model(variant)
    assert not Path(cache_dir()).exists()
