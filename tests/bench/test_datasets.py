"""Dataset readers on tiny copies of the real on-disk layouts."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoe_export.bench.datasets import open_dataset, read_split
from zoe_export.bench.evaluation import evaluate
from zoe_export.errors import ZoeExportError


def write_rgb(path: Path, height: int, width: int, seed: int) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, quality=95)
    return rgb


def write_png16(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values.astype(np.uint16)).save(path)


def nyu_mm(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(500, 9000, (480, 640)).astype(np.uint16)


@pytest.fixture
def nyu_flat(tmp_path):
    """DIR/rgb/<stem>.png|jpg + DIR/depth/<stem>.png, 480x640, depth in mm."""
    root = tmp_path / "nyu"
    depths = {}
    for seed, name in enumerate(["0001.png", "0002.jpg"]):
        write_rgb(root / "rgb" / name, 480, 640, seed)
        depths[Path(name).stem] = nyu_mm(seed)
        write_png16(root / "depth" / f"{Path(name).stem}.png", depths[Path(name).stem])
    return root, depths


@pytest.fixture
def nyu_scenes(tmp_path):
    """The official test folders: DIR/<scene>/rgb_00045.jpg + sync_depth_00045.png."""
    root = tmp_path / "official_splits" / "test"
    for seed, (scene, number) in enumerate([("bathroom", "00045"), ("kitchen", "00100"), ("kitchen", "00101")]):
        write_rgb(root / scene / f"rgb_{number}.jpg", 480, 640, seed)
        write_png16(root / scene / f"sync_depth_{number}.png", nyu_mm(seed))
    return root


@pytest.fixture
def kitti(tmp_path):
    """Raw frames under DIR, annotated depth under DIR/<drive>/proj_depth, and an Eigen split file."""
    root = tmp_path / "kitti"
    rng = np.random.default_rng(1)
    lines, truth = [], {}
    for frame in ("0000000005", "0000000069"):
        rgb = f"2011_09_26/2011_09_26_drive_0002_sync/image_02/data/{frame}.png"
        depth = f"2011_09_26_drive_0002_sync/proj_depth/groundtruth/image_02/{frame}.png"
        write_rgb(root / rgb, 375, 1242, int(frame))
        metres = rng.uniform(3.0, 79.0, (375, 1242))
        encoded = np.round(metres * 256).astype(np.uint16)
        encoded[rng.random(encoded.shape) < 0.9] = 0  # LiDAR leaves most pixels without a measurement
        write_png16(root / depth, encoded)
        truth[rgb[:-4]] = encoded
        lines.append(f"{rgb} {depth} 721.5377")
    lines.insert(1, "2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000010.png None 721.5377")
    split = tmp_path / "kitti_eigen_test_files_with_gt.txt"
    split.write_text("\n".join(lines) + "\n")
    return root, split, truth


# --------------------------------------------------------------------------- NYU folders


def test_nyu_flat_layout(nyu_flat):
    root, depths = nyu_flat
    dataset = open_dataset("nyu", root)
    assert len(dataset) == 2 and dataset.names == ["0001", "0002"]
    name, rgb, depth = dataset[0]
    assert name == "0001" and rgb.shape == (480, 640, 3) and rgb.dtype == np.uint8
    assert depth.dtype == np.float32 and depth.shape == (480, 640)
    np.testing.assert_allclose(depth, depths["0001"] / 1000.0, rtol=1e-6)
    assert [sample.name for sample in dataset] == ["0001", "0002"]


def test_nyu_flat_layout_ignores_hidden_files_and_other_formats(nyu_flat):
    root, _ = nyu_flat
    write_rgb(root / "rgb" / "._0001.jpg", 8, 8, 0)  # macOS metadata beside the photos
    write_rgb(root / "rgb" / "0003.tif", 8, 8, 0)  # NYU ships .png and .jpg only
    assert open_dataset("nyu", root).names == ["0001", "0002"]


def test_depth_pngs_are_read_by_the_one_reader(nyu_flat):
    from zoe_export.bench.datasets import read_depth_png
    from zoe_export.io.images import read_depth_png16

    root, depths = nyu_flat
    assert read_depth_png is read_depth_png16
    np.testing.assert_array_equal(open_dataset("nyu", root)[0].depth, depths["0001"].astype(np.float32) / 1000)


def test_nyu_flat_layout_with_split(nyu_flat, tmp_path):
    root, _ = nyu_flat
    split = tmp_path / "split.txt"
    split.write_text("# test images\n0002.jpg\n\n")
    assert open_dataset("nyu", root, split).names == ["0002"]


def test_nyu_official_scene_layout(nyu_scenes, tmp_path):
    dataset = open_dataset("nyu", nyu_scenes)
    assert dataset.names == ["bathroom/rgb_00045", "kitchen/rgb_00100", "kitchen/rgb_00101"]
    split = tmp_path / "nyudepthv2_test_files_with_gt.txt"
    split.write_text("kitchen/rgb_00101.jpg kitchen/sync_depth_00101.png 518.8579\n/bathroom/rgb_00045\n")
    chosen = open_dataset("nyu", nyu_scenes, split)
    assert chosen.names == ["kitchen/rgb_00101", "bathroom/rgb_00045"]
    assert chosen[0].depth.max() < 9.0


def test_nyu_end_to_end_perfect_prediction(nyu_flat):
    root, depths = nyu_flat
    dataset = open_dataset("nyu", root)
    truth = iter([depths["0001"] / 1000.0, depths["0002"] / 1000.0])
    result = evaluate(lambda rgb: next(truth), dataset, "nyu", progress=False)
    assert result["count"] == 2 and result["mean"]["a1"] == 1.0
    assert result["mean"]["abs_rel"] == pytest.approx(0.0, abs=1e-6)


def test_nyu_missing_pair_is_listed(nyu_flat):
    root, _ = nyu_flat
    (root / "depth" / "0002.png").unlink()
    with pytest.raises(ZoeExportError, match=r"1 of 2 samples lack a file: 0002 \(no depth"):
        open_dataset("nyu", root)


def test_nyu_eight_bit_depth_is_refused(nyu_flat):
    root, _ = nyu_flat
    Image.fromarray(np.full((480, 640), 20, np.uint8)).save(root / "depth" / "0001.png")
    with pytest.raises(ZoeExportError, match="0001.png is a L image, not a 16-bit .*millimetres"):
        open_dataset("nyu", root)


def test_nyu_unknown_split_name(nyu_flat, tmp_path):
    root, _ = nyu_flat
    split = tmp_path / "split.txt"
    split.write_text("0001\n0003\n")
    with pytest.raises(ZoeExportError, match="not found .*0003"):
        open_dataset("nyu", root, split)


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(ZoeExportError, match="does not exist"):
        open_dataset("nyu", tmp_path / "nowhere")
    (tmp_path / "empty" / "rgb").mkdir(parents=True)
    with pytest.raises(ZoeExportError, match="no NYU samples"):
        open_dataset("nyu", tmp_path / "empty")
    with pytest.raises(ZoeExportError, match="nyu, kitti"):
        open_dataset("diode", tmp_path)


def test_empty_split_file(nyu_flat, tmp_path):
    root, _ = nyu_flat
    split = tmp_path / "split.txt"
    split.write_text("# nothing here\n\n")
    with pytest.raises(ZoeExportError, match="lists no samples"):
        open_dataset("nyu", root, split)
    with pytest.raises(ZoeExportError, match="does not exist"):
        read_split(tmp_path / "absent.txt")


# --------------------------------------------------------------------------- NYU labelled .mat


def test_nyu_mat_needs_h5py(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ImportError
    with pytest.raises(ZoeExportError, match="pip install h5py"):
        open_dataset("nyu", tmp_path / "nyu_depth_v2_labeled.mat", tmp_path / "split.txt")


def test_nyu_mat(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 480, 640, 3), dtype=np.uint8)  # N, H, W, C
    depths = rng.uniform(0.5, 9.0, (3, 480, 640)).astype(np.float32)
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    with h5py.File(path, "w") as mat:  # stored transposed, as MATLAB writes v7.3 files
        mat["images"] = images.transpose(0, 3, 2, 1)
        mat["depths"] = depths.transpose(0, 2, 1)
    split = tmp_path / "test_indices.txt"
    split.write_text("3\n1\n")
    dataset = open_dataset("nyu", path, split)
    assert dataset.names == ["0003", "0001"]
    _, rgb, depth = dataset[0]
    np.testing.assert_array_equal(rgb, images[2])
    np.testing.assert_array_equal(depth, depths[2])
    split.write_text("0\n")
    with pytest.raises(ZoeExportError, match="1-based"):
        open_dataset("nyu", path, split)


# --------------------------------------------------------------------------- KITTI


def test_kitti_eigen_split(kitti):
    root, split, truth = kitti
    dataset = open_dataset("kitti", root, split)
    assert len(dataset) == 2 and dataset.skipped == 1
    for name, rgb, depth in dataset:
        assert rgb.shape == (375, 1242, 3) and depth.shape == (375, 1242)
        np.testing.assert_allclose(depth, truth[name] / 256.0, rtol=1e-6)
        assert (depth == 0).mean() > 0.8  # missing measurements stay 0


def test_kitti_end_to_end_perfect_prediction(kitti):
    root, split, truth = kitti
    dataset = open_dataset("kitti", root, split)
    answers = iter([truth[name][23:, 13:1229] / 256.0 for name in dataset.names])
    result = evaluate(lambda rgb: next(answers), dataset, "kitti", progress=False)
    assert result["count"] == 2 and result["mean"]["a1"] == 1.0
    assert result["mean"]["rmse"] == pytest.approx(0.0, abs=1e-4)


def test_kitti_depth_under_train_folder(kitti, tmp_path):
    root, split, _ = kitti
    gts = tmp_path / "gts"
    (gts / "train").mkdir(parents=True)
    (root / "2011_09_26_drive_0002_sync").rename(gts / "train" / "2011_09_26_drive_0002_sync")
    with pytest.raises(ZoeExportError, match="lack a file"):
        open_dataset("kitti", root, split)
    assert len(open_dataset("kitti", root, split, depth_root=gts)) == 2


def test_kitti_split_errors(kitti, tmp_path):
    root, _, _ = kitti
    split = tmp_path / "bad.txt"
    split.write_text("only_one_field.png\na.png b.png 721.5 extra\n")
    with pytest.raises(ZoeExportError, match="2 malformed line.*line 1"):
        open_dataset("kitti", root, split)
    split.write_text("a.png None 721.5\n")
    with pytest.raises(ZoeExportError, match="no frame with ground truth"):
        open_dataset("kitti", root, split)
    with pytest.raises(ZoeExportError, match="needs --split"):
        open_dataset("kitti", root)
