"""BEiT-L/16 encoder, as MiDaS v3.1 runs it inside ZoeDepth, for one fixed input size or any size.

Differences from a textbook ViT, all as the official checkpoints compute them:

* no absolute position embedding; every block has its own relative-position bias table, trained
  for a 24x24 patch grid and resampled (bilinear, align_corners=False) to the actual grid;
* the qkv projection has no bias of its own: the bias is concat(q_bias, 0, v_bias);
* layer scale (``gamma_1``, ``gamma_2``) on both residual branches, LayerNorm eps 1e-6, exact GELU.

For a fixed input size the resampled tables and the relative-position index are constants, so they
are computed once (when the weights are loaded) and kept as non-persistent buffers; ``forward`` only
gathers. The gathered (heads, N, N) bias itself is never stored: it would be 38 MB per block at
384x512, 0.9 GB for the 24 blocks.

Built for any size (``image_size=None``), ``forward`` derives the grid from the input and computes
both exactly as the official code does every forward: the table resampled to the grid and the index
generated for it, as tensor operations (so an export keeps them in the graph for whatever size it
is run at, with no per-size constants). In eager mode they are cached per grid.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._registry import BeitConfig


def relative_position_index(grid_h, grid_w, device=None) -> torch.Tensor:
    """BEiT's (N+1, N+1) index into the relative-position table, N = grid_h * grid_w.

    For query patch i and key patch j, with dy = y_i - y_j and dx = x_i - x_j, the index is
    (dy + grid_h - 1) * (2 grid_w - 1) + (dx + grid_w - 1). The class token has three entries at
    the end of the table: n-3 for class -> patch (row 0), n-2 for patch -> class (column 0), n-1
    for class -> class, where n = (2 grid_h - 1)(2 grid_w - 1) + 3.

    Written as tensor operations on ``arange`` (no in-place writes) so that it exports for a grid
    known only when the graph runs.
    """
    rows = torch.arange(grid_h, device=device)[:, None].expand(grid_h, grid_w)
    cols = torch.arange(grid_w, device=device)[None, :].expand(grid_h, grid_w)
    first = torch.zeros(1, dtype=rows.dtype, device=device)  # the class token's place (overwritten below)
    ys, xs = torch.cat([first, rows.reshape(-1)]), torch.cat([first, cols.reshape(-1)])
    index = (ys[:, None] - ys[None, :] + (grid_h - 1)) * (2 * grid_w - 1) + (xs[:, None] - xs[None, :] + (grid_w - 1))
    num_relative = (2 * grid_h - 1) * (2 * grid_w - 1) + 3
    is_class = torch.arange(ys.shape[0], device=device) == 0
    is_class_q, is_class_k = is_class[:, None], is_class[None, :]
    index = torch.where(is_class_q, num_relative - 3, index)
    index = torch.where(is_class_k, num_relative - 2, index)
    return torch.where(is_class_q & is_class_k, num_relative - 1, index)


def _traced() -> bool:
    """Whether this forward is being traced or exported (then nothing may be cached on the module)."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.compiler.is_exporting()


def _cacheable(grid) -> bool:
    return all(type(g) is int for g in grid) and not _traced()


#: grids whose index / tables a dynamic-size model keeps in eager mode (a video stream has one or two)
CACHED_GRIDS = 4


def _remember(cache: dict, key, value):
    cache[key] = value
    while len(cache) > CACHED_GRIDS:
        cache.pop(next(iter(cache)))
    return value


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
    """Self-attention with the block's relative-position bias; ``grid`` None: resampled per input grid."""

    def __init__(self, dim: int, num_heads: int, pretrain_grid: tuple[int, int], grid: tuple[int, int] | None):
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
        self._tables: dict = {}  # dynamic size, eager: grid -> resampled table
        if grid is not None:
            num_grid = (2 * grid[0] - 1) * (2 * grid[1] - 1) + 3
            # (heads, num_grid): the table resampled to this grid, transposed so one Gather yields (heads, N, N)
            self.register_buffer("grid_bias_table", torch.zeros(num_heads, num_grid), persistent=False)
        self.proj = nn.Linear(dim, dim)
        self.register_load_state_dict_post_hook(_refresh_after_load)

    @torch.no_grad()
    def refresh_grid_bias_table(self) -> None:
        """Recompute the resampled table from ``relative_position_bias_table`` (after loading weights)."""
        self._tables.clear()
        if self.grid is not None:
            table = resample_relative_position_table(self.relative_position_bias_table, self.pretrain_grid, self.grid)
            self.grid_bias_table = table.t().contiguous().to(self.grid_bias_table.dtype)

    def bias_table(self, grid) -> torch.Tensor:
        """(heads, (2g_h-1)(2g_w-1)+3): the table for ``grid`` (the built grid's buffer, else resampled)."""
        if self.grid is not None:
            return self.grid_bias_table
        weights = self.relative_position_bias_table
        if not _cacheable(grid):
            return resample_relative_position_table(weights, self.pretrain_grid, grid).t()
        key = (tuple(grid), weights.dtype, weights.device)
        if key not in self._tables:
            with torch.no_grad():
                table = resample_relative_position_table(weights, self.pretrain_grid, grid).t().contiguous()
            _remember(self._tables, key, table)
        return self._tables[key]

    def forward(self, x: torch.Tensor, grid_index: torch.Tensor, grid=None) -> torch.Tensor:
        batch, tokens, dim = x.shape
        bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)
        qkv = qkv.reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.bias_table(grid).index_select(1, grid_index)  # one Gather: (heads, N*N)
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
    def __init__(self, cfg: BeitConfig, grid: tuple[int, int] | None):
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.attn = Attention(dim, cfg.num_heads, cfg.pretrain_grid, grid)
        self.norm2 = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.mlp = Mlp(dim, dim * cfg.mlp_ratio)
        self.gamma_1 = nn.Parameter(torch.ones(dim))
        self.gamma_2 = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor, grid_index: torch.Tensor, grid=None) -> torch.Tensor:
        x = x + self.gamma_1 * self.attn(self.norm1(x), grid_index, grid)
        return x + self.gamma_2 * self.mlp(self.norm2(x))


class Beit(nn.Module):
    """The encoder: patch embedding, class token, blocks. Returns the tokens of the hooked blocks.

    ``image_size`` None: any size (multiple of the patch size); the grid comes from each input.
    """

    def __init__(self, cfg: BeitConfig, image_size: tuple[int, int] | None):
        super().__init__()
        self.cfg = cfg
        self.grid = None if image_size is None else (image_size[0] // cfg.patch_size, image_size[1] // cfg.patch_size)
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.blocks = nn.ModuleList(Block(cfg, self.grid) for _ in range(cfg.depth))
        # BEiT's ImageNet classifier: in the checkpoints, unused by depth estimation.
        self.fc_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.head = nn.Linear(cfg.embed_dim, cfg.num_classes)
        self._indices: dict = {}  # dynamic size, eager: grid -> flattened index
        if self.grid is not None:
            # flattened: one Gather along the table's second axis gives every head's (N, N) bias
            self.register_buffer("grid_index", relative_position_index(*self.grid).flatten(), persistent=False)

    def grid_of(self, image: torch.Tensor) -> tuple:
        """The patch grid of an input image (the built grid for a fixed-size encoder)."""
        if self.grid is not None:
            return self.grid
        return image.shape[-2] // self.cfg.patch_size, image.shape[-1] // self.cfg.patch_size

    def _index(self, grid, device) -> torch.Tensor:
        if self.grid is not None:
            return self.grid_index
        if not _cacheable(grid):
            return relative_position_index(*grid, device=device).flatten()
        key = (tuple(grid), device)
        if key not in self._indices:
            _remember(self._indices, key, relative_position_index(*grid, device=device).flatten())
        return self._indices[key]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        grid = self.grid_of(x)
        index = self._index(grid, x.device)
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        hooked = []
        for i, block in enumerate(self.blocks[: max(self.cfg.hooks) + 1]):
            x = block(x, index, grid)
            if i in self.cfg.hooks:
                hooked.append(x)
        return hooked
