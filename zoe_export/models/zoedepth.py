"""ZoeD_N, ZoeD_K and ZoeD_NK for one fixed input size or a range of sizes, with the official state-dict layout.

``forward(image)`` takes float32 RGB in [0, 1], shape (B, 3, H, W) at the size the model was built
for (or, built with a ``size_range``, any multiple of 32 within it), and returns
``{"metric_depth": (B, 1, H, W)}`` in metres (plus ``"domain_logits"`` (B, 2) for NK). Nothing in
``forward`` depends on data on the host side: it traces and exports as is.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ZoeExportError
from ..sizes import SizeRange, format_size
from ._registry import BinsHeadConfig, Variant
from .dpt import DPT, DptFeatures, upsample
from .metric_bins import AttractorLayer, ConditionalLogBinomial, Projector, SeedBinRegressor, metric_depth
from .router import PatchTransformerEncoder, domain_classifier, route


class DepthCore(nn.Module):
    """MiDaS inside ZoeDepth (``core``): normalisation, then DPT (``core.core``)."""

    def __init__(self, variant: Variant, image_size: tuple[int, int] | None):
        super().__init__()
        self.core = DPT(variant.encoder, variant.decoder, image_size)
        prep = variant.preprocessing
        self.register_buffer("mean", torch.tensor(prep.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(prep.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> DptFeatures:
        return self.core((image - self.mean) / self.std)


def _projectors(variant: Variant, cfg: BinsHeadConfig) -> nn.ModuleList:
    features = variant.decoder.features
    return nn.ModuleList(
        Projector(features, cfg.bin_embedding_dim, cfg.projector_mlp_dim) for _ in cfg.n_attractors
    )


def _attractors(cfg: BinsHeadConfig) -> nn.ModuleList:
    return nn.ModuleList(AttractorLayer(cfg, n) for n in cfg.n_attractors)


def _conditioning_channels(variant: Variant, cfg: BinsHeadConfig) -> int:
    return variant.decoder.out_conv_channels + (1 if cfg.condition_on_rel_depth else 0)


class _ZoeDepthBase(nn.Module):
    """``image_size``: the size built for; with ``size_range``, any size in the range (``image_size`` is
    then the default size: calibration, benchmarks)."""

    def __init__(self, variant: Variant, image_size: tuple[int, int], size_range: SizeRange | None = None):
        super().__init__()
        height, width = image_size
        if height <= 0 or width <= 0 or height % 32 or width % 32:
            raise ValueError(f"image size {height}x{width}: both must be positive multiples of 32")
        self.variant = variant
        self.image_size = (height, width)
        self.size_range = size_range
        self.core = DepthCore(variant, None if size_range is not None else self.image_size)
        features = variant.decoder.features
        self.conv2 = nn.Conv2d(features, features, kernel_size=1)

    def check_input(self, image: torch.Tensor) -> None:
        if self.size_range is not None:
            if image.ndim != 4 or image.shape[1] != 3:
                raise ZoeExportError(f"{self.variant.name} takes images of shape [B, 3, H, W], got {list(image.shape)}.")
            self.size_range.check((image.shape[-2], image.shape[-1]), f"{self.variant.name}: input size")
            return
        height, width = self.image_size
        if image.ndim != 4 or image.shape[1] != 3 or tuple(image.shape[-2:]) != (height, width):
            raise ZoeExportError(
                f"{self.variant.name} was built for images of shape [B, 3, {height}, {width}], got "
                f"{list(image.shape)}. Resize with zoe_export.preprocess.prepare(image, ({height}, {width})) "
                f"or build the model for your size with load_model(..., height=, width=) "
                f"(or for a range of sizes with load_model(..., dynamic_size='{format_size(self.image_size)}:...'))."
            )

    def _last(self, features: DptFeatures, cfg: BinsHeadConfig) -> torch.Tensor:
        if not cfg.condition_on_rel_depth:
            return features.out_conv
        rel = upsample(features.rel_depth, features.out_conv.shape[-2:])
        return torch.cat([features.out_conv, rel], dim=1)


class ZoeDepth(_ZoeDepthBase):
    """ZoeD_N (softplus bins) and ZoeD_K (normed bins): one metric head at the top level."""

    def __init__(self, variant: Variant, image_size: tuple[int, int], head: BinsHeadConfig | None = None,
                 size_range: SizeRange | None = None):
        super().__init__(variant, image_size, size_range)
        cfg = head or variant.heads[0]
        self.head_cfg = cfg
        features = variant.decoder.features
        self.seed_bin_regressor = SeedBinRegressor(features, cfg)
        self.seed_projector = Projector(features, cfg.bin_embedding_dim, cfg.projector_mlp_dim)
        self.projectors = _projectors(variant, cfg)
        self.attractors = _attractors(cfg)
        self.conditional_log_binomial = ConditionalLogBinomial(_conditioning_channels(variant, cfg), cfg)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        self.check_input(image)
        features = self.core(image)
        depth = metric_depth(
            self.conv2(features.bottleneck),
            features.pyramid,
            self._last(features, self.head_cfg),
            seed_bin_regressor=self.seed_bin_regressor,
            seed_projector=self.seed_projector,
            projectors=self.projectors,
            attractors=self.attractors,
            conditional_log_binomial=self.conditional_log_binomial,
            cfg=self.head_cfg,
        )
        return {"metric_depth": depth}


class ZoeDepthNK(_ZoeDepthBase):
    """ZoeD_NK: a router and one metric head per domain, chosen per sample inside the graph.

    With every domain present, all heads run and each sample takes the depth of the head its own
    ``domain_logits`` pick. :meth:`keep_only` fixes one head (the router stays, so
    ``domain_logits`` still says when an input looks like the other domain).
    """

    def __init__(self, variant: Variant, image_size: tuple[int, int], size_range: SizeRange | None = None):
        super().__init__(variant, image_size, size_range)
        features = variant.decoder.features
        shared = variant.heads[0]
        self.head_cfgs = {cfg.domain: cfg for cfg in variant.heads}
        grid = None if size_range is not None else (image_size[0] // 32, image_size[1] // 32)
        self.patch_transformer = PatchTransformerEncoder(features, variant.router, grid)
        self.mlp_classifier = domain_classifier(variant.router, len(variant.heads))
        self.seed_bin_regressors = nn.ModuleDict(
            {cfg.domain: SeedBinRegressor(features, cfg) for cfg in variant.heads}
        )
        self.seed_projector = Projector(features, shared.bin_embedding_dim, shared.projector_mlp_dim)
        self.projectors = _projectors(variant, shared)
        self.attractors = nn.ModuleDict({cfg.domain: _attractors(cfg) for cfg in variant.heads})
        self.conditional_log_binomial = nn.ModuleDict(
            {cfg.domain: ConditionalLogBinomial(_conditioning_channels(variant, cfg), cfg) for cfg in variant.heads}
        )
        #: all domains, in logit order; the heads present are the keys of ``seed_bin_regressors``
        self.domains = tuple(self.head_cfgs)

    @property
    def active_domains(self) -> tuple[str, ...]:
        return tuple(self.seed_bin_regressors.keys())

    def keep_only(self, domain: str) -> None:
        """Drop every head but ``domain``'s."""
        if domain not in self.domains:
            raise ZoeExportError(f"unknown domain {domain!r}: choose one of {', '.join(self.domains)} or 'auto'.")
        for container in (self.seed_bin_regressors, self.attractors, self.conditional_log_binomial):
            for name in list(container.keys()):
                if name != domain:
                    del container[name]

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        self.check_input(image)
        features = self.core(image)
        bottleneck = self.conv2(features.bottleneck)
        domain_logits = self.mlp_classifier(self.patch_transformer(bottleneck)[0])
        depths = [
            metric_depth(
                bottleneck,
                features.pyramid,
                self._last(features, self.head_cfgs[domain]),
                seed_bin_regressor=self.seed_bin_regressors[domain],
                seed_projector=self.seed_projector,
                projectors=self.projectors,
                attractors=self.attractors[domain],
                conditional_log_binomial=self.conditional_log_binomial[domain],
                cfg=self.head_cfgs[domain],
            )
            for domain in self.active_domains
        ]
        depth = depths[0] if len(depths) == 1 else route(domain_logits, depths)
        return {"metric_depth": depth, "domain_logits": domain_logits}
