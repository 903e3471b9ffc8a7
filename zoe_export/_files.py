"""Files: atomic output (a temporary file beside the target, renamed when complete), output folders
that a failed run takes back, writability probes that touch no user file, hashes and the cache folder."""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import ZoeExportError

#: folders this process created for outputs, parents first (a failed run removes the empty ones again)
_created_folders: list[Path] = []


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``path`` only on success.

    On any exception the temporary file is removed, so a failed write never leaves a partial
    file behind (and never destroys an existing good one). ``keep_suffix``: the temporary name ends
    in the target's suffix, for writers that choose the format by it (OpenCV's video writer).
    """
    with folders_removed_on_failure():
        pending = PendingFile(path, keep_suffix)
        try:
            yield pending.path
            pending.commit()
        except BaseException:
            pending.discard()
            raise


class PendingFile:
    """A temporary file beside ``target`` for a writer that stays open (a video): :meth:`commit` renames it into
    place, :meth:`discard` removes it. :func:`atomic_output` is the same for a block."""

    def __init__(self, target: str | os.PathLike, keep_suffix: bool = False):
        self.target = Path(target)
        refuse_folder(self.target)
        folder = make_folder(self.target.parent)
        suffix = ".part" + (self.target.suffix if keep_suffix else "")
        try:
            fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=suffix, dir=folder)
        except OSError as exc:
            raise ZoeExportError(
                f"cannot write {self.target}: {exc.strerror or exc}. Choose an output path in a writable folder."
            ) from exc
        os.close(fd)
        self.path = Path(name)
        os.chmod(self.path, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs get the usual permissions

    def commit(self) -> Path:
        refuse_folder(self.target)  # a folder made there meanwhile is not replaced
        os.replace(self.path, self.target)
        return self.target

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def refuse_folder(target: Path, flag: str | None = None) -> None:
    """An output file path that names an existing folder is an error (never written inside it)."""
    if target.is_dir():
        name = f"{flag} {target}" if flag else str(target)
        raise ZoeExportError(f"{name} is an existing folder, and this output is a file: give a file path "
                             f"(e.g. {target / 'out'}{target.suffix}), or move the folder away.")


def make_folder(folder: str | os.PathLike) -> Path:
    """``mkdir -p``, remembering the folders it created so that a failed run can take them back."""
    folder = Path(folder) if str(folder) else Path(".")
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ZoeExportError(f"cannot write in {folder}: {exc.filename or folder} is a file, not a folder. "
                             "Choose an output path whose folders are folders.") from exc
    except OSError as exc:
        raise ZoeExportError(f"cannot write in {folder}: {exc.strerror or exc}. "
                             "Choose an output path in a writable folder.") from exc
    _created_folders.extend(reversed(missing))
    return folder


@contextlib.contextmanager
def folders_removed_on_failure() -> Iterator[None]:
    """On any exception, remove the (still empty) folders :func:`make_folder` created inside the block."""
    mark = len(_created_folders)
    try:
        yield
    except BaseException:
        for folder in reversed(_created_folders[mark:]):
            with contextlib.suppress(OSError):  # not empty (something else is there now): kept
                folder.rmdir()
        del _created_folders[mark:]
        raise


def check_writable(path: str | os.PathLike, flag: str | None = None) -> None:
    """Fail now, not after the slow part, when ``path`` cannot be written as a file.

    The probe is a fresh temporary file beside the target: no existing file is opened or removed.
    """
    target = Path(path)
    refuse_folder(target, flag)
    _probe(make_folder(target.parent), f"{flag} {target}" if flag else str(target))


def check_folder_writable(folder: str | os.PathLike, flag: str | None = None) -> Path:
    """Fail now, not after the slow part, when files cannot be written into ``folder`` (made if missing)."""
    folder = Path(folder)
    name = f"{flag} {folder}" if flag else str(folder)
    if folder.exists() and not folder.is_dir():
        raise ZoeExportError(f"{name} is a file, and this output is a folder: give a folder path.")
    return _probe(make_folder(folder), name)


def _probe(folder: Path, name: str) -> Path:
    try:
        fd, probe = tempfile.mkstemp(prefix=".zoe-export.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise ZoeExportError(f"{name}: cannot write in {folder} ({exc.strerror or exc}). "
                             "Choose an output path in a writable folder.") from exc
    os.close(fd)
    os.unlink(probe)
    return folder


def existing_file(path: str | os.PathLike, name: str, fix: str) -> Path:
    """``path`` when it is a file; otherwise an error that says what it is (missing, a folder) and ``fix``."""
    source = Path(path).expanduser()
    if source.is_dir():
        raise ZoeExportError(f"{name} {source} is a folder; {fix}")
    if not source.exists():
        raise ZoeExportError(f"{name} {source} does not exist; {fix}")
    if not source.is_file():
        raise ZoeExportError(f"{name} {source} is not a regular file; {fix}")
    return source


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """``$ZOE_EXPORT_CACHE``, else ``$XDG_CACHE_HOME/zoe-export``, else ``~/.cache/zoe-export``."""
    if os.environ.get("ZOE_EXPORT_CACHE"):
        return Path(os.environ["ZOE_EXPORT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "zoe-export"
