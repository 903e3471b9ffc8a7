"""Test helpers shared across test folders (tests/ is on sys.path: pytest pythonpath in pyproject.toml)."""
import contextlib
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoe_export.models import load_model

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
SKIP_REASON = (f"needs the reference data at {REFERENCE} (../shared/reference beside the clone): "
               "CI has it, a user's clone does not")


def routing_nk_state():
    """test-NK whose classifier splits inputs around their mean embedding, so samples route differently."""
    model = load_model("test-NK", weights="random")
    probe = torch.rand(16, 3, 64, 96, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        bottleneck = model.conv2(model.core(probe).bottleneck)
        hidden = model.mlp_classifier[:2](model.patch_transformer(bottleneck)[0])
    w = torch.randn(hidden.shape[1], generator=torch.Generator().manual_seed(3))
    offset = (hidden.mean(0) * w).sum()
    state = model.state_dict()
    state["mlp_classifier.2.weight"] = torch.stack([w, -w])
    state["mlp_classifier.2.bias"] = torch.stack([-offset, offset])
    return state


def inputs_routed_apart(model):
    g = torch.Generator().manual_seed(0)
    found = {}
    for _ in range(200):
        x = torch.rand(1, 3, 64, 96, generator=g)
        with torch.inference_mode():
            found.setdefault(int(model(x)["domain_logits"].argmax()), x)
        if len(found) == 2:
            return found[0], found[1]
    pytest.fail("no input routed to each head")


def write_images(folder, count, seed=0):
    """Photos-like random images of varied sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        h, w = (int(v) for v in rng.integers(40, 200, 2))
        smooth = np.cumsum(rng.normal(size=(h, w, 3)), axis=1)
        image = (smooth - smooth.min()) / (np.ptp(smooth) + 1e-9) * 255
        Image.fromarray(image.astype(np.uint8)).save(folder / f"img{i:02d}.png")
    return folder


#: the size range of the shared tiny dynamic-size exports (conftest ``dynamic_n``)
DYNAMIC_RANGE = "32x32:192x256"


def shared_export(tmp_path_factory, name: str, dynamic_size: str | None = DYNAMIC_RANGE, **options):
    """test-N exported once per session under the session's base temp folder (any test module may ask for it).

    Unverified (tests/export verifies exports): a tiny dynamic-size trace takes 20-30 s on 2 cores."""
    from zoe_export.export import ExportOptions, export_onnx

    path = tmp_path_factory.getbasetemp() / "shared-exports" / name
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        model = load_model("test-N", weights="random", dynamic_size=dynamic_size)
        export_onnx(model, path, ExportOptions(verify=False, **options))
    return path


def write_video(path, frames, fps: float = 12.0, fourcc: str = "MJPG"):
    """RGB uint8 frames as a video file (MJPG in .avi and mp4v in .mp4 both write with this OpenCV)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"this OpenCV cannot write {fourcc} into {path.suffix}"
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV writes BGR
    writer.release()
    return path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request lines on stderr
        pass


@contextlib.contextmanager
def served(folder):
    """``folder`` served over HTTP on 127.0.0.1 (a generated live stream); yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
