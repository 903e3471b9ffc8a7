"""BEiT-L/16 encoder, as MiDaS v3.1 runs it inside ZoeDepth, for one fixed input size.

Differences from a textbook ViT, all as the official checkpoints compute them:

* no absolute position embedding; every block has its own relative-position bias table, trained
  for a 24x24 patch grid and resampled (bilinear, align_corners=False) to the actual grid;
* the qkv projection has no bias of its own: the bias is concat(q_bias, 0, v_bias);
* layer scale (``gamma_1``, ``gamma_2``) on both residual branches, LayerNorm eps 1e-6, exact GELU.

For a fixed input size the resampled tables and the relative-position index are constants, so they
are computed once (when the weights are loaded) and kept as non-persistent buffers; ``forward`` only
gathers. The gathered (heads, N, N) bias itself is never stored: it would be 38 MB per block at
384x512, 0.9 GB for the 24 blocks.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import BeitConfig


def relative_position_index(grid_h: int, grid_w: int) -> torch.Tensor:
    """BEiT's (N+1, N+1) index into the relative-position table, N = grid_h * grid_w.

    For query patch i and key patch j, with dy = y_i - y_j and dx = x_i - x_j, the index is
    (dy + grid_h - 1) * (2 grid_w - 1) + (dx + grid_w - 1). The class token has three entries at
    the end of the table: n-3 for class -> patch (row 0), n-2 for patch -> class (column 0), n-1
    for class -> class, where n = (2 grid_h - 1)(2 grid_w - 1) + 3.
    """
    ys, xs = torch.meshgrid(torch.arange(grid_h), torch.arange(grid_w), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :]
    dx = xs[:, None] - xs[None, :]
    num_relative = (2 * grid_h - 1) * (2 * grid_w - 1) + 3
    index = torch.empty((grid_h * grid_w + 1,) * 2, dtype=torch.long)
    index[1:, 1:] = (dy + grid_h - 1) * (2 * grid_w - 1) + (dx + grid_w - 1)
    index[0, :] = num_relative - 3
    index[:, 0] = num_relative - 2
    index[0, 0] = num_relative - 1
    return index


def resample_relative_position_table(
    table: torch.Tensor, pretrain_grid: tuple[int, int], grid: tuple[int, int]
) -> torch.Tensor:
    """Resample a ((2P_h-1)(2P_w-1) + 3, heads) table to ``grid``, as MiDaS does every forward.

    The patch part is viewed as an image of (2P_h-1) x (2P_w-1) per head and resized bilinearly
    (align_corners=False) to (2g_h-1) x (2g_w-1); the three class-token rows are kept.
    """
    old_h, old_w = 2 * pretrain_grid[0] - 1, 2 * pretrain_grid[1] - 1
    new_h, new_w = 2 * grid[0] - 1, 2 * grid[1] - 1
    patch_rows = table[: old_h * old_w]
    # MiDaS reshapes as (1, old_w, old_h, heads); the trained grid is square, so this is the same.
    image = patch_rows.reshape(1, old_h, old_w, -1).permute(0, 3, 1, 2)
    resized = F.interpolate(image, size=(new_h, new_w), mode="bilinear")
    resized = resized.permute(0, 2, 3, 1).reshape(new_h * new_w, -1)
    return torch.cat([resized, table[old_h * old_w :]])


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


def _refresh_after_load(module: "Attention", incompatible_keys) -> None:
    module.refresh_grid_bias_table()


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, pretrain_grid: tuple[int, int], grid: tuple[int, int]):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.pretrain_grid = pretrain_grid
        self.grid = grid
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.register_buffer("k_bias", torch.zeros(dim), persistent=False)
        num_pretrain = (2 * pretrain_grid[0] - 1) * (2 * pretrain_grid[1] - 1) + 3
        self.relative_position_bias_table = nn.Parameter(torch.zeros(num_pretrain, num_heads))
        # Stored in the official checkpoints for the 24x24 grid; never used (the index is regenerated
        # for the actual grid), kept so the checkpoints load strictly.
        self.register_buffer("relative_position_index", relative_position_index(*pretrain_grid))
        num_grid = (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3
        # (heads, num_grid): the table resampled to this grid, transposed so one Gather yields (heads, N, N)
        self.register_buffer("grid_bias_table", torch.zeros(num_heads, num_grid), persistent=False)
        self.proj = nn.Linear(dim, dim)
        self.register_load_state_dict_post_hook(_refresh_after_load)

    @torch.no_grad()
    def refresh_grid_bias_table(self) -> None:
        """Recompute the resampled table from ``relative_position_bias_table`` (after loading weights)."""
        table = resample_relative_position_table(self.relative_position_bias_table, self.pretrain_grid, self.grid)
        self.grid_bias_table = table.t().contiguous().to(self.grid_bias_table.dtype)

    def forward(self, x: torch.Tensor, grid_index: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        qkv = qkv.reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.grid_bias_table.index_select(1, grid_index)  # one Gather: (heads, N*N)
        attn = attn + bias.view(1, self.num_heads, tokens, tokens)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(batch, tokens, dim)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: BeitConfig, grid: tuple[int, int]):
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.attn = Attention(dim, cfg.num_heads, cfg.pretrain_grid, grid)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.mlp = Mlp(dim, dim * cfg.mlp_ratio)
        self.gamma_1 = nn.Parameter(torch.ones(dim))
        self.gamma_2 = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor, grid_index: torch.Tensor) -> torch.Tensor:
        x = x + self.gamma_1 * self.attn(self.norm1(x), grid_index)
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class Beit(nn.Module):
    """The encoder: patch embedding, class token, blocks. Returns the tokens of the hooked blocks."""

    def __init__(self, cfg: BeitConfig, image_size: tuple[int, int]):
        super().__init__()
        self.cfg = cfg
        self.grid = (image_size[0] // cfg.patch_size, image_size[1] // cfg.patch_size)
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.blocks = nn.ModuleList(Block(cfg, self.grid) for _ in range(cfg.depth))
        # BEiT's ImageNet classifier: in the checkpoints, unused by depth estimation.
        self.fc_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.head = nn.Linear(cfg.embed_dim, cfg.num_classes)
        # flattened: one Gather along the table's second axis gives every head's (N, N) bias
        self.register_buffer("grid_index", relative_position_index(*self.grid).flatten(), persistent=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        hooked = []
        for i, block in enumerate(self.blocks[: max(self.cfg.hooks) + 1]):
            x = block(x, self.grid_index)
            if i in self.cfg.hooks:
                hooked.append(x)
        return hooked
