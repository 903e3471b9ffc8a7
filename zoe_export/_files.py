"""Files: atomic output (a temporary file beside the target, renamed when complete) and the cache folder."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import ZoeExportError


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``path`` only on success.

    On any exception the temporary file is removed, so a failed write never leaves a partial
    file behind (and never destroys an existing good one).
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise ZoeExportError(
            f"cannot write {target}: {exc.strerror or exc}. Choose an output path in a writable folder."
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def cache_dir() -> Path:
    """``$ZOE_EXPORT_CACHE``, else ``$XDG_CACHE_HOME/zoe-export``, else ``~/.cache/zoe-export``."""
    if os.environ.get("ZOE_EXPORT_CACHE"):
        return Path(os.environ["ZOE_EXPORT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "zoe-export"
