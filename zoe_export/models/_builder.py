"""Build a variant at a size and load its weights: :func:`load_model`, the public entry point."""
from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import ZoeExportError, check_seed, option
from ._pretrained import (
    check_state_dict,
    checkpoint_file,
    fetch_checkpoint,
    normalize_state_dict,
    random_state_dict,
    read_state_dict,
    verify_checkpoint,
)
from ._registry import Variant, get_variant
from .zoedepth import ZoeDepth, ZoeDepthNK

log = logging.getLogger("zoe_export")

DOMAIN_CHOICES = ("auto", "nyu", "kitti")


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """What a model instance was built with, every default resolved (None means "the variant's")."""

    height: int
    width: int
    max_depth: float | None
    domain: str

    @classmethod
    def resolve(cls, variant: Variant, height=None, width=None, max_depth=None, domain="auto") -> "ModelOptions":
        height = variant.native_size[0] if height is None else int(height)
        width = variant.native_size[1] if width is None else int(width)
        size = option("--height/--width", "height/width")
        if height <= 0 or width <= 0 or height % 32 or width % 32:
            raise ZoeExportError(
                f"{size} {height}x{width}: both must be positive multiples of 32 "
                f"(native size of {variant.name}: {variant.native_size[0]}x{variant.native_size[1]})."
            )
        check_size_supported(variant, height, width)
        domain = domain or "auto"
        flag = option("--domain", "domain=")
        if domain not in DOMAIN_CHOICES:
            raise ZoeExportError(f"{flag} {domain!r}: choose one of {', '.join(DOMAIN_CHOICES)}.")
        if domain != "auto" and variant.head_type != "NK":
            raise ZoeExportError(
                f"{flag} applies to the NK variants only: {variant.name} has a single "
                f"({variant.heads[0].domain}) head. Drop {flag}, or use M12-NK."
            )
        if max_depth is not None:
            flag = option("--max-depth", "max_depth=")
            if variant.head_type != "K":
                raise ZoeExportError(
                    f"{flag} applies to K variants only: {variant.name}'s bins are unbounded "
                    f"(softplus), so there is no maximum depth to set. Drop {flag}."
                )
            max_depth = float(max_depth)
            if not math.isfinite(max_depth):
                raise ZoeExportError(f"{flag} {max_depth}: give a finite depth in metres (default 80; 10 = torch.hub); "
                                     "the bins span min to max depth, so an infinite end makes every depth inf.")
            if not max_depth > variant.heads[0].min_depth:
                raise ZoeExportError(f"{flag} {max_depth} must be above the minimum depth "
                                     f"{variant.heads[0].min_depth}.")
        return cls(height, width, max_depth, domain)


#: TensorRT (and 32-bit indexing in many kernels) caps a tensor at 2^31 - 1 elements
MAX_TENSOR_ELEMENTS = 2**31 - 1
#: beyond this many times the native side, a size is far outside what the model was trained on
SIZE_WARNING_FACTOR = 4


def attention_elements(variant: Variant, height: int, width: int) -> int:
    """Elements of one block's attention map (heads x tokens x tokens) for one image at ``height`` x ``width``."""
    enc = variant.encoder
    tokens = (height // enc.patch_size) * (width // enc.patch_size) + 1
    return enc.num_heads * tokens * tokens


def check_size_supported(variant: Variant, height: int, width: int) -> None:
    """Refuse sizes no backend can run; warn about sizes far outside the trained range (before any work)."""
    elements = attention_elements(variant, height, width)
    memory = f"{elements * 4 / 1e9:.1f} GB per attention map and as much again for its position bias"
    size = option("--height/--width", "height/width")
    if elements > MAX_TENSOR_ELEMENTS:
        raise ZoeExportError(
            f"{size} {height}x{width}: too big for {variant.name}. Each of its attention maps would have "
            f"{elements:,} elements ({memory}); TensorRT and ONNX Runtime kernels index at most 2^31. "
            f"Use a size nearer the native {variant.native_size[0]}x{variant.native_size[1]}."
        )
    native_h, native_w = variant.native_size
    if height > SIZE_WARNING_FACTOR * native_h or width > SIZE_WARNING_FACTOR * native_w:
        _warn_once(f"{size} {height}x{width} is more than {SIZE_WARNING_FACTOR}x the native {native_h}x{native_w} of "
                   f"{variant.name}: expect slow runs and large files ({memory}), and depth the model was not "
                   "trained for.")


@functools.lru_cache(maxsize=None)
def _warn_once(message: str) -> None:
    log.warning("%s", message)


def build_model(variant: str | Variant, options: ModelOptions | None = None) -> torch.nn.Module:
    """The architecture of ``variant`` with untrained weights (all heads, for NK)."""
    variant = get_variant(variant)
    options = options or ModelOptions.resolve(variant)
    size = (options.height, options.width)
    if variant.head_type == "NK":
        return ZoeDepthNK(variant, size)
    head = variant.heads[0]
    if options.max_depth is not None:
        head = dataclasses.replace(head, max_depth=options.max_depth)
    return ZoeDepth(variant, size, head)


def _check_weight_options(checkpoint, weights, sha256, seed) -> None:
    """Contradictions are errors; options that the chosen weights ignore are said to be ignored."""
    random = option("--random-weights", "weights='random'")
    if checkpoint is not None and weights is not None:
        raise ZoeExportError(f"{option('--checkpoint', 'checkpoint=')} and {option('--random-weights', 'weights=')} "
                             "exclude each other: pick one.")
    if seed is not None:
        check_seed(seed)
    if sha256 is not None and weights is not None:
        log.warning("%s is ignored: it pins a checkpoint file's hash, and %s uses no file.",
                    option("--sha256", "sha256="), random if isinstance(weights, str) else "weights=")
    if seed is not None and not (isinstance(weights, str) and weights == "random"):
        log.warning("%s is ignored: it seeds %s, and these weights come from %s.", option("--seed", "seed="), random,
                    "a state dict" if weights is not None else "a checkpoint")


def _weights(variant: Variant, model: torch.nn.Module, checkpoint, weights, sha256, seed: int):
    """The state dict to load and the provenance of the weights."""
    if isinstance(weights, str):
        if weights != "random":
            raise ZoeExportError(f"weights={weights!r}: use 'random', a state dict, or checkpoint=PATH.")
        log.warning(
            "RANDOM WEIGHTS: %s is built with seeded random weights (seed %d), not a trained checkpoint. "
            "Its depth is meaningless; use it for smoke tests, export plumbing and timing only.",
            variant.name, seed,
        )
        return random_state_dict(model, seed), {"weights": "random", "seed": seed}
    if isinstance(weights, Mapping):
        return normalize_state_dict(weights, "weights"), {"weights": "state_dict"}
    if weights is not None:
        raise ZoeExportError(f"weights must be 'random' or a state dict, not {type(weights).__name__}.")
    path = checkpoint_file(checkpoint) if checkpoint is not None else fetch_checkpoint(variant)
    log.info("verifying %s", path)
    digest = verify_checkpoint(path, sha256)
    log.info("reading %s", path)
    return read_state_dict(path), {"weights": "checkpoint", "checkpoint": str(path), "sha256": digest}


def load_model(
    variant: str | Variant,
    checkpoint: str | Path | None = None,
    *,
    height: int | None = None,
    width: int | None = None,
    max_depth: float | None = None,
    domain: str = "auto",
    weights: str | Mapping[str, torch.Tensor] | None = None,
    sha256: str | None = None,
    seed: int | None = None,
) -> torch.nn.Module:
    """A ZoeDepth model in eval mode, built for one input size, with its weights loaded strictly.

    Args:
        variant: "M12-N", "M12-K", "M12-NK" (or a test variant "test-N", "test-K", "test-NK").
        checkpoint: a checkpoint file. Without it (and without ``weights``) the official release
            is downloaded once into the cache (``$ZOE_EXPORT_CACHE``, default ~/.cache/zoe-export).
        height, width: the input size, multiples of 32 (default: the variant's native size).
        max_depth: K only: the bin range's upper end (default 80, as trained; 10 = torch.hub model).
        domain: NK only: "auto" routes per sample; "nyu" or "kitti" keeps that head only.
        weights: "random" for seeded random weights (smoke runs), or a state dict.
        sha256: pin the checkpoint file's hash.
        seed: the seed of ``weights="random"`` (default 0).

    The returned module's ``forward(image)`` takes float32 (B, 3, H, W) RGB in [0, 1] and returns
    ``{"metric_depth": (B, 1, H, W)}`` in metres (and ``"domain_logits"`` (B, 2) for NK).
    ``model.provenance`` records what was built and from which weights.
    """
    variant = get_variant(variant)
    options = ModelOptions.resolve(variant, height, width, max_depth, domain)
    _check_weight_options(checkpoint, weights, sha256, seed)
    model = build_model(variant, options)
    state_dict, source = _weights(variant, model, checkpoint, weights, sha256, 0 if seed is None else seed)
    check_state_dict(model, state_dict, variant, source.get("checkpoint", "the given state dict"))
    model.load_state_dict(state_dict, strict=True)
    del state_dict
    if options.domain != "auto":
        model.keep_only(options.domain)
    model.eval().requires_grad_(False)
    model.provenance = {
        "variant": variant.name,
        "height": options.height,
        "width": options.width,
        "max_depth": options.max_depth if options.max_depth is not None else (
            variant.heads[0].max_depth if variant.head_type == "K" else None),
        "domain": options.domain if variant.head_type == "NK" else None,
        "fit": variant.preprocessing.fit,
        **source,
    }
    return model
