"""A variant's architecture at a size: :class:`ModelOptions` (every default resolved, sizes checked) and
:func:`build_model` (untrained weights). Checkpoints (``_pretrained``) and loading (``_builder``) build on it."""
from __future__ import annotations

import dataclasses
import functools
import logging
import math

import torch

from ..errors import ZoeExportError, option
from ..sizes import DEFAULT_SIZE_RANGE, SizeRange
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
    size_range: SizeRange | None = None  # any model size in the range; height x width is then the default size

    @classmethod
    def resolve(cls, variant: Variant, height=None, width=None, max_depth=None, domain="auto",
                dynamic_size=None) -> "ModelOptions":
        """``dynamic_size``: True (the default range), a range ('256x256:768x1344', a pair of sizes) or None."""
        size_range = _size_range(dynamic_size, height, width)
        if size_range is not None:
            check_size_supported(variant, *size_range.max)
            height, width = size_range.clamp(variant.native_size)
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
        return cls(height, width, max_depth, domain, size_range)


def _size_range(dynamic_size, height, width) -> SizeRange | None:
    if dynamic_size is None or dynamic_size is False:
        return None
    if height is not None or width is not None:
        raise ZoeExportError(
            f"{option('--dynamic-size', 'dynamic_size=')} and {option('--height/--width', 'height=/width=')} exclude "
            "each other: a dynamic-size model takes every size in its range (give the range, e.g. "
            f"{option('--dynamic-size', 'dynamic_size=')} 256x256:768x1344), a fixed one only its size.")
    return DEFAULT_SIZE_RANGE if dynamic_size is True else SizeRange.of(dynamic_size)


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
        return ZoeDepthNK(variant, size, options.size_range)
    head = variant.heads[0]
    if options.max_depth is not None:
        head = dataclasses.replace(head, max_depth=options.max_depth)
    return ZoeDepth(variant, size, head, options.size_range)
