"""Which model a backend computes (variant, weights, options), so that parity compares a backend only
with a reference of the same model.

A graph or engine says it in its model card (:meth:`zoe_export.card.ModelCard.identity`); the
PyTorch reference is described by its options here, in the same terms. Values a card does not
record (older files) are not compared.
"""
from __future__ import annotations

from pathlib import Path

#: what must agree between a backend and its parity reference (height and width are checked per input)
KEYS = ("variant", "weights", "checkpoint_sha256", "random_seed", "max_depth", "domain")


def identity(spec) -> dict[str, str]:
    """The model ``spec`` (a :class:`~.backends.BackendSpec`) computes, as its card spells it."""
    return spec.identity()


def torch_identity(variant: str, options: dict) -> dict[str, str]:
    """The identity of the PyTorch model ``load_model(variant, **options)`` builds."""
    random = options.get("weights") == "random"
    card = {"variant": variant, "weights": "random" if random else "checkpoint",
            "random_seed": str(options.get("seed") or 0) if random else "",
            "max_depth": f"{options['max_depth']:g}" if options.get("max_depth") is not None else "default",
            "domain": options.get("domain") or "auto"}
    if not random:
        card["checkpoint_sha256"] = _checkpoint_sha256(options)
    return {k: v for k, v in card.items() if v}


def _checkpoint_sha256(options: dict) -> str:
    """The pinned hash, else the given file's; unknown for the release download (its variant still counts)."""
    from .._files import file_sha256

    if options.get("sha256"):
        return options["sha256"].lower()
    path = Path(options["checkpoint"]).expanduser() if options.get("checkpoint") else None
    return file_sha256(path) if path is not None and path.is_file() else ""  # a missing file fails on its own later


def mismatches(reference: dict[str, str], other: dict[str, str]) -> list[str]:
    """``key value (the reference: value)`` for every recorded value that differs."""
    return [f"{key} {other[key]} (the reference: {reference[key]})" for key in KEYS
            if key in reference and key in other and reference[key] != other[key]]
