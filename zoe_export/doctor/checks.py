"""What this machine has for zoe-export, component by component, without creating a TensorRT object.

Each :class:`Check` says ok, missing or incompatible, what was found, and the exact line that
fixes it. TensorRT, Polygraphy, cuda-python, the driver and a GPU are what ``zoe-export trt`` and
the engine runtime need (``required``); ONNX Runtime, ModelOpt and torch are reported for the other
stages. GPUs and the driver are read through cuda-python (or nvidia-smi without it): creating
TensorRT objects on a machine without a usable GPU can crash the process.
"""
from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from importlib import metadata

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from ..errors import ZoeExportError
from ..trt import environment
from ..trt.api import INSTALL, POLYGRAPHY

OK, MISSING, INCOMPATIBLE = "ok", "missing", "incompatible"
DRIVER_FIX = "install the NVIDIA driver for your GPU (nvidia-smi should then list it)"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | missing | incompatible
    found: str  # version and details, or what is wrong
    fix: str = ""  # the line that fixes it (empty when ok)
    required: bool = True  # needed for TensorRT engines (or for what was asked, e.g. --smoke)

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict:
        return asdict(self)


def check_all() -> list[Check]:
    """Every component, in the order a bug report reads them."""
    tensorrt = check_tensorrt()
    cuda_python, runtime = check_cuda_python()
    checks = [tensorrt, check_polygraphy(tensorrt), cuda_python]
    checks += check_driver_and_gpus(runtime)
    checks += [check_onnxruntime(), check_modelopt(), check_torch()]
    return checks


# -- TensorRT and Polygraphy -------------------------------------------------------------------------------------
def check_tensorrt() -> Check:
    try:
        trt = importlib.import_module("tensorrt")  # loads its libraries; creates nothing
    except ImportError as exc:
        if getattr(exc, "name", None) == "tensorrt":
            return Check("tensorrt", MISSING, "not installed", INSTALL)
        return _broken_tensorrt(exc)
    except OSError as exc:
        return _broken_tensorrt(exc)
    version = str(getattr(trt, "__version__", ""))
    if _version(version) is None or _version(version).major < 10:
        return Check("tensorrt", INCOMPATIBLE, f"{version or 'unknown version'}: zoe-export builds with TensorRT 10 or 11",
                     INSTALL)
    return Check("tensorrt", OK, version)


def _broken_tensorrt(exc: Exception) -> Check:
    return Check("tensorrt", INCOMPATIBLE, f"installed, but its libraries do not load ({_first_line(exc)})",
                 "reinstall it with its libraries: pip install --force-reinstall 'tensorrt>=10' --extra-index-url "
                 "https://pypi.nvidia.com")


def check_polygraphy(tensorrt: Check) -> Check:
    fix = f"pip install 'polygraphy{POLYGRAPHY}' --extra-index-url https://pypi.nvidia.com"
    version = _installed("polygraphy")
    if version is None:
        return Check("polygraphy", MISSING, "not installed", fix)
    if Version(version) not in SpecifierSet(POLYGRAPHY):
        why = " (0.49 fails every TensorRT 11 build)" if Version(version) < Version("0.50.3") else ""
        return Check("polygraphy", INCOMPATIBLE, f"{version}: zoe-export builds through Polygraphy {POLYGRAPHY}{why}",
                     fix)
    works = f", works with TensorRT {tensorrt.found}" if tensorrt.ok else ""
    return Check("polygraphy", OK, version + works)


# -- CUDA: cuda-python, the driver, the GPUs ---------------------------------------------------------------------------
def check_cuda_python() -> tuple[Check, int | None]:
    """The check, and the CUDA version of cuda-python's runtime (None without it)."""
    from ..trt import cuda

    try:
        cuda.import_cudart()
    except ZoeExportError:
        return Check("cuda-python", MISSING, "not installed", cuda.INSTALL_HINT), None
    runtime = cuda.runtime_version()
    package = _installed("cuda-bindings") or _installed("cuda-python") or "?"
    return Check("cuda-python", OK, f"{package} (CUDA runtime {cuda.version_text(runtime)})"), runtime


def check_driver_and_gpus(runtime: int | None) -> list[Check]:
    """The driver, then one row per GPU (cuda-python's view, else nvidia-smi's)."""
    if runtime is not None:
        return _from_cuda_python(runtime)
    smi = nvidia_smi()
    if smi is None:
        return [Check("driver", MISSING, "no NVIDIA driver found (no cuda-python, no nvidia-smi)", DRIVER_FIX),
                Check("gpu", MISSING, "none found", "run on a machine with an NVIDIA GPU and its driver")]
    driver, gpus = smi
    checks = [Check("driver", OK, f"{driver} (from nvidia-smi)")]
    checks += [Check(f"gpu {i}", OK, gpu) for i, gpu in enumerate(gpus)] or [_no_gpu()]
    return checks


def _from_cuda_python(runtime: int) -> list[Check]:
    from ..trt import cuda

    driver = cuda.driver_version()
    if driver == 0:
        return [Check("driver", MISSING, "no NVIDIA driver is loaded (libcuda not found)", DRIVER_FIX),
                Check("gpu", MISSING, "none visible without a driver", "run on a machine with an NVIDIA GPU and its driver")]
    smi = nvidia_smi()
    label = f"{smi[0]}, " if smi else ""
    if driver // 1000 < runtime // 1000:
        driver_check = Check("driver", INCOMPATIBLE, f"{label}supports CUDA {cuda.version_text(driver)}; cuda-python "
                             f"needs CUDA {cuda.version_text(runtime)}",
                             f"update the NVIDIA driver, or pip install 'cuda-python<{driver // 1000 + 1}'")
    else:
        driver_check = Check("driver", OK, f"{label}supports CUDA {cuda.version_text(driver)}")
    try:
        count = cuda.device_count()
        gpus = [cuda.device_properties(i) for i in range(count)]
    except ZoeExportError as exc:
        return [driver_check, Check("gpu", MISSING, _first_line(exc), "check nvidia-smi and CUDA_VISIBLE_DEVICES")]
    rows = [Check(f"gpu {i}", OK, f"{g.name}, compute capability {g.compute_capability}, "
                                  f"{g.total_memory / 2**30:.0f} GiB") for i, g in enumerate(gpus)]
    return [driver_check, *(rows or [_no_gpu()])]


def _no_gpu() -> Check:
    return Check("gpu", MISSING, "no CUDA GPU visible", "check nvidia-smi and CUDA_VISIBLE_DEVICES")


def nvidia_smi() -> tuple[str, list[str]] | None:
    """(driver version, ["name, compute capability x.y, N GiB", ...]) from nvidia-smi, or None."""
    rows = environment.nvidia_smi(("driver_version", "name", "compute_cap", "memory.total"))
    if rows is None:
        return None
    gpus = [f"{name}, compute capability {cap}, {float(mib) / 1024:.0f} GiB" for _, name, cap, mib in rows]
    return rows[0][0], gpus


# -- the other stages ------------------------------------------------------------------------------------------------
def check_onnxruntime() -> Check:
    try:
        ort = importlib.import_module("onnxruntime")
    except ImportError:
        return Check("onnxruntime", MISSING, "not installed",
                     "pip install 'zoe-export[cpu]' (or 'zoe-export[gpu]' for its CUDA provider)", required=False)
    providers = ", ".join(p.replace("ExecutionProvider", "") for p in ort.get_available_providers())
    return Check("onnxruntime", OK, f"{ort.__version__} (providers: {providers})", required=False)


def check_modelopt() -> Check:
    version = _installed("nvidia-modelopt")
    if version is None:
        from ..precision.modelopt_backend import INSTALL as MODELOPT_INSTALL

        return Check("modelopt", MISSING, "not installed (the built-in FP16/INT8 converter is used)", MODELOPT_INSTALL,
                     required=False)
    return Check("modelopt", OK, version, required=False)


def check_torch() -> Check:
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return Check("torch", MISSING, "not installed", "make install (it installs torch first)", required=False)
    if torch.version.cuda is None:
        return Check("torch", OK, f"{torch.__version__} (CPU build)", required=False)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return Check("torch", OK, f"{torch.__version__} (CUDA {torch.version.cuda}, {gpus} GPU(s) visible)", required=False)


# -- helpers --------------------------------------------------------------------------------------------------------------
def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
