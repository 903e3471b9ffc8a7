"""The real TensorRT and cuda-python Python bindings, importable on a machine without their native libraries.

TensorRT's bindings are wheels on PyPI (``tensorrt-cu12-bindings`` 10.x, ``tensorrt-cu13-bindings``
11.x); only ``libnvinfer``, ``libnvinfer_plugin`` and ``libnvonnxparser`` are missing. We fetch the
latest wheel of each major version with pip (no dependencies, into a cache that is reused, and used
as is when pip cannot reach the index), read the entry points its ``tensorrt.so`` needs from those
libraries (``nm -D --undefined-only``: the unversioned symbols this process cannot resolve), and
compile stand-ins that export them and return null, so that ``import tensorrt`` works: every class,
signature and enum is real, and constructors fail with pybind11's null-factory ``TypeError``.
``tensorrt`` itself is the two-line module of NVIDIA's ``tensorrt-cuNN`` package over the bindings.
cuda-python (``cuda-bindings`` 12.x / 13.x and ``cuda-pathfinder``) needs nothing: without a driver
every call returns an error code. Polygraphy is this environment's, or a pinned older release.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("ZOE_CONTRACT_CACHE") or REPO / "wheelhouse" / "contract")
TENSORRT_SHIM = ("# what NVIDIA's tensorrt-cuNN package installs as `tensorrt` over the bindings wheel\n"
                 "from tensorrt_bindings import *  # noqa: F401,F403\nfrom tensorrt_bindings import __version__  # noqa: F401\n")


class Unavailable(Exception):
    """The wheels cannot be had here (offline, no compiler): the contract tests skip with this reason."""


@dataclass(frozen=True)
class Bindings:
    """One set the contract subprocess runs against."""

    name: str
    tensorrt: str  # pip requirement of the TensorRT bindings wheel
    cuda: str  # of cuda-bindings
    polygraphy: str | None = None  # None: this environment's Polygraphy

    def environment(self) -> dict[str, str]:
        """PYTHONPATH and LD_LIBRARY_PATH entries (and the versions) for a subprocess."""
        tensorrt_site, libraries, tensorrt_version = _tensorrt(self.tensorrt)
        cuda_site, cuda_version = _site([self.cuda, "cuda-pathfinder"])
        paths = [str(tensorrt_site), str(cuda_site)]
        polygraphy_version = None
        if self.polygraphy is not None:
            polygraphy_site, polygraphy_version = _site([self.polygraphy])
            paths.insert(0, str(polygraphy_site))
        env = {"PYTHONPATH": os.pathsep.join(paths), "LD_LIBRARY_PATH": str(libraries),
               "ZOE_CONTRACT_VERSIONS": f"TensorRT {tensorrt_version}, cuda-bindings {cuda_version}, Polygraphy "
                                        f"{polygraphy_version or 'installed'}"}
        return env


def _tensorrt(requirement: str) -> tuple[Path, Path, str]:
    site, version = _site([requirement])
    shim = site / "tensorrt" / "__init__.py"
    if not shim.is_file():
        shim.parent.mkdir(exist_ok=True)
        shim.write_text(TENSORRT_SHIM)
    return site, _stand_ins(site / "tensorrt_bindings" / "tensorrt.so", site.parent / f"{site.name}-lib"), version


# -- wheels ---------------------------------------------------------------------------------------------------
def _site(requirements: list[str]) -> tuple[Path, str]:
    """A folder with these wheels installed (no dependencies), made once per set of wheel files."""
    wheels = [_wheel(r) for r in requirements]
    site = CACHE / "site" / "+".join(w.stem.split("-")[0] + "-" + w.stem.split("-")[1] for w in wheels)
    if not (site / ".complete").is_file():
        shutil.rmtree(site, ignore_errors=True)
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-compile",
              "--disable-pip-version-check", "--target", str(site), *map(str, wheels)], "install the wheels")
        (site / ".complete").touch()
    return site, str(parse_wheel_filename(wheels[0].name)[1])


def _wheel(requirement: str) -> Path:
    """The newest wheel meeting ``requirement``: pip fetches it into the cache, or the cache has it already."""
    wanted = Requirement(requirement)
    folder = CACHE / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                              "--disable-pip-version-check", "--retries", "0", "--timeout", "20", "--dest", str(folder),
                              requirement], capture_output=True, text=True, timeout=600)
    found = []
    for wheel in folder.glob("*.whl"):
        wheel_name, version, _, tags = parse_wheel_filename(wheel.name)
        if canonicalize_name(wheel_name) == canonicalize_name(wanted.name) and version in wanted.specifier \
                and _fits(tags):
            found.append((version, wheel))
    if not found:
        said = (fetched.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"cannot fetch {requirement} with pip (no network to the package index?): {said}")
    return max(found)[1]


def _fits(tags) -> bool:
    from packaging.tags import sys_tags

    return bool(set(tags) & set(sys_tags()))


# -- stand-in libraries ----------------------------------------------------------------------------------------
def _stand_ins(extension: Path, folder: Path) -> Path:
    """Libraries exporting, as functions returning null, the entry points ``extension`` needs from TensorRT's."""
    if (folder / ".complete").is_file():
        return folder
    for tool in ("nm", "readelf", "gcc"):
        if shutil.which(tool) is None:
            raise Unavailable(f"building the TensorRT stand-in libraries needs {tool} (binutils, gcc)")
    needed = [line.split("[", 1)[1].rstrip("]") for line in _run(["readelf", "-d", str(extension)], "read").splitlines()
              if "(NEEDED)" in line and "[libnv" in line]
    if not needed:
        raise AssertionError(f"{extension} needs no libnv* library: is it still TensorRT's bindings?")
    symbols = sorted(_missing_symbols(extension))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = folder / "stand_in.c"
    source.write_text("/* stand-ins for TensorRT's entry points: every factory returns null */\n"
                      + "".join(f"void *{name}(void) {{ return 0; }}\n" for name in symbols))
    empty = folder / "empty.c"
    empty.write_text("/* a library the bindings load; its entry points live in the first */\n")
    for index, library in enumerate(needed):  # all entry points in the first; the others only need to exist
        _run(["gcc", "-shared", "-fPIC", "-o", str(folder / library), f"-Wl,-soname,{library}",
              str(source if index == 0 else empty)], f"compile {library}")
    (folder / ".complete").write_text("\n".join(symbols) + "\n")
    return folder


def _missing_symbols(extension: Path) -> set[str]:
    """Unversioned undefined symbols that nothing loaded here provides: TensorRT's own entry points."""
    out = _run(["nm", "-D", "--undefined-only", "--with-symbol-versions", str(extension)], "list symbols")
    here = ctypes.CDLL(None)
    missing = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0] != "U" or "@" in parts[1]:
            continue
        try:
            getattr(here, parts[1])
        except AttributeError:
            missing.add(parts[1])
    if not missing:
        raise AssertionError(f"{extension} needs no symbol from outside this process: nothing to stand in for")
    return missing


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise Unavailable(f"could not {what} ({' '.join(command[:3])} ...): {done.stderr.strip()[-500:]}")
    return done.stdout
