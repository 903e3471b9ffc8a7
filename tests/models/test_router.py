import math

import torch

from zoe_export.models import get_variant
from zoe_export.models.router import EncoderLayer, route, sinusoidal_position_encoding


def test_position_encoding_is_sin_then_cos_halves():
    pe = sinusoidal_position_encoding(193, 128)
    assert pe.shape == (193, 1, 128)
    pos, j = 57, 5
    freq = math.exp(-2 * j * math.log(10000.0) / 128)
    assert abs(pe[pos, 0, j].item() - math.sin(pos * freq)) < 1e-4
    assert abs(pe[pos, 0, 64 + j].item() - math.cos(pos * freq)) < 1e-4


def test_encoder_layer_matches_pytorch_post_norm_layer():
    cfg = get_variant("M12-NK").router
    torch.manual_seed(0)
    ours = EncoderLayer(cfg).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    reference = torch.nn.TransformerEncoderLayer(cfg.embedding_dim, cfg.num_heads, dim_feedforward=cfg.ff_dim).eval()
    reference.load_state_dict(ours.state_dict(), strict=True)  # same parameter names as the checkpoints
    x = torch.randn(193, 3, cfg.embedding_dim)  # sequence-first, as the official router runs it
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-5, atol=2e-5)  # float32 summation order


def test_route_picks_each_samples_own_head_ties_to_the_first():
    nyu, kitti = torch.zeros(3, 1, 2, 2), torch.ones(3, 1, 2, 2)
    logits = torch.tensor([[2.0, -1.0], [-3.0, 4.0], [0.5, 0.5]])
    out = route(logits, [nyu, kitti])
    assert out[:, 0, 0, 0].tolist() == [0.0, 1.0, 0.0]
