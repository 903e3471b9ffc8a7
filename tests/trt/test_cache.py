"""The engine cache: a matching, intact engine is reused; anything else is ignored."""
import logging

from zoe_export.trt import EngineCache
from zoe_export.trt.cache import file_sha256, matching_engine
from zoe_export.trt.manifest import FORMAT, write_manifest


def _engine(path, key="k1", content=b"engine bytes"):
    path.write_bytes(content)
    manifest = {"format": FORMAT, "version": 1, "file": path.name, "cache_key": key, "engine_sha256": file_sha256(path)}
    write_manifest(path, manifest)
    return manifest


def test_store_and_lookup(tmp_path):
    manifest = _engine(tmp_path / "a.engine")
    cache = EngineCache(tmp_path / "cache")
    stored = cache.store(tmp_path / "a.engine", manifest)
    assert stored == tmp_path / "cache" / "k1.engine" and stored.read_bytes() == b"engine bytes"
    path, found = cache.lookup("k1")
    assert path == stored and found["cache_key"] == "k1" and found["file"] == "k1.engine"
    assert cache.lookup("k2") is None


def test_a_damaged_engine_is_never_reused(tmp_path, caplog):
    _engine(tmp_path / "a.engine")
    (tmp_path / "a.engine").write_bytes(b"engine bytes, changed")
    with caplog.at_level(logging.WARNING, logger="zoe_export"):
        assert matching_engine(tmp_path / "a.engine", "k1") is None
    assert "no longer matches the sha256" in caplog.text


def test_another_key_or_no_manifest_does_not_match(tmp_path):
    _engine(tmp_path / "a.engine")
    assert matching_engine(tmp_path / "a.engine", "k1")["cache_key"] == "k1"
    assert matching_engine(tmp_path / "a.engine", "other") is None
    (tmp_path / "b.engine").write_bytes(b"x")
    assert matching_engine(tmp_path / "b.engine", "k1") is None


def test_an_unwritable_cache_only_warns(tmp_path, caplog):
    manifest = _engine(tmp_path / "a.engine")
    (tmp_path / "file").write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="zoe_export"):
        assert EngineCache(tmp_path / "file" / "cache").store(tmp_path / "a.engine", manifest) is None
    assert "could not keep the engine in the cache" in caplog.text
