"""DPT decoder on the BEiT encoder (MiDaS v3.1 "DPT_BEiT_L_384"): reassemble, fusion, head.

Module and parameter names follow the official state dict (``pretrained.act_postprocess1.0...``,
``scratch.refinenet4.resConfUnit1...``), so the checkpoints load without any key mapping.
All spatial sizes follow from the input size: fixed at construction, or (``image_size=None``) taken
from each input.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import BeitConfig, DptConfig
from .beit import Beit


def upsample(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize with align_corners=True: the one ZoeDepth and MiDaS use everywhere."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class ProjectReadout(nn.Module):
    """Readout "project": each patch token concatenated with the class token, Linear, GELU."""

    def __init__(self, dim: int):
        super().__init__()
        self.project = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = x[:, 1:]
        readout = x[:, :1].expand_as(patches)
        return self.project(torch.cat((patches, readout), dim=-1))


class TokensToGrid(nn.Module):
    """(B, N, C) tokens -> (B, C, grid_h, grid_w) map (MiDaS: Transpose(1, 2) then Unflatten)."""

    def __init__(self, grid: tuple[int, int] | None):
        super().__init__()
        self.grid = grid

    def forward(self, x: torch.Tensor, grid=None) -> torch.Tensor:
        return x.transpose(1, 2).unflatten(2, grid or self.grid)


def _reassemble(dim: int, channels: int, grid: tuple[int, int] | None, resample: nn.Module | None) -> nn.Sequential:
    # Indices 0, 3 and 4 carry weights in the checkpoints; 1 and 2 are MiDaS's Transpose and Unflatten.
    layers = [ProjectReadout(dim), nn.Identity(), TokensToGrid(grid), nn.Conv2d(dim, channels, kernel_size=1)]
    if resample is not None:
        layers.append(resample)
    return nn.Sequential(*layers)


class BeitBackbone(nn.Module):
    """``pretrained``: the encoder plus the four reassemble branches (1/4, 1/8, 1/16, 1/32 scale)."""

    def __init__(self, encoder: BeitConfig, decoder: DptConfig, image_size: tuple[int, int] | None):
        super().__init__()
        self.model = Beit(encoder, image_size)
        dim, grid = encoder.embed_dim, self.model.grid
        c1, c2, c3, c4 = decoder.reassemble_channels
        self.act_postprocess1 = _reassemble(dim, c1, grid, nn.ConvTranspose2d(c1, c1, kernel_size=4, stride=4))
        self.act_postprocess2 = _reassemble(dim, c2, grid, nn.ConvTranspose2d(c2, c2, kernel_size=2, stride=2))
        self.act_postprocess3 = _reassemble(dim, c3, grid, None)
        self.act_postprocess4 = _reassemble(dim, c4, grid, nn.Conv2d(c4, c4, kernel_size=3, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        grid = self.model.grid_of(x)
        tokens = self.model(x)
        branches = (self.act_postprocess1, self.act_postprocess2, self.act_postprocess3, self.act_postprocess4)
        # readout, then tokens -> map at this input's grid, then the convolutions
        return [branch[3:](branch[2](branch[0](t), grid)) for branch, t in zip(branches, tokens)]


class ResidualConvUnit(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(features, features, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + x


class FeatureFusionBlock(nn.Module):
    """out = x0 (+ RCU1(x1)); RCU2; bilinear resize (align_corners=True) to ``size`` or x2; 1x1 conv."""

    def __init__(self, features: int):
        super().__init__()
        self.resConfUnit1 = ResidualConvUnit(features)  # unused in refinenet4, present in the checkpoints
        self.resConfUnit2 = ResidualConvUnit(features)
        self.out_conv = nn.Conv2d(features, features, kernel_size=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None, size=None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            size = (2 * x.shape[-2], 2 * x.shape[-1])
        return self.out_conv(upsample(x, size))


class Upsample2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample(x, (2 * x.shape[-2], 2 * x.shape[-1]))


class Scratch(nn.Module):
    """``scratch``: 3x3 projections to ``features`` channels, four fusion blocks and the head."""

    def __init__(self, cfg: DptConfig):
        super().__init__()
        f = cfg.features
        for i, channels in enumerate(cfg.reassemble_channels, start=1):
            setattr(self, f"layer{i}_rn", nn.Conv2d(channels, f, kernel_size=3, padding=1, bias=False))
        for i in range(1, 5):
            setattr(self, f"refinenet{i}", FeatureFusionBlock(f))
        # Indices 0, 2, 4 carry weights; index 3's output is the "out_conv" tap ZoeDepth reads.
        self.output_conv = nn.Sequential(
            nn.Conv2d(f, f // 2, kernel_size=3, padding=1),
            Upsample2x(),
            nn.Conv2d(f // 2, cfg.out_conv_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(cfg.out_conv_channels, 1, kernel_size=1),
            nn.ReLU(),
        )


class DptFeatures(NamedTuple):
    """What ZoeDepth taps from MiDaS."""

    rel_depth: torch.Tensor  # (B, 1, H, W) relative (inverse) depth
    out_conv: torch.Tensor  # (B, out_conv_channels, H, W) last hidden map of the head
    bottleneck: torch.Tensor  # (B, features, H/32, W/32) layer4_rn output
    pyramid: tuple[torch.Tensor, ...]  # refinenet4..1 outputs, H/16 .. H/2


class DPT(nn.Module):
    def __init__(self, encoder: BeitConfig, decoder: DptConfig, image_size: tuple[int, int] | None):
        super().__init__()
        self.pretrained = BeitBackbone(encoder, decoder, image_size)
        self.scratch = Scratch(decoder)

    def forward(self, x: torch.Tensor) -> DptFeatures:
        s = self.scratch
        l1, l2, l3, l4 = self.pretrained(x)
        l1, l2, l3, l4 = s.layer1_rn(l1), s.layer2_rn(l2), s.layer3_rn(l3), s.layer4_rn(l4)
        r4 = s.refinenet4(l4, size=l3.shape[2:])
        r3 = s.refinenet3(r4, l3, size=l2.shape[2:])
        r2 = s.refinenet2(r3, l2, size=l1.shape[2:])
        r1 = s.refinenet1(r2, l1)
        out_conv = s.output_conv[:4](r1)
        rel_depth = s.output_conv[4:](out_conv)
        return DptFeatures(rel_depth, out_conv, l4, (r4, r3, r2, r1))
