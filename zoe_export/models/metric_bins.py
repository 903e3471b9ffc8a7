"""ZoeDepth's metric-bins head: seed bins, attractor refinement, conditional log-binomial output.

Written to compute exactly what the official layers compute (see ZOEDEPTH.md), including:

* the attractor function actually used is f(dx) = dx / (1 + 300 dx^2) (alpha 300, not the
  configured 1000), averaged over the attractors;
* K ("normed" bins) predicts 2 channels per attractor and uses only the even ones, propagates the
  normalised centres unsorted and unclipped, and returns sort + clip of the last level;
* the log-binomial uses a Stirling-style log C(n, k) with 1e-7 offsets, not lgamma.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import BinsHeadConfig
from .dpt import upsample


def _mlp(c_in: int, hidden: int, c_out: int, out_act: nn.Module | None) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, hidden, kernel_size=1), nn.ReLU(), nn.Conv2d(hidden, c_out, kernel_size=1)]
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


class Projector(nn.Module):
    def __init__(self, c_in: int, c_out: int, mlp_dim: int):
        super().__init__()
        self._net = _mlp(c_in, mlp_dim, c_out, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._net(x)


class SeedBinRegressor(nn.Module):
    """Seed bin centres from the bottleneck: softplus (unbounded) or normed widths in [min, max]."""

    def __init__(self, c_in: int, cfg: BinsHeadConfig):
        super().__init__()
        self.normed = cfg.bin_centers == "normed"
        self.min_depth, self.max_depth = cfg.min_depth, cfg.max_depth
        self._net = _mlp(c_in, cfg.seed_mlp_dim, cfg.n_bins, nn.ReLU() if self.normed else nn.Softplus())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._net(x)
        if not self.normed:
            return out
        widths = out + 1e-3
        widths = widths / widths.sum(dim=1, keepdim=True)
        widths = (self.max_depth - self.min_depth) * widths
        widths = F.pad(widths, (0, 0, 0, 0, 1, 0), mode="constant", value=self.min_depth)
        edges = torch.cumsum(widths, dim=1)
        return 0.5 * (edges[:, :-1] + edges[:, 1:])


def inv_attractor(dx: torch.Tensor, alpha: float = 300.0) -> torch.Tensor:
    """f(dx) = dx / (1 + alpha dx^2), the inverse attractor with gamma = 2."""
    return dx / (1 + alpha * (dx * dx))


class AttractorLayer(nn.Module):
    """Moves every bin centre towards this level's attractor points: c += mean_a f(a - c)."""

    def __init__(self, cfg: BinsHeadConfig, n_attractors: int):
        super().__init__()
        if cfg.attractor_gamma != 2:
            raise ValueError("only gamma = 2 (what the official checkpoints use) is implemented")
        self.normed = cfg.bin_centers == "normed"
        self.n_attractors = n_attractors
        self.alpha = cfg.attractor_alpha
        self.min_depth, self.max_depth = cfg.min_depth, cfg.max_depth
        channels = 2 * n_attractors if self.normed else n_attractors
        out_act = nn.ReLU() if self.normed else nn.Softplus()
        self._net = _mlp(cfg.bin_embedding_dim, cfg.attractor_mlp_dim, channels, out_act)

    def forward(
        self, embedding: torch.Tensor, centers: torch.Tensor, prev_embedding: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (centres to propagate, centres in metres). They differ only for normed bins."""
        size = embedding.shape[-2:]
        attractors = self._net(embedding + upsample(prev_embedding, size))
        if self.normed:
            # (B, 2n, h, w) viewed as (B, n, 2, h, w); the official code keeps channel 0 of each pair.
            attractors = (attractors + 1e-3).unflatten(1, (self.n_attractors, 2))[:, :, 0]
        centers = upsample(centers, size)
        delta = inv_attractor(attractors.unsqueeze(2) - centers.unsqueeze(1), self.alpha).mean(dim=1)
        centers = centers + delta
        if not self.normed:
            return centers, centers
        metres = (self.max_depth - self.min_depth) * centers + self.min_depth
        metres = torch.sort(metres, dim=1).values
        return centers, torch.clip(metres, self.min_depth, self.max_depth)


def log_binomial_coefficient(n: torch.Tensor, k: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """log C(n, k) in the official Stirling form (no lgamma)."""
    n = n + eps
    k = k + eps
    return n * torch.log(n) - k * torch.log(k) - (n - k) * torch.log(n - k + eps)


class LogBinomial(nn.Module):
    """softmax over k of log Binomial(k; K-1, p) / t: a unimodal distribution over the bins."""

    def __init__(self, n_classes: int):
        super().__init__()
        self.n_classes = n_classes
        self.register_buffer("k_idx", torch.arange(n_classes).view(1, -1, 1, 1))
        self.register_buffer("K_minus_1", torch.tensor([float(n_classes - 1)]).view(1, -1, 1, 1))

    def forward(self, p: torch.Tensor, t: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
        one_minus_p = torch.clamp(1 - p, eps, 1.0)
        p = torch.clamp(p, eps, 1.0)
        k = self.k_idx
        y = (
            log_binomial_coefficient(self.K_minus_1, k)
            + k * torch.log(p)
            + (self.n_classes - 1 - k) * torch.log(one_minus_p)
        )
        return torch.softmax(y / t, dim=1)


class ConditionalLogBinomial(nn.Module):
    """Per-pixel (p, temperature) from features + bin embedding -> bin probabilities."""

    def __init__(self, c_in: int, cfg: BinsHeadConfig, p_eps: float = 1e-4):
        super().__init__()
        self.p_eps = p_eps
        self.min_temp, self.max_temp = cfg.min_temp, cfg.max_temp
        self.log_binomial_transform = LogBinomial(cfg.n_bins)
        c_total = c_in + cfg.bin_embedding_dim
        bottleneck = c_total // cfg.bottleneck_factor
        self.mlp = nn.Sequential(
            nn.Conv2d(c_total, bottleneck, kernel_size=1),
            nn.GELU(),
            nn.Conv2d(bottleneck, 4, kernel_size=1),
            nn.Softplus(),
        )

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        pt = self.mlp(torch.cat((x, condition), dim=1)) + self.p_eps
        p = pt[:, 0:1] / (pt[:, 0:1] + pt[:, 1:2])
        t = pt[:, 2:3] / (pt[:, 2:3] + pt[:, 3:4])
        t = (self.max_temp - self.min_temp) * t + self.min_temp
        return self.log_binomial_transform(p, t)


def metric_depth(
    bottleneck: torch.Tensor,
    pyramid: tuple[torch.Tensor, ...],
    last: torch.Tensor,
    *,
    seed_bin_regressor: SeedBinRegressor,
    seed_projector: Projector,
    projectors: nn.ModuleList,
    attractors: nn.ModuleList,
    conditional_log_binomial: ConditionalLogBinomial,
    cfg: BinsHeadConfig,
) -> torch.Tensor:
    """Depth in metres (B, 1, H, W) from the conditioned bottleneck, the fusion pyramid and ``last``.

    N and K hold the head's modules at the top level of the model; NK holds one set per domain in
    ModuleDicts and shares the projectors; both pass theirs in here.
    """
    centers = seed_bin_regressor(bottleneck)
    if cfg.bin_centers == "normed":
        centers = (centers - cfg.min_depth) / (cfg.max_depth - cfg.min_depth)
    prev_embedding = seed_projector(bottleneck)
    for projector, attractor, features in zip(projectors, attractors, pyramid):
        embedding = projector(features)
        centers, metres = attractor(embedding, centers, prev_embedding)
        prev_embedding = embedding
    size = last.shape[-2:]
    probs = conditional_log_binomial(last, upsample(embedding, size))
    return torch.sum(probs * upsample(metres, size), dim=1, keepdim=True)
