"""Load a variant's weights into its architecture: :func:`load_model`, the public entry point."""
from __future__ import annotations

import logging
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
from ._architecture import ModelOptions, build_model
from ._registry import Variant, get_variant

log = logging.getLogger("zoe_export")

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
    dynamic_size=None,
) -> torch.nn.Module:
    """A ZoeDepth model in eval mode, built for one input size (or a range of them), weights loaded strictly.

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
        dynamic_size: any input size in a range instead of one: True for the default range
            (256x256 to 768x1344), or 'MIN_HxMIN_W:MAX_HxMAX_W' (multiples of 32). Excludes
            ``height``/``width``. The relative-position tables are resampled for each input's grid as
            the official model does (cached per size in eager mode); exported, the graph takes any
            size in the range.

    The returned module's ``forward(image)`` takes float32 (B, 3, H, W) RGB in [0, 1] and returns
    ``{"metric_depth": (B, 1, H, W)}`` in metres (and ``"domain_logits"`` (B, 2) for NK).
    ``model.provenance`` records what was built and from which weights.
    """
    variant = get_variant(variant)
    options = ModelOptions.resolve(variant, height, width, max_depth, domain, dynamic_size)
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
        "size_range": None if options.size_range is None else options.size_range.text,
        "max_depth": options.max_depth if options.max_depth is not None else (
            variant.heads[0].max_depth if variant.head_type == "K" else None),
        "domain": options.domain if variant.head_type == "NK" else None,
        "fit": variant.preprocessing.fit,
        **source,
    }
    return model


def at_size(model: torch.nn.Module, height: int, width: int) -> torch.nn.Module:
    """A fixed-size copy of ``model`` (from :func:`load_model`) at ``height`` x ``width``, with its weights.

    A dynamic-size model is verified against these: the same weights, built for one size as a
    fixed-size export is.
    """
    p = model.provenance
    options = ModelOptions.resolve(model.variant, height, width, p.get("max_depth") if model.variant.head_type == "K"
                                   else None, p.get("domain") or "auto")
    fixed = build_model(model.variant, options)
    if options.domain != "auto":
        fixed.keep_only(options.domain)
    fixed.load_state_dict(model.state_dict(), strict=True)
    fixed.eval().requires_grad_(False)
    fixed.provenance = {**p, "height": height, "width": width, "size_range": None}
    return fixed
