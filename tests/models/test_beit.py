import numpy as np
import pytest
import torch

from zoe_export.models.beit import Attention, relative_position_index, resample_relative_position_table


def test_relative_position_index_matches_definition():
    gh, gw = 3, 4
    index = relative_position_index(gh, gw)
    n = (2 * gh - 1) * (2 * gw - 1) + 3
    coords = [(y, x) for y in range(gh) for x in range(gw)]
    for i, (yi, xi) in enumerate(coords):
        for j, (yj, xj) in enumerate(coords):
            # query minus key: the other sign would transpose the bias
            assert index[1 + i, 1 + j] == (yi - yj + gh - 1) * (2 * gw - 1) + (xi - xj + gw - 1)
    assert (index[0, 1:] == n - 3).all() and (index[1:, 0] == n - 2).all() and index[0, 0] == n - 1


def _attention(pretrain_grid, grid, dim=4, heads=1):
    torch.manual_seed(0)
    attn = Attention(dim, heads, pretrain_grid, grid)
    return attn


def test_gathered_bias_uses_query_minus_key_offsets():
    # No resampling at the pretrain grid: entry r of the table is r, so the gathered bias is the index.
    attn = _attention((3, 3), (3, 3))
    table = torch.arange(attn.relative_position_bias_table.shape[0], dtype=torch.float32)[:, None]
    attn.load_state_dict({**attn.state_dict(), "relative_position_bias_table": table})
    bias = attn.grid_bias_table[:, relative_position_index(3, 3)][0]
    coords = [(y, x) for y in range(3) for x in range(3)]
    for i, (yi, xi) in enumerate(coords):
        for j, (yj, xj) in enumerate(coords):
            dy, dx = divmod(int(bias[1 + i, 1 + j]), 5)
            assert (dy - 2, dx - 2) == (yi - yj, xi - xj)


def test_resample_is_identity_at_the_pretrain_grid():
    table = torch.randn(7 * 7 + 3, 2)
    assert torch.equal(resample_relative_position_table(table, (4, 4), (4, 4)), table)


def _bilinear_half_pixel(image, out_h, out_w):
    """Textbook bilinear resize, align_corners=False (half-pixel centres, clamped at the border)."""
    in_h, in_w = image.shape

    def taps(n_out, n_in):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = np.minimum(np.floor(src).astype(int), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, wy = taps(out_h, in_h)
    x0, x1, wx = taps(out_w, in_w)
    top = image[y0][:, x0] * (1 - wx) + image[y0][:, x1] * wx
    bottom = image[y1][:, x0] * (1 - wx) + image[y1][:, x1] * wx
    return top * (1 - wy[:, None]) + bottom * wy[:, None]


def test_resample_is_bilinear_half_pixel_and_keeps_class_rows():
    torch.manual_seed(1)
    table = torch.randn(7 * 7 + 3, 2, dtype=torch.float64)
    out = resample_relative_position_table(table, (4, 4), (4, 6))
    assert out.shape == (7 * 11 + 3, 2)
    for head in range(2):
        expected = _bilinear_half_pixel(table[:49, head].numpy().reshape(7, 7), 7, 11)
        np.testing.assert_allclose(out[:77, head].numpy().reshape(7, 11), expected, rtol=0, atol=1e-12)
    assert torch.equal(out[77:], table[49:])


def test_resampled_table_is_a_non_persistent_buffer_refreshed_on_load():
    attn = _attention((4, 4), (4, 6))
    assert "grid_bias_table" not in attn.state_dict()
    assert "relative_position_index" in attn.state_dict()  # in the checkpoints, unused
    new_table = torch.randn_like(attn.relative_position_bias_table)
    attn.load_state_dict({**attn.state_dict(), "relative_position_bias_table": new_table})
    expected = resample_relative_position_table(new_table, (4, 4), (4, 6)).t()
    assert torch.equal(attn.grid_bias_table, expected)


def test_attention_matches_a_naive_reference():
    dim, heads, grid = 8, 2, (4, 6)
    attn = _attention((4, 4), grid, dim, heads)
    with torch.no_grad():
        for p in attn.parameters():
            p.normal_(0, 0.5)
    attn.refresh_grid_bias_table()
    n = grid[0] * grid[1] + 1
    x = torch.randn(2, n, dim)
    out = attn(x, relative_position_index(*grid).flatten())

    table = resample_relative_position_table(attn.relative_position_bias_table, (4, 4), grid)
    index = relative_position_index(*grid)
    w, hd = attn.qkv.weight, dim // heads
    q = x @ w[:dim].T + attn.q_bias
    k = x @ w[dim:2 * dim].T
    v = x @ w[2 * dim:].T + attn.v_bias
    expected = torch.zeros(2, n, dim)
    for b in range(2):
        for h in range(heads):
            sl = slice(h * hd, (h + 1) * hd)
            logits = q[b, :, sl] @ k[b, :, sl].T / hd ** 0.5 + table[index, h]
            expected[b, :, sl] = torch.softmax(logits, -1) @ v[b, :, sl]
    expected = attn.proj(expected)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)  # float32 summation order


@pytest.mark.parametrize("size", [(64, 96), (96, 64), (128, 128)])
def test_encoder_grid_follows_the_input_size(size):
    from zoe_export.models import build_model, get_variant
    from zoe_export.models import ModelOptions

    variant = get_variant("test-N")
    model = build_model(variant, ModelOptions.resolve(variant, *size))
    beit = model.core.core.pretrained.model
    gh, gw = size[0] // 16, size[1] // 16
    assert beit.grid_index.shape == ((gh * gw + 1) ** 2,)
    assert beit.blocks[0].attn.grid_bias_table.shape == (2, (2 * gh - 1) * (2 * gw - 1) + 3)


def test_dynamic_encoder_caches_per_grid_and_forgets_on_load():
    from zoe_export.models import load_model

    model = load_model("test-N", weights="random", dynamic_size="32x32:128x192")
    beit = model.core.core.pretrained.model
    assert beit.grid is None and not hasattr(beit.blocks[0].attn, "grid_bias_table")
    with torch.inference_mode():
        for size in [(64, 96), (96, 64), (64, 96)]:
            model(torch.rand(1, 3, *size))
    assert sorted(key[0] for key in beit._indices) == [(4, 6), (6, 4)]
    table = next(iter(beit.blocks[0].attn._tables.values()))
    expected = resample_relative_position_table(beit.blocks[0].attn.relative_position_bias_table, (4, 4), (4, 6)).t()
    torch.testing.assert_close(table, expected, rtol=0, atol=0)
    model.load_state_dict(load_model("test-N", weights="random", seed=1).state_dict())
    assert not beit.blocks[0].attn._tables  # new weights: the resampled tables are recomputed
