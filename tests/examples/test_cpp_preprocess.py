"""The C++ example's zoe_preprocess library (examples/cpp) against zoe_export.preprocess.

A module fixture builds the library and its command-line front end, zoe_preprocess_cli, once with
CMake (Release, -j2) into a temporary folder; the tests feed it images and raw float32 buffers and
compare what comes back with the Python implementation. Skipped when cmake or a C++ compiler is
missing. TensorRT is not needed (nor built) here.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoe_export import preprocess
from zoe_export.io.images import read_image, write_depth_png16

SOURCE = Path(__file__).resolve().parents[2] / "examples" / "cpp"

# (image h, w), (model H, W), reflect padding
CASES = [
    pytest.param((37, 53), (64, 96), True, id="37x53-to-64x96"),
    pytest.param((480, 640), (384, 512), True, id="480x640-to-384x512"),
    pytest.param((5, 7), (64, 32), True, id="5x7-smallest-padded"),
    pytest.param((1, 1), (32, 32), False, id="1x1-unpadded"),
    pytest.param((2, 300), (64, 96), False, id="2x300-strip"),
]

# Restore tolerance, relative to the depth magnitude. Both sides take the same float32 / float64
# steps; only the order in which the float64 products are summed may differ (numpy hands its matrix
# products to BLAS, which blocks and may fuse them), which can move a float64 sum by a few ulps and,
# rarely, the final float32 rounding by one ulp (~1e-7 relative). 1e-5 leaves a wide margin yet
# catches any real mistake: a wrong tap, weight or index changes values by far more than 1e-3.
RESTORE_RTOL = 1e-5
PREPARE_ATOL = 1e-5  # inputs are in [0, 1]; same reasoning as above


@dataclass(frozen=True)
class Build:
    cli: Path
    configure_output: str
    png_input: bool


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def _run(command: list, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Build:
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not on PATH; the C++ example (examples/cpp) needs CMake >= 3.18")
    if _compiler() is None:
        pytest.skip("no C++ compiler found (c++, g++ or clang++ on PATH, or CXX); needed for examples/cpp")
    folder = tmp_path_factory.mktemp("cpp_build")
    configure = _run(["cmake", "-S", SOURCE, "-B", folder, "-DCMAKE_BUILD_TYPE=Release"])
    assert configure.returncode == 0, f"cmake configure failed:\n{configure.stdout}\n{configure.stderr}"
    compiled = _run(["cmake", "--build", folder, "-j2", "--target", "zoe_preprocess_cli"])
    assert compiled.returncode == 0, f"cmake build failed:\n{compiled.stdout}\n{compiled.stderr}"
    cli = next(path for path in folder.rglob("zoe_preprocess_cli*") if path.is_file() and os.access(path, os.X_OK))
    info = _run([cli, "info"])
    return Build(cli, configure.stdout + configure.stderr, "png-input=yes" in info.stdout)


def cli(build: Build, *args) -> str:
    """Run the CLI, fail the test with its stderr unless it succeeds; return stdout."""
    result = _run([build.cli, *args])
    assert result.returncode == 0, f"zoe_preprocess_cli {' '.join(map(str, args))} failed:\n{result.stderr}"
    return result.stdout


def write_ppm(path: Path, image: np.ndarray) -> Path:
    height, width, _ = image.shape
    path.write_bytes(f"P6\n# written by the tests\n{width} {height}\n255\n".encode() + image.tobytes())
    return path


def random_image(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng([seed, *size]).integers(0, 256, (*size, 3), dtype=np.uint8)


def parse_fields(stdout: str) -> dict[str, str]:
    return dict(field.split("=", 1) for field in stdout.split())


def cpp_prepare(build: Build, tmp_path: Path, image: np.ndarray, model: tuple[int, int], fmt: str, *flags: str):
    """Prepare through the CLI; returns (raw batch bytes, printed placement fields)."""
    source = write_ppm(tmp_path / "image.ppm", image)
    out = tmp_path / "prepared.bin"
    fields = parse_fields(cli(build, "prepare", source, model[0], model[1], fmt, out, *flags))
    return out.read_bytes(), fields


def python_uint8(batch: np.ndarray) -> np.ndarray:
    """What a uint8-nhwc engine is fed (zoe_export.calib.dataset._preprocess, per batch item)."""
    return np.clip(np.round(batch.transpose(0, 2, 3, 1) * 255.0), 0, 255).astype(np.uint8)


def check_placement(fields: dict[str, str], prepared: preprocess.Prepared) -> None:
    assert fields["original"] == "{}x{}".format(*prepared.original_size)
    assert fields["padding"] == "{}x{}".format(*prepared.padding)
    assert fields["content"] == ",".join(map(str, prepared.content_box))


# --------------------------------------------------------------------------- prepare


@pytest.mark.parametrize("fit", ["stretch", "letterbox"])
@pytest.mark.parametrize(("size", "model", "pad"), CASES)
def test_prepare_float_matches_python(build, tmp_path, size, model, pad, fit):
    image = random_image(size)
    flags = ["--fit", fit] + ([] if pad else ["--no-pad"])
    raw, fields = cpp_prepare(build, tmp_path, image, model, "float-nchw", *flags)
    expected = preprocess.prepare(image, model, fit=fit, pad_input=pad)
    got = np.frombuffer(raw, dtype="<f4").reshape(expected.batch.shape)
    check_placement(fields, expected)
    assert fields["batch"] == "1"
    assert np.abs(got - expected.batch).max() <= PREPARE_ATOL


@pytest.mark.parametrize(("size", "model", "pad"), CASES)
def test_prepare_uint8_is_identical(build, tmp_path, size, model, pad):
    image = random_image(size, seed=1)
    raw, _ = cpp_prepare(build, tmp_path, image, model, "uint8-nhwc", *([] if pad else ["--no-pad"]))
    expected = python_uint8(preprocess.prepare(image, model, pad_input=pad).batch)
    np.testing.assert_array_equal(np.frombuffer(raw, dtype=np.uint8).reshape(expected.shape), expected)


@pytest.mark.parametrize("fmt", ["float-nchw", "uint8-nhwc"])
def test_flip_batch_is_image_then_mirror(build, tmp_path, fmt):
    image = random_image((41, 67), seed=2)
    raw, fields = cpp_prepare(build, tmp_path, image, (64, 96), fmt, "--flip")
    x = preprocess.prepare(image, (64, 96), pad_input=True).batch
    pair = np.concatenate([x, x[..., ::-1]], axis=0)  # as zoe_export.preprocess.predict builds it
    assert fields["batch"] == "2"
    if fmt == "float-nchw":
        got = np.frombuffer(raw, dtype="<f4").reshape(pair.shape)
        assert np.abs(got - pair).max() <= PREPARE_ATOL
    else:
        expected = python_uint8(pair)
        np.testing.assert_array_equal(np.frombuffer(raw, dtype=np.uint8).reshape(expected.shape), expected)


# --------------------------------------------------------------------------- restore / flip average


def cpp_restore(build: Build, tmp_path: Path, depth: np.ndarray, prepared: preprocess.Prepared,
                interpolation: str = "bicubic") -> np.ndarray:
    source, out = tmp_path / "depth.bin", tmp_path / "restored.bin"
    depth.astype("<f4").tofile(source)
    (height, width), (pad_h, pad_w) = prepared.original_size, prepared.padding
    content = ",".join(map(str, prepared.content_box))
    cli(build, "restore", source, *depth.shape, height, width, pad_h, pad_w, out,
        "--content", content, "--interpolation", interpolation)
    return np.fromfile(out, dtype="<f4").reshape(height, width)


@pytest.mark.parametrize("interpolation", ["bicubic", "bilinear"])
@pytest.mark.parametrize("fit", ["stretch", "letterbox"])
@pytest.mark.parametrize(("size", "model", "pad"), CASES)
def test_restore_matches_python(build, tmp_path, size, model, pad, fit, interpolation):
    prepared = preprocess.prepare(random_image(size), model, fit=fit, pad_input=pad)
    depth = np.random.default_rng(3).uniform(0.3, 80.0, model).astype(np.float32)
    got = cpp_restore(build, tmp_path, depth, prepared, interpolation)
    expected = preprocess.restore(depth, prepared, interpolation=interpolation)
    assert np.abs(got - expected).max() <= RESTORE_RTOL * np.abs(expected).max()


def test_flip_average_matches_python(build, tmp_path):
    out = np.random.default_rng(4).uniform(0.5, 10.0, (2, 1, 64, 96)).astype(np.float32)
    out.astype("<f4").tofile(tmp_path / "pair.bin")
    cli(build, "flip-average", tmp_path / "pair.bin", 64, 96, tmp_path / "avg.bin")
    expected = (out[0] + out[1][..., ::-1]) / 2  # zoe_export.preprocess.predict
    got = np.fromfile(tmp_path / "avg.bin", dtype="<f4").reshape(expected.shape)
    np.testing.assert_array_equal(got, expected)


def fake_model(batch: np.ndarray) -> np.ndarray:
    """A deterministic stand-in for an engine: (B,3,H,W) RGB -> (B,1,H,W) 'depth', not mirror-symmetric."""
    columns = np.linspace(1.0, 2.0, batch.shape[-1], dtype=np.float32)
    return (0.5 + 4.0 * batch[:, :1] + 2.0 * batch[:, 1:2] * columns).astype(np.float32)


def test_full_recipe_matches_python_predict(build, tmp_path):
    """prepare --flip -> model -> flip-average -> restore equals zoe_export.preprocess.predict."""
    image, model = random_image((50, 70), seed=5), (64, 96)
    raw, fields = cpp_prepare(build, tmp_path, image, model, "float-nchw", "--flip")
    out = fake_model(np.frombuffer(raw, dtype="<f4").reshape(2, 3, *model))
    out.astype("<f4").tofile(tmp_path / "pair.bin")
    cli(build, "flip-average", tmp_path / "pair.bin", *model, tmp_path / "avg.bin")
    averaged = np.fromfile(tmp_path / "avg.bin", dtype="<f4").reshape(model)
    prepared = preprocess.prepare(image, model, pad_input=True)
    got = cpp_restore(build, tmp_path, averaged, prepared)
    expected = preprocess.predict(fake_model, image, model)
    assert fields["padding"] == "{}x{}".format(*prepared.padding)
    assert np.abs(got - expected).max() <= RESTORE_RTOL * np.abs(expected).max()


# --------------------------------------------------------------------------- 16-bit PNG writer


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, payload) chunks, checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + payload), f"bad CRC on {kind!r}"
        chunks.append((kind, payload))
        pos += 12 + length
    return chunks


def test_png16_matches_python_writer(build, tmp_path):
    rng = np.random.default_rng(6)
    depth = rng.uniform(0.0, 70.0, (37, 53)).astype(np.float32)  # > 65.535 m clamps
    special = [np.nan, np.inf, -np.inf, -1.0, 0.0, 0.0005, 0.0015, 0.0025, 1e-9, 65.535, 65.5355, 1e30]
    depth.flat[: len(special)] = special  # rounding half to even, clamping, non-finite and <= 0 -> 0
    depth.astype("<f4").tofile(tmp_path / "depth.bin")
    cli(build, "png16", tmp_path / "depth.bin", 37, 53, tmp_path / "cpp.png")
    write_depth_png16(tmp_path / "python.png", depth)
    with Image.open(tmp_path / "cpp.png") as cpp_png, Image.open(tmp_path / "python.png") as py_png:
        assert cpp_png.mode == py_png.mode == "I;16"
        np.testing.assert_array_equal(np.array(cpp_png), np.array(py_png))


def test_png16_scale_option(build, tmp_path):
    depth = np.full((3, 4), 2.5, dtype=np.float32)
    depth.astype("<f4").tofile(tmp_path / "depth.bin")
    cli(build, "png16", tmp_path / "depth.bin", 3, 4, tmp_path / "cm.png", "--scale", "100")
    with Image.open(tmp_path / "cm.png") as png:
        np.testing.assert_array_equal(np.array(png), np.full((3, 4), 250))


def test_png16_stream_is_valid_across_many_blocks(build, tmp_path):
    """A 300x400 image needs several 64 KiB stored blocks: check chunk CRCs and the zlib stream (Adler-32)."""
    depth = np.random.default_rng(7).uniform(0.1, 60.0, (300, 400)).astype(np.float32)
    depth.astype("<f4").tofile(tmp_path / "depth.bin")
    cli(build, "png16", tmp_path / "depth.bin", 300, 400, tmp_path / "big.png")
    chunks = png_chunks((tmp_path / "big.png").read_bytes())
    assert [kind for kind, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    assert chunks[0][1] == struct.pack(">IIBBBBB", 400, 300, 16, 0, 0, 0, 0)
    raw = zlib.decompress(b"".join(payload for kind, payload in chunks if kind == b"IDAT"))  # checks Adler-32
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(300, 1 + 800)
    assert not rows[:, 0].any()  # filter type 0 on every row
    expected = np.clip(np.round(depth.astype(np.float64) * 1000), 0, 65535).astype(">u2")
    np.testing.assert_array_equal(rows[:, 1:].copy().view(">u2"), expected)


# --------------------------------------------------------------------------- image input


def test_ppm_decodes_to_the_same_pixels(build, tmp_path):
    image = random_image((13, 21), seed=8)
    write_ppm(tmp_path / "image.ppm", image)
    fields = parse_fields(cli(build, "decode", tmp_path / "image.ppm", tmp_path / "rgb.bin"))
    assert fields["size"] == "13x21"
    np.testing.assert_array_equal(np.fromfile(tmp_path / "rgb.bin", dtype=np.uint8).reshape(image.shape), image)


def _pillow_image(mode: str, rng: np.random.Generator) -> Image.Image:
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (19, 23), dtype=np.uint16))
    rgba = Image.fromarray(rng.integers(0, 256, (19, 23, 4), dtype=np.uint8), "RGBA")
    if mode == "P":
        return rgba.convert("RGB").quantize(colors=37)
    return rgba.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"])
def test_png_input_matches_python_reader(build, tmp_path, mode):
    if not build.png_input:
        pytest.skip("this build has no PNG input (CMake did not find libpng)")
    path = tmp_path / f"image_{mode.replace(';', '')}.png"
    _pillow_image(mode, np.random.default_rng(9)).save(path)
    cli(build, "decode", path, tmp_path / "rgb.bin")
    expected = read_image(path)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "rgb.bin", dtype=np.uint8).reshape(expected.shape), expected)


# --------------------------------------------------------------------------- build and errors


def test_configure_reports_tensorrt_target_skipped(build):
    if "zoe_depth_trt: building against TensorRT" in build.configure_output:
        pytest.skip("TensorRT was found on this machine, so the zoe_depth_trt target is configured")
    assert "zoe_depth_trt: skipped" in build.configure_output
    assert "-DTensorRT_ROOT=" in build.configure_output


@pytest.mark.parametrize(
    ("make_input", "args", "message"),
    [
        pytest.param(None, ["prepare", "{missing}", 64, 96, "float-nchw", "{out}"], "cannot open image",
                     id="missing-file"),
        pytest.param(b"hello, not an image\n", ["prepare", "{input}", 64, 96, "float-nchw", "{out}"],
                     "neither a binary PPM (P6) nor a PNG", id="not-an-image"),
        pytest.param(b"P6\n4 4\n255\n" + bytes(10), ["prepare", "{input}", 64, 96, "float-nchw", "{out}"],
                     "truncated", id="truncated-ppm"),
        pytest.param(b"P6\n1 1\n65535\n" + bytes(6), ["decode", "{input}", "{out}"], "maxval", id="16-bit-ppm"),
        pytest.param(b"P6\nx 1\n255\n" + bytes(3), ["decode", "{input}", "{out}"], "no valid width", id="bad-header"),
        pytest.param(b"P6\n2 2\n255\n" + bytes(12), ["prepare", "{input}", 64, 96, "float-nchw", "{out}"],
                     "too small for reflection padding", id="too-small-to-pad"),
        pytest.param(b"P6\n8 8\n255\n" + bytes(192), ["prepare", "{input}", 50, 96, "float-nchw", "{out}"],
                     "multiples of 32", id="bad-model-size"),
        pytest.param(b"P6\n8 8\n255\n" + bytes(192), ["prepare", "{input}", 64, 96, "float16", "{out}"],
                     "unknown input format", id="bad-format"),
        pytest.param(bytes(100), ["restore", "{input}", 64, 96, 10, 10, 0, 0, "{out}"],
                     "holds 100 bytes, expected 24576", id="wrong-depth-size"),
        pytest.param(None, ["frobnicate"], "unknown command", id="unknown-command"),
    ],
)
def test_cli_rejects_bad_input(build, tmp_path, make_input, args, message):
    source = tmp_path / "input.ppm"
    if make_input is not None:
        source.write_bytes(make_input)
    names = {"input": source, "missing": tmp_path / "missing.ppm", "out": tmp_path / "out.bin"}
    result = _run([build.cli, *(str(a).format(**names) if isinstance(a, str) else a for a in args)])
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert result.stderr.startswith("error: ")


# --------------------------------------------------------------------------- dynamic-size engines: the model size


def _tie_sizes(net: tuple[int, int], bound: int = 1400) -> list[tuple[int, int]]:
    """Sizes where both scales are equally close to 1 (the rule's tie): W = w0 H / h0 or W = w0 H / (2H - h0)."""
    h0, w0 = net
    found = []
    for height in range(1, bound):
        for den in (h0, 2 * height - h0):
            if den > 0 and (w0 * height) % den == 0 and 0 < w0 * height // den < bound:
                found.append((height, w0 * height // den))
    return found


@pytest.mark.parametrize("net", [(384, 512), (64, 96), (384, 768)])
@pytest.mark.parametrize("pad", [True, False], ids=["official", "minimal-unpadded"])
def test_model_size_matches_python(build, net, pad):
    """zoe::official_model_size / zoe::minimal_size: the same float64 steps as preprocess, on ties and at random."""
    rng = np.random.default_rng([net[0], net[1], pad])
    sizes = list(dict.fromkeys([*_tie_sizes(net), *map(tuple, rng.integers(5, 2200, (1500, 2))),
                                (480, 640), (720, 1280), (352, 1216), (448, 448), (1080, 1920)]))
    out = cli(build, "model-size", *net, *(f"{h}x{w}" for h, w in sizes), *([] if pad else ["--no-pad"]))
    got = dict(line.split("=") for line in out.split())
    python = preprocess.official_model_size if pad else lambda h, w, n: preprocess.minimal_size(h, w, n)
    wrong = [(s, got[f"{s[0]}x{s[1]}"]) for s in sizes if got[f"{s[0]}x{s[1]}"] != "{}x{}".format(*python(*s, net))]
    assert len(got) == len(sizes) and not wrong, wrong[:10]


# --------------------------------------------------------------------------- the model card beside an engine


def _manifest(tmp_path, card, name="m.engine.json"):
    import json

    path = tmp_path / name
    path.write_text(json.dumps({"format": "zoe-export engine", "version": 2, "card": card.to_dict()}, indent=2))
    return path


def test_card_of_each_kind_of_engine(build, tmp_path):
    from zoe_export.card import ModelCard, Weights
    from zoe_export.sizes import SizeRange

    base = ModelCard(variant="M12-N", head="N", height=384, width=512, weights=Weights("random", seed=0),
                     measured_rel=float("nan"))  # Python's json writes NaN: the reader must take it
    cards = {
        "fixed": (base, "found=1 io=model size=384x512 range=- fit=stretch flip=0 frame=0x0 input=image"),
        "dynamic": (base.with_changes(size_range=SizeRange((256, 256), (768, 1344))),
                    "found=1 io=model size=384x512 range=256x256:768x1344 fit=stretch flip=0 frame=0x0 input=image"),
        "frame": (base.with_changes(io="frame", input_name="frame", input_format="uint8-nhwc", flip=True,
                                    fit="minimal", size_range=SizeRange((256, 256), (768, 1344))),
                  "found=1 io=frame size=384x512 range=256x256:768x1344 fit=minimal flip=1 frame=0x0 input=frame"),
        "camera": (base.with_changes(io="frame", input_name="frame", input_format="uint8-nhwc", frame_size=(720, 1280)),
                   "found=1 io=frame size=384x512 range=- fit=stretch flip=0 frame=720x1280 input=frame"),
    }
    for name, (card, expected) in cards.items():
        assert cli(build, "card", _manifest(tmp_path, card, f"{name}.json")).strip() == expected, name
    assert cli(build, "card", tmp_path / "missing.json").startswith("found=0 io=model")


@pytest.mark.parametrize("text, message", [
    ('{"format": "zoe-export engine", "model": {}}', "has no model card"),
    ('{"card": {"io": "frame", "height": "64"}}', "\"height\" is not a whole number"),
    ('{"card": {"io": "video", "height": 64, "width": 96}}', "neither model nor frame"),
    ('{"card": {"height": 64,, }}', "is not a readable zoe-export manifest"),
])
def test_card_refuses_what_is_not_a_manifest(build, tmp_path, text, message):
    (tmp_path / "bad.json").write_text(text)
    result = _run([build.cli, "card", tmp_path / "bad.json"])
    assert result.returncode == 1 and message in result.stderr, result.stderr


# --------------------------------------------------------------------------- the TensorRT app, compiled here


def test_the_app_compiles_against_the_tensorrt_api(tmp_path):
    """zoe_depth_trt needs TensorRT to build; here its sources are type-checked against declarations of the TensorRT
    10 and CUDA runtime API it uses (tests/examples/trt_stubs), so a mistake in the app fails without a GPU."""
    compiler = _compiler()
    if compiler is None:
        pytest.skip("no C++ compiler found (c++, g++ or clang++ on PATH, or CXX); needed for examples/cpp")
    stubs = Path(__file__).resolve().parent / "trt_stubs"
    for source in sorted((SOURCE / "app").glob("*.cpp")):
        result = _run([compiler, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", stubs,
                       "-I", SOURCE / "include", "-I", SOURCE / "app", source])
        assert result.returncode == 0, f"{source.name} does not compile:\n{result.stderr}"
