"""Checkpoints: download and cache with sha256, read, check strictly, and seeded random weights.

No sha256 of the release files is published, so the first download records the file's hash beside
it in the cache and every later load verifies it; a user can pin a hash (``sha256=``) for any file.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._files import atomic_output, cache_dir, existing_file, file_sha256
from ..errors import ZoeExportError, option
from ._registry import Variant, list_variants

log = logging.getLogger("zoe_export")

_CHUNK = 1 << 20
_ZIP_MAGIC, _PICKLE_MAGIC = b"PK\x03\x04", b"\x80"  # torch.save: zip (>= 1.6) or legacy pickle


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
_SHOW = 4  # keys listed per category in a mismatch report


# ----------------------------------------------------------------------------------------- cache

def cached_checkpoint(variant: Variant) -> Path | None:
    """The variant's release file in the cache, if it was downloaded before."""
    if variant.checkpoint is None:
        return None
    path = cache_dir() / variant.checkpoint.filename
    return path if path.is_file() else None


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _progress(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False)


def download(url: str, dest: Path, expected_sha256: str | None = None) -> str:
    """Download ``url`` to ``dest`` atomically with a progress bar; returns the file's sha256."""
    try:
        with atomic_output(dest) as tmp:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                total = response.headers.get("Content-Length")
                with _progress(int(total) if total else None, dest.name) as bar:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
            received = bar.n
            if total and received != int(total):
                raise ZoeExportError(
                    f"download of {url} broke off after {received} of {total} bytes. Run again to retry; "
                    f"on an unreliable network, download the file by hand and pass it with "
                    f"{option('--checkpoint PATH', 'checkpoint=PATH')}."
                )
            actual = file_sha256(tmp)  # the bytes as written, read back
            if expected_sha256 and actual != expected_sha256.lower():
                raise ZoeExportError(
                    f"download of {url} is corrupt: sha256 {actual}, expected {expected_sha256}. "
                    f"Try again; if it persists, download the file by hand and pass it with "
                    f"{option('--checkpoint', 'checkpoint=')}."
                )
    except (urllib.error.URLError, http.client.HTTPException, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ZoeExportError(
            f"could not download {url} ({reason}). On a machine without internet access, download the "
            f"file elsewhere and pass it with --checkpoint PATH (checkpoint=PATH in Python), or copy it to {dest}."
        ) from exc
    return actual


def fetch_checkpoint(variant: Variant) -> Path:
    """The release checkpoint of ``variant`` from the cache, downloading it once if needed."""
    if variant.checkpoint is None:
        raise ZoeExportError(
            f"{variant.name} has no published checkpoint: pass checkpoint=PATH, or weights='random' for a smoke run."
        )
    ref = variant.checkpoint
    path = cache_dir() / ref.filename
    if not path.is_file():
        log.info("downloading %s checkpoint from %s to %s", variant.name, ref.url, path)
        sha = download(ref.url, path, ref.sha256)
        with atomic_output(_record_path(path)) as tmp:
            tmp.write_text(json.dumps({"url": ref.url, "sha256": sha, "bytes": path.stat().st_size,
                                       "downloaded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2))
    return path


def verify_checkpoint(path: Path, pinned_sha256: str | None) -> str:
    """Hash ``path`` and check it against the pinned hash and the hash recorded at download."""
    actual = file_sha256(path)
    record = _record_path(path)
    expected, source = pinned_sha256, f"the pinned {option('--sha256', 'sha256=')}"
    if expected is None and record.is_file():
        with contextlib.suppress(ValueError, OSError):
            expected, source = json.loads(record.read_text()).get("sha256"), f"the hash recorded in {record.name} at download"
    if expected and actual != expected.lower():
        fix = (f"delete {path} and {record} to download it again" if record.is_file()
               else "check that this is the file you meant, or pin the right hash")
        raise ZoeExportError(f"{option('--checkpoint', 'checkpoint=')} {path} has sha256 {actual}, which does not "
                             f"match {source} ({expected}): {fix}.")
    return actual


# ----------------------------------------------------------------------------------------- reading

def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a checkpoint file (weights under "model" or at top level; "module." prefixes removed)."""
    path = checkpoint_file(path)
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise ZoeExportError(
            f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({_first_line(exc)}). "
            f"Download it again (a cached download can be deleted and is fetched anew)."
        ) from exc
    except Exception as exc:  # torch's UnpicklingError for objects outside the weights-only allow-list
        raise ZoeExportError(
            f"checkpoint {path} holds objects other than tensors ({type(exc).__name__}: "
            f"{_first_line(exc)}); zoe-export only loads weights-only checkpoints. "
            f"Re-save it with torch.save({{'model': model.state_dict()}}, path)."
        ) from exc
    return normalize_state_dict(obj, source=str(path))


def checkpoint_file(path: str | os.PathLike) -> Path:
    """``path`` when it is a file that could be a PyTorch checkpoint; otherwise an error that says what it is."""
    flag = option("--checkpoint", "checkpoint=")
    path = existing_file(path, flag, "pass the checkpoint file itself (a ZoeD_M12_*.pt file).")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ZoeExportError(f"{flag} {path} is empty; download the checkpoint again.")
    if not head.startswith((_ZIP_MAGIC, _PICKLE_MAGIC)):
        raise ZoeExportError(f"{flag} {path} is not a PyTorch checkpoint (torch.save writes a zip archive or a pickle; "
                             f"this file starts with {head!r}). Pass the .pt file of the release.")
    return path


def normalize_state_dict(obj, source: str = "weights") -> dict[str, torch.Tensor]:
    """Unwrap ``{"model": ...}`` and strip a ``module.`` prefix, as the official loader does."""
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        obj = obj["model"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ZoeExportError(f"{source} is not a state dict (a mapping of names to tensors, or one under 'model').")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return dict(obj)


# ----------------------------------------------------------------------------------------- checking

def expected_shapes(variant: Variant) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of ``variant`` with its shape (built on the meta device: no memory)."""
    from ._architecture import build_model

    with torch.device("meta"):
        model = build_model(variant)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _match_score(shapes: dict[str, tuple[int, ...]], state_dict: Mapping[str, torch.Tensor]) -> float:
    matched = sum(1 for k, v in state_dict.items() if shapes.get(k) == tuple(v.shape))
    return matched / max(len(shapes), len(state_dict))


def guess_variant(state_dict: Mapping[str, torch.Tensor]) -> tuple[str, float]:
    """The registered variant whose keys and shapes the state dict matches best, and the score."""
    from ._registry import get_variant

    scores = {name: _match_score(expected_shapes(get_variant(name)), state_dict)
              for name in list_variants(include_tiny=True)}
    best = max(scores, key=scores.get)
    return best, scores[best]


def _listing(title: str, items: list[str]) -> str:
    shown = ", ".join(items[:_SHOW]) + (", ..." if len(items) > _SHOW else "")
    return f"{title} ({len(items)}): {shown}"


def check_state_dict(model: nn.Module, state_dict: Mapping[str, torch.Tensor], variant: Variant, source: str) -> None:
    """Strict key and shape check, with one error that says what the file looks like instead."""
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    misshaped = [f"{k} {tuple(state_dict[k].shape)} vs {own[k]}" for k in own
                 if k in state_dict and tuple(state_dict[k].shape) != own[k]]
    if not (missing or unexpected or misshaped):
        _check_finite(state_dict, source)
        return
    guess, score = guess_variant(state_dict)
    if guess != variant.name and score > 0.9:
        looks = f"It looks like a {guess} checkpoint: pass {option(f'--variant {guess}', f'variant={guess!r}')}."
    else:
        looks = "It does not look like any known variant's checkpoint (a different model, or a damaged file)."
    details = "; ".join(
        _listing(title, items)
        for title, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", misshaped))
        if items
    )
    raise ZoeExportError(f"{source} does not match {variant.name}. {looks} {details}.")


def _check_finite(state_dict: Mapping[str, torch.Tensor], source: str) -> None:
    """NaN or inf in the weights is the file's problem: refused with the tensor names, before any export."""
    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ZoeExportError(
            f"{source} holds NaN or inf weights: {_listing('tensors', bad)}. The file is damaged or comes from a "
            "diverged training run; no export of it can be right. Use the official checkpoint (or re-save a good one)."
        )


# ----------------------------------------------------------------------------------------- random

def _fan_in(module: nn.Module, param: torch.Tensor) -> int:
    if isinstance(module, nn.ConvTranspose2d):  # weight (in, out, kh, kw); stride == kernel here
        return param.shape[0]
    return int(np.prod(param.shape[1:]))


def random_state_dict(model: nn.Module, seed: int = 0) -> dict[str, torch.Tensor]:
    """Deterministic random weights in the model's own layout: same seed, same weights, anywhere.

    Every parameter is drawn from its own numpy PCG64 stream seeded by (seed, crc32(name)), scaled so
    activations stay O(1) through the network (uniform with variance 1/fan_in for weights, small
    biases, LayerNorm near identity, layer scale 0.1). Buffers keep the values the model computes.
    """
    owners = {f"{prefix}.{name}" if prefix else name: module
              for prefix, module in model.named_modules() for name, _ in module.named_parameters(recurse=False)}
    state = model.state_dict()
    out = {}
    for key, tensor in state.items():
        if key not in owners or not tensor.is_floating_point():
            out[key] = tensor.clone()
            continue
        rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
        u = rng.random(tuple(tensor.shape)) * 2.0 - 1.0
        out[key] = torch.from_numpy(_scale_random(key, tensor, owners[key], u).astype(np.float32))
    return out


def _scale_random(key: str, tensor: torch.Tensor, module: nn.Module, u: np.ndarray) -> np.ndarray:
    name = key.rsplit(".", 1)[-1]
    if name in ("gamma_1", "gamma_2"):
        return 0.1 + 0.05 * u
    if isinstance(module, nn.LayerNorm):
        return 1.0 + 0.1 * u if name == "weight" else 0.02 * u
    if name in ("relative_position_bias_table", "cls_token"):
        return 0.5 * u
    if tensor.ndim >= 2:
        return np.sqrt(3.0 / max(_fan_in(module, tensor), 1)) * u
    return 0.02 * u
