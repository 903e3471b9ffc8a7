"""ZoeD_NK's router: which metric head (NYU or KITTI) an image belongs to.

A 1x1 conv embeds the conditioned bottleneck (256 -> 128 channels), a zero token is prepended, a
fixed sinusoidal position encoding (sin and cos halves concatenated) is added, four post-norm
transformer encoder layers run (d 128, 4 heads, ff 1024, ReLU, LayerNorm eps 1e-5), and token 0
goes through Linear-ReLU-Linear to two domain logits (0 = nyu, 1 = kitti).

Names follow the official state dict (``patch_transformer.transformer_encoder.layers.0.self_attn
.in_proj_weight``...). The layers are written out rather than taken from ``nn.TransformerEncoder``
so that they export as plain MatMul/Softmax/LayerNormalization; a test checks them against
PyTorch's own implementation.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import RouterConfig


def sinusoidal_position_encoding(length, dim: int) -> torch.Tensor:
    """(length, 1, dim): [sin(pos * w_j), cos(pos * w_j)], w_j = exp(-2j ln(10000) / dim)."""
    position = torch.arange(0, length, dtype=torch.float32).unsqueeze(1)
    index = torch.arange(0, dim, 2, dtype=torch.float32).unsqueeze(0)
    div_term = torch.exp(index * (-torch.log(torch.tensor(10000.0)) / dim))
    angles = position * div_term
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).unsqueeze(1)


class SelfAttention(nn.Module):
    """Multi-head self-attention with nn.MultiheadAttention's parameter layout, sequence-first."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length, batch, dim = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)

        def heads(t: torch.Tensor) -> torch.Tensor:  # (S, B, D) -> (B, heads, S, D/heads)
            return t.reshape(length, batch * self.num_heads, -1).transpose(0, 1).unflatten(0, (-1, self.num_heads))

        out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
        out = out.permute(2, 0, 1, 3).reshape(length, batch, dim)
        return self.out_proj(out)


class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer (nn.TransformerEncoderLayer defaults, eval mode)."""

    def __init__(self, cfg: RouterConfig):
        super().__init__()
        d = cfg.embedding_dim
        self.self_attn = SelfAttention(d, cfg.num_heads)
        self.linear1 = nn.Linear(d, cfg.ff_dim)
        self.linear2 = nn.Linear(cfg.ff_dim, d)
        self.norm1 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.norm2 = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.self_attn(x))
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: RouterConfig):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class PatchTransformerEncoder(nn.Module):
    """Bottleneck map (B, C, h, w) -> token sequence (1 + h*w, B, E), token 0 a learned summary."""

    def __init__(self, in_channels: int, cfg: RouterConfig, grid: tuple[int, int] | None):
        """``grid`` None: any bottleneck size (the position encoding is computed for each input's length)."""
        super().__init__()
        self.embedding_convPxP = nn.Conv2d(in_channels, cfg.embedding_dim, kernel_size=1)
        self.transformer_encoder = TransformerEncoder(cfg)
        self.embedding_dim = cfg.embedding_dim
        self.fixed = grid is not None
        if self.fixed:
            length = grid[0] * grid[1] + 1
            self.register_buffer(
                "position_encoding", sinusoidal_position_encoding(length, cfg.embedding_dim), persistent=False
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = F.pad(self.embedding_convPxP(x).flatten(2), (1, 0))  # zero token first
        tokens = tokens.permute(2, 0, 1)
        encoding = self.position_encoding if self.fixed else sinusoidal_position_encoding(
            tokens.shape[0], self.embedding_dim).to(tokens)
        return self.transformer_encoder(tokens + encoding)


def domain_classifier(cfg: RouterConfig, n_domains: int) -> nn.Sequential:
    """``mlp_classifier``: Linear-ReLU-Linear on token 0 -> (B, n_domains) logits."""
    return nn.Sequential(nn.Linear(cfg.embedding_dim, cfg.hidden_dim), nn.ReLU(), nn.Linear(cfg.hidden_dim, n_domains))


def route(domain_logits: torch.Tensor, depths: list[torch.Tensor]) -> torch.Tensor:
    """Per sample, the depth of the head its own logits pick (argmax of the softmax, ties to 0).

    Official ZoeD_NK sums the logits over the batch and picks one head on the host; for a batch of
    one the choice is the same. Here both heads have run and the choice stays in the graph.
    """
    choice = torch.argmax(torch.softmax(domain_logits, dim=-1), dim=-1)
    picked = depths[-1]
    for index in range(len(depths) - 2, -1, -1):
        picked = torch.where((choice == index).view(-1, 1, 1, 1), depths[index], picked)
    return picked

