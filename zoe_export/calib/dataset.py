"""Build and read calibration sets.

A set is a folder: ``manifest.json`` (sources with their sha256, preprocessing, input size and
format, count, the set's id) and ``shard_NNNNN.npy`` arrays of model inputs, ready to feed. Sets
are built deterministically (same files, same seed: same set, same id) and read lazily
(memory-mapped shards, one sample at a time), so calibrating on hundreds of full-size inputs
never holds them all in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from .._files import current_umask, file_sha256, make_folder
from .._lazy import require
from .._log import log
from ..errors import ZoeExportError, check_seed, option

FORMAT = "zoe-export calibration set"
SHARD_SIZE = 64
INPUT_NAME = "image"
#: measured: one full-size M12-N forward at 384x512 on 2 CPU cores (torch 2.13) takes ~5.4 s; a
#: calibration forward also writes every calibrated activation out, about twice that.
CPU_SECONDS_PER_SAMPLE = 10.0
_FULL_SIZE_PIXELS = 384 * 512


@dataclass(frozen=True)
class SetSpec:
    """What every sample of a set is: the model input it was preprocessed for."""

    height: int
    width: int
    input_format: str = "float-nchw"  # or "uint8-nhwc"
    fit: str = "stretch"
    pad_input: bool = True  # the official infer()'s reflect padding, as zoe-export predict does

    def sample_shape(self) -> tuple[int, ...]:
        if self.input_format == "uint8-nhwc":
            return (self.height, self.width, 3)
        return (3, self.height, self.width)

    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.input_format == "uint8-nhwc" else np.float32)


def estimate_calibration_seconds(count: int, height: int, width: int, tiny: bool = False) -> float:
    """Rough CPU time to calibrate a full-size model on ``count`` samples on this machine."""
    if tiny:
        return count * 0.05
    cores = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    return count * CPU_SECONDS_PER_SAMPLE * (height * width / _FULL_SIZE_PIXELS) * (2 / cores)


# ------------------------------------------------------------------------------------ sources

@dataclass(frozen=True)
class _Source:
    path: Path
    frame: int | None = None  # a video frame

    def label(self, root: Path | None) -> str:
        name = str(self.path.relative_to(root)) if root and self.path.is_relative_to(root) else str(self.path)
        return name if self.frame is None else f"{name}#frame{self.frame}"


def _image_sources(folder: Path) -> list[_Source]:
    flag = option("--images", "images=")
    if not folder.exists():
        raise ZoeExportError(f"{flag} {folder} does not exist; pass a folder of images.")
    if not folder.is_dir():
        raise ZoeExportError(f"{flag} {folder} is a file, not a folder; pass the folder that holds the images.")
    from ..io.images import list_images

    return [_Source(p) for p in list_images(folder)]


def _import_cv2():
    return require("cv2", f"reading {option('--video', 'videos=')}")


def _video_sources(video: Path, stride: int) -> list[_Source]:
    cv2 = _import_cv2()
    if not video.is_file():
        raise ZoeExportError(f"{option('--video', 'videos=')} {video} does not exist.")
    capture = cv2.VideoCapture(str(video))
    frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    if frames <= 0:
        raise ZoeExportError(f"{option('--video', 'videos=')} {video}: OpenCV reads no frames from it "
                             "(unsupported codec?).")
    return [_Source(video, i) for i in range(0, frames, stride)]


def _read_video_frame(source: _Source) -> np.ndarray:
    cv2 = _import_cv2()
    capture = cv2.VideoCapture(str(source.path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, source.frame)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise ValueError(f"frame {source.frame} cannot be decoded")
    return frame[:, :, ::-1].copy()  # BGR -> RGB


def _preprocess(image: np.ndarray, spec: SetSpec) -> np.ndarray:
    """Exactly what inference feeds the graph (see ``zoe_export.preprocess.prepare``)."""
    from ..preprocess import prepare, to_uint8

    batch = prepare(image, (spec.height, spec.width), fit=spec.fit, pad_input=spec.pad_input).batch[0]
    if spec.input_format == "uint8-nhwc":
        return to_uint8(batch, "chw")
    return batch


# ------------------------------------------------------------------------------------ build

def check_counts(count: int, min_count: int) -> None:
    """``count`` samples wanted, at least ``min_count`` required: both positive, and not contradicting."""
    flags = option("--count", "count="), option("--min-count", "min_count=")
    if count < 1 or min_count < 1:
        raise ZoeExportError(f"{flags[0]} and {flags[1]} must be at least 1.")
    if count < min_count:
        raise ZoeExportError(f"{flags[0]} {count} is below {flags[1]} {min_count}: a set of {count} sample(s) would "
                             f"always be refused. Raise {flags[0]} or lower {flags[1]}.")


def build_calibration_set(output: str | Path, spec: SetSpec, *, images: str | Path | None = None,
                          videos: tuple[str | Path, ...] = (), count: int = 500, seed: int = 0,
                          min_count: int = 8, video_stride: int = 30, variant: str | None = None,
                          progress: bool = True) -> dict:
    """Pick ``count`` sources deterministically, preprocess them for ``spec``, write the set.

    Unreadable files are skipped and listed in the manifest. Fewer than ``min_count`` usable
    sources is an error that says how many were found. Returns the manifest.
    """
    from tqdm import tqdm

    from ..io.images import IMAGE_SUFFIXES, read_image

    check_counts(count, min_count)
    check_seed(seed)
    root = Path(images) if images is not None else None
    candidates = _image_sources(root) if root is not None else []
    for video in videos:
        candidates += _video_sources(Path(video), video_stride)
    if not candidates:
        where = f"{root}" if root is not None else "the given videos"
        raise ZoeExportError(f"no images found in {where} (looked for {', '.join(sorted(IMAGE_SUFFIXES))}); "
                             f"pass {option('--images DIR', 'images=DIR')} with photos like the ones the model "
                             "will see.")
    order = np.random.default_rng(seed).permutation(len(candidates))
    output = Path(output)
    check_output(output)
    make_folder(output.parent)
    chosen, skipped, shards, pending = [], [], [], []
    tmp = tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent)
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700
    try:
        bar = tqdm(total=min(count, len(candidates)), desc="calibration set", unit="img", disable=not progress)
        for index in order:
            if len(chosen) == count:
                break
            source = candidates[index]
            try:
                image = read_image(source.path) if source.frame is None else _read_video_frame(source)
                sample = _preprocess(image, spec)
            except (ZoeExportError, ValueError, OSError) as exc:
                skipped.append({"source": source.label(root), "reason": str(exc).splitlines()[0]})
                continue
            chosen.append({"source": source.label(root), "sha256": file_sha256(source.path),
                           **({"frame": source.frame} if source.frame is not None else {})})
            pending.append(sample)
            bar.update(1)
            if len(pending) == SHARD_SIZE:
                shards.append(_write_shard(Path(tmp), len(shards), pending))
                pending = []
        bar.close()
        if pending:
            shards.append(_write_shard(Path(tmp), len(shards), pending))
        if len(chosen) < min_count:
            raise ZoeExportError(
                f"only {len(chosen)} usable image(s) found ({len(skipped)} unreadable, {len(candidates)} candidates); "
                f"a calibration set needs at least {min_count} ({option('--min-count', 'min_count=')}). "
                "Add images to the folder."
            )
        if len(chosen) < count:
            log.warning("only %d usable images for %s %d: the set holds %d", len(chosen), option("--count", "count="),
                        count, len(chosen))
        for item in skipped:
            log.warning("skipped %s: %s", item["source"], item["reason"])
        manifest = _manifest(spec, chosen, skipped, shards, seed, variant, root, videos)
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest, indent=2))
        _replace_folder(Path(tmp), output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _write_shard(folder: Path, index: int, samples: list[np.ndarray]) -> dict:
    name = f"shard_{index:05d}.npy"
    np.save(folder / name, np.stack(samples))
    return {"file": name, "count": len(samples), "sha256": file_sha256(folder / name)}


def _manifest(spec: SetSpec, chosen: list, skipped: list, shards: list, seed: int, variant: str | None,
              root: Path | None, videos: tuple) -> dict:
    identity = json.dumps({"spec": asdict(spec), "sources": [(c["source"], c["sha256"]) for c in chosen]}, sort_keys=True)
    return {
        "format": FORMAT,
        "version": 1,
        "id": hashlib.sha256(identity.encode()).hexdigest()[:16],
        "input_name": INPUT_NAME,
        **asdict(spec),
        "shape": list(spec.sample_shape()),
        "dtype": spec.dtype().name,
        "count": len(chosen),
        "seed": seed,
        "variant": variant,
        "preprocessing": "zoe_export.preprocess.prepare: reflect padding (official infer), resize to the input "
                         "size; RGB in [0,1] (float-nchw) or rounded to uint8 (uint8-nhwc); mean/std are in the graph",
        "images": str(root) if root is not None else None,
        "videos": [str(v) for v in videos],
        "shards": shards,
        "sources": chosen,
        "skipped": skipped,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "zoe_export_version": __version__,
    }


def check_output(target: Path) -> None:
    """The set's folder may be new or an earlier set (replaced), never a file or a folder of other things."""
    flag = option("--output", "output=")
    if target.is_file():
        raise ZoeExportError(f"{flag} {target} is a file; a calibration set is a folder: choose a folder path.")
    if target.exists() and not (target / "manifest.json").is_file():
        raise ZoeExportError(f"{flag} {target} exists and is not a calibration set; choose another folder.")


def _replace_folder(source: Path, target: Path) -> None:
    """Move a finished set into place; an existing set is replaced only once the new one is complete."""
    check_output(target)
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(source, target)
        shutil.rmtree(old)
    else:
        os.replace(source, target)


# ------------------------------------------------------------------------------------ read

class CalibrationSet:
    """A calibration set on disk; iterating yields ``{input_name: (1, ...)}`` feeds, one per sample.

    That is the shape Polygraphy's data loaders and Model Optimizer's calibration readers consume.
    ``indices`` restricts the set (see :meth:`split`).
    """

    def __init__(self, path: str | Path, indices: list[int] | None = None):
        self.path = Path(path)
        self.manifest = self._read_manifest()
        self.spec = SetSpec(**{k: self.manifest[k] for k in ("height", "width", "input_format", "fit", "pad_input")})
        self.indices = list(range(self.manifest["count"])) if indices is None else list(indices)
        self._shards: list[np.ndarray] | None = None

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def input_name(self) -> str:
        return self.manifest["input_name"]

    def _read_manifest(self) -> dict:
        file = self.path / "manifest.json"
        flag = option("--calib", "calib=")
        if not self.path.exists():
            raise ZoeExportError(f"{flag} {self.path} does not exist; make a calibration set there with: "
                                 f"zoe-export calib --images DIR --variant ... --output {self.path}")
        if not self.path.is_dir():
            raise ZoeExportError(f"{flag} {self.path} is a file; a calibration set is the folder that "
                                 "zoe-export calib --output DIR wrote.")
        if not file.is_file():
            raise ZoeExportError(f"{flag} {self.path} is not a calibration set (no manifest.json); "
                                 "make one with: zoe-export calib --images DIR --variant ... --output "
                                 f"{self.path}")
        try:
            manifest = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ZoeExportError(f"{file} is corrupt ({exc}); rebuild the set with zoe-export calib.") from exc
        if manifest.get("format") != FORMAT:
            raise ZoeExportError(f"{file} is not a zoe-export calibration manifest; rebuild the set with zoe-export calib.")
        if manifest.get("count", 0) < 1:
            raise ZoeExportError(f"calibration set {self.path} is empty; rebuild it with more images.")
        return manifest

    def _load_shards(self) -> list[np.ndarray]:
        if self._shards is None:
            shards = []
            for shard in self.manifest["shards"]:
                file = self.path / shard["file"]
                try:
                    array = np.load(file, mmap_mode="r")
                except (OSError, ValueError) as exc:
                    raise ZoeExportError(f"{file} is missing or corrupt ({exc}); rebuild the set with zoe-export calib.") from exc
                expected = (shard["count"], *self.spec.sample_shape())
                if array.shape != expected or array.dtype != self.spec.dtype():
                    raise ZoeExportError(f"{file} holds {array.dtype}{list(array.shape)}, the manifest says "
                                         f"{self.spec.dtype()}{list(expected)}; rebuild the set with zoe-export calib.")
                shards.append(array)
            self._shards = shards
        return self._shards

    def sample(self, position: int) -> np.ndarray:
        """Sample number ``position`` of the whole set (not of ``indices``)."""
        for shard in self._load_shards():
            if position < len(shard):
                return np.array(shard[position])
            position -= len(shard)
        raise IndexError(position)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for position in self.indices:
            yield {self.input_name: self.sample(position)[None]}

    def batches(self, batch: int) -> Iterator[dict[str, np.ndarray]]:
        """Feeds of ``batch`` samples each (the last one is dropped if short: fixed-batch graphs)."""
        for start in range(0, len(self.indices) - batch + 1, batch):
            yield {self.input_name: np.stack([self.sample(i) for i in self.indices[start:start + batch]])}

    def split(self, holdout: int) -> tuple["CalibrationSet", "CalibrationSet"]:
        """(calibration part, held-out part): the last ``holdout`` samples are held out."""
        if not 0 <= holdout < len(self.indices):
            raise ZoeExportError(f"cannot hold out {holdout} of the {len(self.indices)} samples of {self.path}: "
                                 f"use a smaller {option('--holdout', 'holdout=')} or a bigger set.")
        cut = len(self.indices) - holdout
        return CalibrationSet(self.path, self.indices[:cut]), CalibrationSet(self.path, self.indices[cut:])

    @property
    def size(self) -> tuple[int, int]:
        """The model size (height, width) every sample was preprocessed for."""
        return self.spec.height, self.spec.width

    @property
    def sets(self) -> list["CalibrationSet"]:
        """The sets calibration reads (this one; a :class:`CalibrationMix` has several)."""
        return [self]

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return [self.size]

    def check_matches(self, height: int, width: int, input_format: str, graph: str = "the graph",
                      size_range=None) -> None:
        """A clear error when this set was made for another model input.

        ``size_range``: the :class:`~zoe_export.sizes.SizeRange` of a dynamic-size graph, which
        calibrates at the set's size (its opt size) when the range holds it; ``height`` x ``width``
        is then the graph's default size, the one a rebuilt set is advised at.
        """
        s = self.spec
        rebuild = f"rebuild it with zoe-export calib --height {height} --width {width} --input-format {input_format}"
        if size_range is not None and s.input_format == input_format:
            if not size_range.contains(self.size) or s.height % 32 or s.width % 32:
                raise ZoeExportError(
                    f"{option('--calib', 'calib=')} {self.path} holds {s.height}x{s.width} inputs, outside the size "
                    f"range {size_range.text} of {graph}: calibration runs at the set's size, so {rebuild} (the "
                    f"default size), or at another size within {size_range.text} (multiples of 32)."
                )
            return
        if (s.height, s.width, s.input_format) != (height, width, input_format):
            takes = f"{height}x{width} {input_format}" if size_range is None else \
                f"{input_format} inputs of {size_range.text} (default {height}x{width})"
            raise ZoeExportError(
                f"{option('--calib', 'calib=')} {self.path} holds {s.height}x{s.width} {s.input_format} inputs but "
                f"{graph} takes {takes}; {rebuild}."
            )


class CalibrationMix:
    """Several calibration sets read as one: a dynamic-size graph calibrated on a stated mix of sizes.

    Activation ranges (per tensor, whatever the spatial size) are collected over every sample of
    every set; :meth:`split` holds out the last samples of each set, so a conversion is measured at
    every calibrated size. The sets must share the input format, fit and padding (only the size may
    differ); the mix's ``id`` is the sets' ids joined by ``+``.
    """

    def __init__(self, sets: list[CalibrationSet]):
        if not sets:
            raise ValueError("a calibration mix needs at least one set")
        self.sets = list(sets)
        first = self.sets[0]
        flag = option("--calib", "calib=")
        ids = [c.id for c in self.sets]
        repeated = sorted({str(c.path) for c in self.sets if ids.count(c.id) > 1})
        if repeated:
            raise ZoeExportError(f"{flag}: the same calibration set is given twice ({', '.join(repeated)}); "
                                 "give each set once.")
        for other in self.sets[1:]:
            for key in ("input_format", "fit", "pad_input"):
                if getattr(other.spec, key) != getattr(first.spec, key):
                    raise ZoeExportError(
                        f"{flag}: {first.path} and {other.path} differ in {key} ({getattr(first.spec, key)} vs "
                        f"{getattr(other.spec, key)}); a mix of sets differs in size only: rebuild one with "
                        "zoe-export calib like the other.")

    @property
    def path(self) -> str:
        return ", ".join(str(c.path) for c in self.sets)

    @property
    def id(self) -> str:
        return "+".join(c.id for c in self.sets)

    @property
    def input_name(self) -> str:
        return self.sets[0].input_name

    @property
    def spec(self) -> SetSpec:
        """The first set's spec (format, fit, padding are the same for all; sizes are :attr:`sizes`)."""
        return self.sets[0].spec

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return list(dict.fromkeys(c.size for c in self.sets))

    def __len__(self) -> int:
        return sum(len(c) for c in self.sets)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        for calib in self.sets:
            yield from calib

    def batches(self, batch: int) -> Iterator[dict[str, np.ndarray]]:
        """Each set's batches in turn (a batch never mixes sizes)."""
        for calib in self.sets:
            yield from calib.batches(batch)

    def split(self, holdout: int) -> tuple["CalibrationMix", "CalibrationMix"]:
        """(calibration part, held-out part): the last ``holdout`` samples of every set are held out."""
        parts = [c.split(holdout) for c in self.sets]
        return CalibrationMix([p[0] for p in parts]), CalibrationMix([p[1] for p in parts])

    def check_matches(self, height: int, width: int, input_format: str, graph: str = "the graph",
                      size_range=None) -> None:
        if size_range is None and len(self.sizes) > 1:
            raise ZoeExportError(
                f"{option('--calib', 'calib=')} {self.path}: sets of {len(self.sizes)} sizes calibrate a "
                f"dynamic-size graph; {graph} takes {height}x{width} only: give one set.")
        for calib in self.sets:
            calib.check_matches(height, width, input_format, graph, size_range)


def open_calibration(calib) -> CalibrationSet | CalibrationMix:
    """A calibration set from its folder, or a :class:`CalibrationMix` from several folders."""
    if isinstance(calib, (str, os.PathLike)):
        return CalibrationSet(calib)
    folders = list(calib)
    if len(folders) == 1:
        return CalibrationSet(folders[0])
    return CalibrationMix([CalibrationSet(folder) for folder in folders])
