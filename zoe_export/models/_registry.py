"""The variant registry: every model we build, with the configuration that travels with its weights.

Each :class:`Variant` carries its architecture (encoder, decoder, metric heads, router), its native
input size and depth range, where its checkpoint comes from, and its preprocessing, so that every
later stage (export, engines, benchmarks, apps) reads these facts from one place.

The official releases are ``M12-N``, ``M12-K`` and ``M12-NK`` (ZoeDepth v1.0, BEiT-L/16 backbone).
``test-N``, ``test-K`` and ``test-NK`` are the same architectures at toy width, for tests that must
run in milliseconds; they have no checkpoint.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from ..errors import ZoeExportError


@dataclass(frozen=True)
class BeitConfig:
    """BEiT encoder (MiDaS "DPT_BEiT_L_384")."""

    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: int = 4
    patch_size: int = 16
    #: patch grid the relative-position tables were trained for (384x384 images)
    pretrain_grid: tuple[int, int] = (24, 24)
    #: blocks whose outputs feed the decoder (0-based)
    hooks: tuple[int, ...] = (5, 11, 17, 23)
    #: the unused ImageNet head, kept so that checkpoints load strictly
    num_classes: int = 1000
    layer_norm_eps: float = 1e-6


@dataclass(frozen=True)
class DptConfig:
    """DPT reassemble, fusion and head."""

    reassemble_channels: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    features: int = 256
    #: channels of the head's last hidden map (the "out_conv" tap ZoeDepth conditions on)
    out_conv_channels: int = 32


@dataclass(frozen=True)
class BinsHeadConfig:
    """One metric-bins head: seed bins, attractor refinement, conditional log-binomial."""

    domain: str
    #: "softplus" (unbounded bin centres, N and NK) or "normed" (bounded, K)
    bin_centers: str
    n_bins: int = 64
    min_depth: float = 1e-3
    max_depth: float = 10.0
    n_attractors: tuple[int, ...] = (16, 8, 4, 1)
    bin_embedding_dim: int = 128
    seed_mlp_dim: int = 256
    projector_mlp_dim: int = 128
    attractor_mlp_dim: int = 128
    #: N and K condition the output on MiDaS relative depth, NK does not
    condition_on_rel_depth: bool = True
    bottleneck_factor: int = 2
    min_temp: float = 0.0212
    max_temp: float = 50.0
    #: f(dx) = dx / (1 + alpha * dx**gamma). The configs say alpha=1000, but the official layers
    #: call the function without it, so its defaults (300, 2) are what the checkpoints compute.
    attractor_alpha: float = 300.0
    attractor_gamma: int = 2


@dataclass(frozen=True)
class RouterConfig:
    """ZoeD_NK's domain classifier: patch transformer on the bottleneck, MLP on token 0."""

    embedding_dim: int = 128
    num_heads: int = 4
    ff_dim: int = 1024
    num_layers: int = 4
    layer_norm_eps: float = 1e-5
    hidden_dim: int = 128


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the model input, and how the output goes back to the image."""

    #: normalisation done inside the model: (x - mean) / std on RGB in [0, 1]
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    multiple_of: int = 32
    #: to a fixed model size: "stretch" (bilinear, align_corners=True, as MiDaS resizes) or
    #: "letterbox" (keep aspect, pad by reflection)
    fit: str = "stretch"
    #: back to the image size, as the official infer() does
    output_interpolation: str = "bicubic"
    #: infer()'s reflect padding: int(sqrt(H/2) * pad_factor) rows, likewise columns
    pad_factor: float = 3.0


@dataclass(frozen=True)
class CheckpointRef:
    url: str
    filename: str
    #: sha256 of the release file; None where none is published (recorded on first download)
    sha256: str | None = None


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    native_size: tuple[int, int]
    heads: tuple[BinsHeadConfig, ...]
    encoder: BeitConfig = field(default_factory=BeitConfig)
    decoder: DptConfig = field(default_factory=DptConfig)
    router: RouterConfig | None = None
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    checkpoint: CheckpointRef | None = None
    #: a toy-width test variant
    tiny: bool = False

    @property
    def head_type(self) -> str:
        """"N", "K" or "NK": the official model family."""
        if self.router is not None:
            return "NK"
        return "K" if self.heads[0].bin_centers == "normed" else "N"

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(h.domain for h in self.heads)

    @property
    def depth_range(self) -> tuple[float, float]:
        """Nominal depth range in metres (K clips to it; N and NK bins are unbounded)."""
        return min(h.min_depth for h in self.heads), max(h.max_depth for h in self.heads)

    def head(self, domain: str) -> BinsHeadConfig:
        for h in self.heads:
            if h.domain == domain:
                return h
        raise KeyError(domain)


_RELEASE = "https://github.com/isl-org/ZoeDepth/releases/download/v1.0/"

_NYU = BinsHeadConfig(domain="nyu", bin_centers="softplus", max_depth=10.0)
_KITTI = BinsHeadConfig(domain="kitti", bin_centers="normed", max_depth=80.0)


def _nk_head(domain: str, max_depth: float, **tiny) -> BinsHeadConfig:
    # NK: smaller seed/projector MLPs, 16 attractors at every level (the configured [16, 8, 4, 1]
    # lands in the wrong argument), no relative-depth conditioning, bottleneck factor 4.
    return BinsHeadConfig(
        domain=domain,
        bin_centers="softplus",
        max_depth=max_depth,
        condition_on_rel_depth=False,
        bottleneck_factor=4,
        **{"n_attractors": (16, 16, 16, 16), "seed_mlp_dim": 64, "projector_mlp_dim": 64, **tiny},
    )


_TINY_ENCODER = BeitConfig(
    embed_dim=32, depth=4, num_heads=2, pretrain_grid=(4, 4), hooks=(0, 1, 2, 3), num_classes=10
)
_TINY_DECODER = DptConfig(reassemble_channels=(8, 16, 32, 32), features=16, out_conv_channels=8)
_TINY_BINS = dict(n_bins=16, bin_embedding_dim=16, seed_mlp_dim=16, projector_mlp_dim=16, attractor_mlp_dim=16)
_TINY_NK = dict(n_bins=16, bin_embedding_dim=16, seed_mlp_dim=8, projector_mlp_dim=8, attractor_mlp_dim=16,
                n_attractors=(4, 4, 4, 4))
_TINY_ROUTER = RouterConfig(embedding_dim=16, num_heads=2, ff_dim=32, num_layers=2, hidden_dim=16)
_TINY_SIZE = (64, 96)


def _official(head: str, description: str, size: tuple[int, int], heads, router=None) -> Variant:
    filename = f"ZoeD_M12_{head}.pt"
    return Variant(
        name=f"M12-{head}",
        description=description,
        native_size=size,
        heads=heads,
        router=router,
        checkpoint=CheckpointRef(url=_RELEASE + filename, filename=filename),
    )


_VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _official("N", "ZoeD_N: indoor (NYU Depth v2), softplus bins", (384, 512), (_NYU,)),
        _official("K", "ZoeD_K: outdoor (KITTI), normed bins in [1e-3, max_depth]", (384, 768), (_KITTI,)),
        _official(
            "NK",
            "ZoeD_NK: indoor and outdoor heads with a learned router",
            (384, 512),
            (_nk_head("nyu", 10.0), _nk_head("kitti", 80.0)),
            router=RouterConfig(),
        ),
        Variant(
            name="test-N", description="toy-width ZoeD_N for tests", native_size=_TINY_SIZE,
            heads=(BinsHeadConfig(domain="nyu", bin_centers="softplus", **_TINY_BINS),),
            encoder=_TINY_ENCODER, decoder=_TINY_DECODER, tiny=True,
        ),
        Variant(
            name="test-K", description="toy-width ZoeD_K for tests", native_size=_TINY_SIZE,
            heads=(BinsHeadConfig(domain="kitti", bin_centers="normed", max_depth=80.0, **_TINY_BINS),),
            encoder=_TINY_ENCODER, decoder=_TINY_DECODER, tiny=True,
        ),
        Variant(
            name="test-NK", description="toy-width ZoeD_NK for tests", native_size=_TINY_SIZE,
            heads=(_nk_head("nyu", 10.0, **_TINY_NK), _nk_head("kitti", 80.0, **_TINY_NK)),
            encoder=_TINY_ENCODER, decoder=_TINY_DECODER, router=_TINY_ROUTER, tiny=True,
        ),
    )
}


def list_variants(include_tiny: bool = False) -> list[str]:
    return [name for name, v in _VARIANTS.items() if include_tiny or not v.tiny]


def _canonical(name: str) -> str:
    """'zoed_m12_nk', 'ZoeD_M12_NK.pt', 'm12-nk' -> 'M12-NK'."""
    key = re.sub(r"\.pt$", "", name.strip(), flags=re.IGNORECASE)
    key = re.sub(r"^zoed[_-]", "", key, flags=re.IGNORECASE).replace("_", "-")
    for known in _VARIANTS:
        if known.lower() == key.lower():
            return known
    return name


def get_variant(name: str | Variant) -> Variant:
    """Look a variant up by name (case and ``ZoeD_`` prefix forgiven); suggest the close one."""
    if isinstance(name, Variant):
        return name
    key = _canonical(str(name))
    if key in _VARIANTS:
        return _VARIANTS[key]
    close = difflib.get_close_matches(key.upper(), [k.upper() for k in _VARIANTS], n=1, cutoff=0.4)
    hint = ""
    if close:
        hint = f" Did you mean {next(k for k in _VARIANTS if k.upper() == close[0])!r}?"
    raise ZoeExportError(
        f"unknown variant {name!r}.{hint} Known variants: {', '.join(list_variants(include_tiny=True))}."
    )
