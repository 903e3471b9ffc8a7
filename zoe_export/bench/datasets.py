"""Ground-truth datasets for ``zoe-bench eval``: NYU Depth v2 and the KITTI Eigen split.

Every reader returns a :class:`DepthDataset`: a sized iterable of :class:`Sample`
``(name, rgb, depth)`` with rgb HxWx3 uint8 and depth HxW float32 in metres (0 = no measurement).
Files are read one sample at a time; pairs are checked to exist when the dataset is opened.

Layouts (paths in split files are relative to ``DIR``; blank lines and ``#`` comments are ignored):

NYU Depth v2, folders (``open_dataset("nyu", DIR)``), depth = 16-bit PNG in millimetres:
  * ``DIR/rgb/<stem>.png|jpg|jpeg`` with ``DIR/depth/<stem>.png``; sample name = ``<stem>``.
  * or the official test folders as BTS/ZoeDepth unpack them: ``DIR/<scene>/rgb_00045.jpg`` with
    ``DIR/<scene>/sync_depth_00045.png``; sample name = ``<scene>/rgb_00045``.
  * optional split file: one sample name per line (an image extension is ignored), or lines
    ``<rgb path> <depth path> [focal]`` as in ``nyudepthv2_test_files_with_gt.txt``.

NYU Depth v2, labelled file (``open_dataset("nyu", "nyu_depth_v2_labeled.mat", split)``), needs h5py:
  * the official MATLAB v7.3 file (``images`` (N,3,W,H) uint8, ``depths`` (N,W,H) metres);
  * split file required: one **1-based** image index per line, as ``testNdxs`` in the official
    ``splits.mat`` (the 654 Eigen test images); sample name = the 4-digit index.

KITTI, Eigen split (``open_dataset("kitti", DIR, split)``), depth = 16-bit PNG / 256 (0 = none):
  * split file lines ``<rgb path> <depth path> [focal]`` as in ``kitti_eigen_test_files_with_gt.txt``;
    a depth of ``None`` marks a frame without ground truth: skipped and counted (``skipped``).
  * rgb paths resolve against ``DIR``; depth paths against ``depth_root`` (default ``DIR``) or its
    ``train/`` and ``val/`` folders, as the KITTI depth-annotated download unpacks.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._lazy import require
from ..errors import ZoeExportError, option
from ..io.images import IMAGE_SUFFIXES, list_images, read_image
from ..io.images import read_depth_png16 as read_depth_png  # the name this module has always exported
from .evaluation import PROTOCOLS

PathLike = str | os.PathLike

#: the photo formats NYU and KITTI ship: a stray .tif or .bmp beside them is not taken for a sample
DATASET_SUFFIXES = IMAGE_SUFFIXES & {".png", ".jpg", ".jpeg"}
DATASETS = ("nyu", "kitti")
_SHOWN = 5  # how many offending entries an error lists


class Sample(NamedTuple):
    name: str
    rgb: np.ndarray  # HxWx3 uint8
    depth: np.ndarray  # HxW float32 metres, 0 where there is no measurement


@dataclass
class DepthDataset:
    """A sized, re-iterable dataset; ``skipped`` counts split lines without ground truth."""

    kind: str
    source: Path
    layout: str
    names: list[str]
    load: Callable[[int], Sample]
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> Sample:
        return self.load(index)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self.names)):
            yield self.load(index)


@dataclass(frozen=True)
class _Pair:
    name: str
    rgb: Path
    depth: Path


@dataclass(frozen=True)
class SplitLine:
    number: int  # 1-based line number in the file
    tokens: tuple[str, ...]


# --------------------------------------------------------------------------- small helpers


def _listing(items: list[str]) -> str:
    """The first few items, and how many more."""
    shown = ", ".join(items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def _existing_dir(path: PathLike, what: str) -> Path:
    folder = Path(path)
    if not folder.exists():
        raise ZoeExportError(f"{what} {folder} does not exist; pass the dataset folder with "
                             f"{option('--data DIR', 'data=DIR')}.")
    if not folder.is_dir():
        raise ZoeExportError(f"{what} {folder} is not a folder; pass the dataset folder with "
                             f"{option('--data DIR', 'data=DIR')}.")
    return folder


def _strip_image_suffix(name: str) -> str:
    path = Path(name)
    return path.with_suffix("").as_posix() if path.suffix.lower() in DATASET_SUFFIXES else path.as_posix()


def _relative(token: str) -> Path:
    """A split-file path, taken relative to the data folder even with a leading slash."""
    return Path(token.lstrip("/\\"))


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_split(path: PathLike) -> list[SplitLine]:
    """The non-blank, non-comment lines of a split file, split on whitespace."""
    source = Path(path)
    if not source.is_file():
        raise ZoeExportError(f"split file {source} does not exist or is not a file; "
                             f"check {option('--split', 'split=')}.")
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZoeExportError(f"cannot read split file {source}: {exc}.") from exc
    lines = [
        SplitLine(number, tuple(line.split()))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise ZoeExportError(f"split file {source} lists no samples; pass a split with one sample per line.")
    return lines


def _malformed(source: PathLike, bad: list[str], expected: str) -> ZoeExportError:
    return ZoeExportError(f"split file {source} has {len(bad)} malformed line(s): {_listing(bad)}; "
                          f"each line must be {expected}.")


# --------------------------------------------------------------------------- pairs of files


def _check_pairs_exist(pairs: list[_Pair], root: Path) -> None:
    """Raise, listing the first few, when any pair lacks its image or its depth file."""
    missing = []
    for pair in pairs:
        if not pair.rgb.is_file():
            missing.append(f"{pair.name} (no image {pair.rgb})")
        elif not pair.depth.is_file():
            missing.append(f"{pair.name} (no depth {pair.depth})")
    if missing:
        raise ZoeExportError(
            f"{len(missing)} of {len(pairs)} samples lack a file: {_listing(missing)}; check that "
            f"{option('--data', 'data=')} "
            f"({root}) is the folder the dataset's paths are relative to, and that the download is complete."
        )


def _pair_dataset(kind: str, root: Path, layout: str, pairs: list[_Pair], skipped: int = 0) -> DepthDataset:
    """A dataset of image/depth-PNG pairs, the first depth PNG checked to be 16-bit."""
    _check_pairs_exist(pairs, root)
    scale = PROTOCOLS[kind].depth_scale
    units = "millimetres" if kind == "nyu" else "metres x 256"
    read_depth_png(pairs[0].depth, scale, units)  # an 8-bit or colour copy is refused now, not mid-run

    def load(index: int) -> Sample:
        pair = pairs[index]
        rgb = read_image(pair.rgb)
        depth = read_depth_png(pair.depth, scale, units)
        if rgb.shape[:2] != depth.shape:
            raise ZoeExportError(
                f"{pair.name}: image {pair.rgb} is {rgb.shape[0]}x{rgb.shape[1]} but depth {pair.depth} is "
                f"{depth.shape[0]}x{depth.shape[1]}; pair each image with its own depth map."
            )
        return Sample(pair.name, rgb, depth)

    return DepthDataset(kind, root, layout, [p.name for p in pairs], load, skipped)


def _explicit_pair(root: Path, line: SplitLine, depth_roots: list[Path]) -> _Pair:
    rgb, depth = line.tokens[:2]
    return _Pair(_strip_image_suffix(rgb.lstrip("/\\")), root / _relative(rgb), _find_depth(depth_roots, depth))


def _find_depth(depth_roots: list[Path], token: str) -> Path:
    """The first existing candidate of a depth path under the roots (the first one if none exists)."""
    candidates = [base / _relative(token) for base in depth_roots]
    return next((path for path in candidates if path.is_file()), candidates[0])


def _is_pair_line(line: SplitLine) -> bool:
    """``<rgb> <depth> [focal]``."""
    return len(line.tokens) == 2 or (len(line.tokens) == 3 and _is_number(line.tokens[2]))


# --------------------------------------------------------------------------- NYU folders


def _nyu_flat_pairs(root: Path) -> list[_Pair]:
    """``rgb/<stem>.png|jpg`` with ``depth/<stem>.png``."""
    images: dict[str, Path] = {}
    for path in list_images(root / "rgb", DATASET_SUFFIXES, recursive=False):
        if path.stem in images:
            raise ZoeExportError(f"{images[path.stem].name} and {path.name} in {root / 'rgb'} share a name; keep one.")
        images[path.stem] = path
    return [_Pair(stem, path, root / "depth" / f"{stem}.png") for stem, path in images.items()]


def _nyu_scene_pairs(root: Path) -> list[_Pair]:
    """``<scene>/rgb_00045.jpg`` with ``<scene>/sync_depth_00045.png`` (also directly in ``root``)."""
    images = sorted([*root.glob("rgb_*"), *root.glob("*/rgb_*")])
    return [
        _Pair(path.relative_to(root).with_suffix("").as_posix(), path,
              path.with_name("sync_depth_" + path.stem[len("rgb_"):] + ".png"))
        for path in images
        if path.suffix.lower() in DATASET_SUFFIXES and path.is_file()
    ]


def _select_nyu(pairs: list[_Pair], root: Path, split: PathLike) -> list[_Pair]:
    """The split's samples: names of found pairs, or explicit ``<rgb> <depth> [focal]`` lines."""
    by_name = {pair.name: pair for pair in pairs}
    selected, unknown, bad = [], [], []
    for line in read_split(split):
        if len(line.tokens) == 1:
            name = _strip_image_suffix(line.tokens[0].lstrip("/\\"))
            if name in by_name:
                selected.append(by_name[name])
            else:
                unknown.append(name)
        elif _is_pair_line(line):
            selected.append(_explicit_pair(root, line, [root]))
        else:
            bad.append(f"line {line.number} {' '.join(line.tokens)!r}")
    if bad:
        raise _malformed(split, bad, "a sample name, or '<rgb path> <depth path> [focal]'")
    if unknown:
        example = f", e.g. {pairs[0].name!r}" if pairs else ""
        raise ZoeExportError(
            f"split file {split} names {len(unknown)} sample(s) not found in {root}: {_listing(unknown)}; "
            f"names are image paths relative to the folder, without extension{example}."
        )
    return selected


def nyu_folders(root: PathLike, split: PathLike | None = None) -> DepthDataset:
    """NYU Depth v2 as image and 16-bit millimetre depth PNG folders (see the module docstring)."""
    root = _existing_dir(root, "NYU data folder")
    if (root / "rgb").is_dir():
        layout, pairs = "rgb/<stem> + depth/<stem>.png", _nyu_flat_pairs(root)
    else:
        layout, pairs = "<scene>/rgb_N + <scene>/sync_depth_N.png", _nyu_scene_pairs(root)
    if split is not None:
        pairs = _select_nyu(pairs, root, split)
    if not pairs:
        raise ZoeExportError(
            f"no NYU samples in {root}; expected DIR/rgb/<stem>.png|jpg with DIR/depth/<stem>.png, "
            "or DIR/<scene>/rgb_00045.jpg with DIR/<scene>/sync_depth_00045.png."
        )
    return _pair_dataset("nyu", root, layout, pairs)


# --------------------------------------------------------------------------- NYU labelled .mat


def _import_h5py():
    return require("h5py", "reading nyu_depth_v2_labeled.mat (MATLAB v7.3 / HDF5, which scipy.io cannot read)",
                   instead="unpack it to DIR/rgb + DIR/depth PNG folders")


def _mat_indices(split: PathLike, count: int) -> list[int]:
    """1-based indices from the split file, checked against the file's image count."""
    lines = read_split(split)
    bad = [f"line {ln.number} {' '.join(ln.tokens)!r}" for ln in lines
           if len(ln.tokens) != 1 or not ln.tokens[0].isdigit()]
    if bad:
        raise _malformed(split, bad, "one 1-based image index (as testNdxs in the official splits.mat)")
    indices = [int(ln.tokens[0]) for ln in lines]
    out_of_range = [str(i) for i in indices if not 1 <= i <= count]
    if out_of_range:
        raise ZoeExportError(
            f"split file {split} has indices outside 1..{count}: {_listing(out_of_range)}; "
            "indices are 1-based, as testNdxs in the official splits.mat."
        )
    return indices


def nyu_mat(path: PathLike, split: PathLike | None) -> DepthDataset:
    """The official labelled NYU Depth v2 file, restricted to the split's 1-based indices."""
    h5py = _import_h5py()
    source = Path(path)
    if not source.is_file():
        raise ZoeExportError(f"NYU labelled file {source} does not exist; check {option('--data', 'data=')}.")
    if split is None:
        raise ZoeExportError(
            f"{source.name} holds all 1449 labelled images; pass {option('--split FILE', 'split=FILE')} with the "
            "Eigen test "
            "indices, one 1-based index per line (testNdxs of the official splits.mat)."
        )
    try:
        with h5py.File(source, "r") as mat:
            if "images" not in mat or "depths" not in mat:
                raise ZoeExportError(f"{source} has no 'images' and 'depths'; pass nyu_depth_v2_labeled.mat.")
            count = int(mat["images"].shape[0])
    except OSError as exc:
        raise ZoeExportError(f"cannot open {source} as HDF5 (MATLAB v7.3): {exc}.") from exc
    indices = _mat_indices(split, count)

    def load(position: int) -> Sample:
        index = indices[position]
        with h5py.File(source, "r") as mat:
            rgb = np.ascontiguousarray(np.asarray(mat["images"][index - 1]).transpose(2, 1, 0), dtype=np.uint8)
            depth = np.ascontiguousarray(np.asarray(mat["depths"][index - 1]).T, dtype=np.float32)
        return Sample(f"{index:04d}", rgb, depth)

    return DepthDataset("nyu", source, "labelled .mat + 1-based indices", [f"{i:04d}" for i in indices], load)


# --------------------------------------------------------------------------- KITTI


def _kitti_depth_roots(depth_root: Path) -> list[Path]:
    return [depth_root, depth_root / "train", depth_root / "val"]


def kitti_eigen(root: PathLike, split: PathLike | None, depth_root: PathLike | None = None) -> DepthDataset:
    """The KITTI Eigen split: ``<rgb> <depth> [focal]`` lines; ``None`` depth lines are skipped."""
    root = _existing_dir(root, "KITTI data folder")
    if split is None:
        raise ZoeExportError(
            "KITTI needs --split FILE listing '<rgb path> <depth path> [focal]' per line relative to "
            "--data, e.g. kitti_eigen_test_files_with_gt.txt."
        )
    depth_roots = _kitti_depth_roots(_existing_dir(depth_root, "KITTI depth folder") if depth_root else root)
    pairs, bad, skipped = [], [], 0
    for line in read_split(split):
        if not _is_pair_line(line):
            bad.append(f"line {line.number} {' '.join(line.tokens)!r}")
        elif line.tokens[1] == "None":
            skipped += 1
        else:
            pairs.append(_explicit_pair(root, line, depth_roots))
    if bad:
        raise _malformed(split, bad, "'<rgb path> <depth path> [focal]'")
    if not pairs:
        raise ZoeExportError(f"split file {split} lists no frame with ground truth ({skipped} say None); "
                             "pass a split with depth paths, e.g. kitti_eigen_test_files_with_gt.txt.")
    return _pair_dataset("kitti", root, "Eigen split file", pairs, skipped)


# --------------------------------------------------------------------------- entry point


def open_dataset(kind: str, data: PathLike, split: PathLike | None = None,
                 depth_root: PathLike | None = None) -> DepthDataset:
    """Open ``--dataset nyu|kitti --data DIR [--split FILE]`` (NYU: DIR may be the labelled .mat)."""
    if kind not in DATASETS:
        raise ZoeExportError(f"unknown dataset {kind!r}; choose one of: {', '.join(DATASETS)}.")
    if kind == "kitti":
        return kitti_eigen(data, split, depth_root)
    if Path(data).suffix.lower() == ".mat":
        return nyu_mat(data, split)
    return nyu_folders(data, split)


__all__ = ["DATASETS", "DepthDataset", "Sample", "SplitLine", "kitti_eigen", "nyu_folders", "nyu_mat",
           "open_dataset", "read_depth_png", "read_split"]
