"""Build a variant at a size and load its weights: :func:`load_model`, the public entry point."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from ..errors import ZoeExportError
from ._pretrained import (
    check_state_dict,
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
        if height <= 0 or width <= 0 or height % 32 or width % 32:
            raise ZoeExportError(
                f"--height/--width {height}x{width}: both must be positive multiples of 32 "
                f"(native size of {variant.name}: {variant.native_size[0]}x{variant.native_size[1]})."
            )
        domain = domain or "auto"
        if domain not in DOMAIN_CHOICES:
            raise ZoeExportError(f"--domain {domain!r}: choose one of {', '.join(DOMAIN_CHOICES)}.")
        if domain != "auto" and variant.head_type != "NK":
            raise ZoeExportError(
                f"--domain applies to the NK variants only: {variant.name} has a single "
                f"({variant.heads[0].domain}) head. Drop --domain, or use M12-NK."
            )
        if max_depth is not None:
            if variant.head_type != "K":
                raise ZoeExportError(
                    f"--max-depth applies to K variants only: {variant.name}'s bins are unbounded "
                    f"(softplus), so there is no maximum depth to set. Drop --max-depth."
                )
            max_depth = float(max_depth)
            if not max_depth > variant.heads[0].min_depth:
                raise ZoeExportError(f"--max-depth {max_depth} must be above the minimum depth {variant.heads[0].min_depth}.")
        return cls(height, width, max_depth, domain)


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


def _weights(variant: Variant, model: torch.nn.Module, checkpoint, weights, sha256, seed: int):
    """The state dict to load and the provenance of the weights."""
    if checkpoint is not None and weights is not None:
        raise ZoeExportError("pass either checkpoint= (a file) or weights= ('random' or a state dict), not both.")
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
    path = Path(checkpoint).expanduser() if checkpoint is not None else fetch_checkpoint(variant)
    if not path.is_file():
        raise ZoeExportError(f"checkpoint {path} does not exist. Pass the path of the {variant.name} checkpoint file.")
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
    seed: int = 0,
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
        seed: the seed of ``weights="random"``.

    The returned module's ``forward(image)`` takes float32 (B, 3, H, W) RGB in [0, 1] and returns
    ``{"metric_depth": (B, 1, H, W)}`` in metres (and ``"domain_logits"`` (B, 2) for NK).
    ``model.provenance`` records what was built and from which weights.
    """
    variant = get_variant(variant)
    options = ModelOptions.resolve(variant, height, width, max_depth, domain)
    model = build_model(variant, options)
    state_dict, source = _weights(variant, model, checkpoint, weights, sha256, seed)
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
