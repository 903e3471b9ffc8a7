"""An engine cache keyed by :func:`~.manifest.cache_key`: a matching engine is reused, not rebuilt.

Entries are ``<key>.engine`` with their manifest, in ``$ZOE_EXPORT_CACHE/engines`` (default
``~/.cache/zoe-export/engines``). An entry is trusted only when the engine's sha256 still matches
its manifest; a damaged entry is ignored (and rebuilt), never used.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .._files import atomic_output, cache_dir, file_sha256
from .._log import log
from ..errors import ZoeExportError
from .manifest import FORMAT, manifest_path, read_manifest, write_manifest


def default_cache_dir() -> Path:
    return cache_dir() / "engines"


def matching_engine(engine: str | Path, key: str) -> dict | None:
    """The manifest of ``engine`` when it exists, is intact and was built for ``key``; else None."""
    engine = Path(engine)
    if not engine.is_file() or not manifest_path(engine).is_file():
        return None
    try:
        manifest = read_manifest(engine)
    except ZoeExportError as exc:
        log.warning("ignoring %s: %s", engine, exc)
        return None
    if manifest.get("cache_key") != key:
        return None
    if manifest.get("engine_sha256") != file_sha256(engine):
        log.warning("ignoring %s: the file no longer matches the sha256 in its manifest (damaged or replaced)", engine)
        return None
    return manifest


class EngineCache:
    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def entry(self, key: str) -> Path:
        return self.folder / f"{key}.engine"

    def lookup(self, key: str) -> tuple[Path, dict] | None:
        path = self.entry(key)
        manifest = matching_engine(path, key)
        return None if manifest is None else (path, manifest)

    def store(self, engine: Path, manifest: dict) -> Path | None:
        """Keep a copy (a hard link where possible) of a freshly built engine; a full disk only warns."""
        if manifest.get("format") != FORMAT or not manifest.get("cache_key"):
            raise ZoeExportError("only engines with a zoe-export manifest and cache key can be cached.")
        target = self.entry(manifest["cache_key"])
        try:
            copy_engine(engine, target)
            write_manifest(target, {**manifest, "file": target.name})
        except (OSError, ZoeExportError) as exc:
            log.warning("could not keep the engine in the cache %s (%s); it is still at %s", self.folder, exc, engine)
            return None
        return target


def copy_engine(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` completely or not at all (a hard link, else a copy)."""
    with atomic_output(target) as tmp:
        tmp.unlink()
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)

