import dataclasses

import pytest
import torch

from zoe_export.models import get_variant
from zoe_export.models.dpt import upsample
from zoe_export.models.metric_bins import (
    AttractorLayer,
    ConditionalLogBinomial,
    LogBinomial,
    SeedBinRegressor,
    inv_attractor,
)

N_HEAD = get_variant("test-N").heads[0]
K_HEAD = get_variant("test-K").heads[0]


def _randomize(module, scale=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
    return module


def _official_mlp(weights, x):
    """The attractor MLP as the official checkpoint lays it out: ``_net.0`` and ``_net.2``, 1x1 convs, ReLU between."""
    conv = torch.nn.functional.conv2d
    hidden = torch.relu(conv(x, weights["_net.0.weight"], weights["_net.0.bias"]))
    return conv(hidden, weights["_net.2.weight"], weights["_net.2.bias"])


def test_attractor_function_is_inverse_with_alpha_300():
    dx = torch.linspace(-3, 3, 601, dtype=torch.float64)
    torch.testing.assert_close(inv_attractor(dx), dx / (1 + 300 * dx ** 2))
    # the pull peaks at |dx| = 1/sqrt(300), not at 1/sqrt(1000) as the configs' alpha would give
    assert abs(dx[inv_attractor(dx).argmax()].item() - 300 ** -0.5) < 0.01


def test_softplus_attractor_moves_centres_by_the_mean_pull():
    layer = _randomize(AttractorLayer(N_HEAD, n_attractors=4))
    emb, prev = torch.randn(2, 16, 6, 8), torch.randn(2, 16, 3, 4)
    centers = torch.rand(2, 16, 3, 4) * 5
    new, metres = layer(emb, centers, prev)
    a = torch.nn.functional.softplus(_official_mlp(layer.state_dict(), emb + upsample(prev, (6, 8))))
    c = upsample(centers, (6, 8))
    pull = torch.stack([inv_attractor(a[:, i:i + 1] - c) for i in range(4)]).mean(0)
    torch.testing.assert_close(new, c + pull)
    assert metres is new


def test_normed_attractor_uses_only_even_channels():
    layer = _randomize(AttractorLayer(K_HEAD, n_attractors=2))
    emb, prev, centers = torch.randn(1, 16, 4, 4), torch.randn(1, 16, 2, 2), torch.rand(1, 16, 2, 2)
    before = layer(emb, centers, prev)
    weights = layer.state_dict()  # change only the odd output channels: nothing may move
    weights["_net.2.weight"][1::2] += 3.0
    weights["_net.2.bias"][1::2] -= 1.0
    layer.load_state_dict(weights)
    after = layer(emb, centers, prev)
    torch.testing.assert_close(after[0], before[0], rtol=0, atol=0)
    weights["_net.2.bias"][0::2] += 0.5
    layer.load_state_dict(weights)
    assert not torch.allclose(layer(emb, centers, prev)[0], before[0])


def test_normed_attractor_sorts_and_clips_only_the_metric_output():
    head = dataclasses.replace(K_HEAD, max_depth=10.0)
    layer = _randomize(AttractorLayer(head, n_attractors=2), scale=2.0)
    centers = torch.rand(1, 16, 2, 2) * 1.6 - 0.3  # normalised, some outside [0, 1]
    new, metres = layer(torch.randn(1, 16, 4, 4), centers, torch.randn(1, 16, 2, 2))
    assert (metres[:, 1:] >= metres[:, :-1]).all()
    assert metres.min() >= head.min_depth and metres.max() <= head.max_depth
    unsorted = (head.max_depth - head.min_depth) * new + head.min_depth
    assert (unsorted.diff(dim=1) < 0).any() and (unsorted.max() > 10 or unsorted.min() < 1e-3)
    expected = torch.clip(torch.sort(unsorted, dim=1).values, head.min_depth, head.max_depth)
    torch.testing.assert_close(metres, expected, rtol=0, atol=0)


def test_normed_seed_bins_partition_the_depth_range():
    head = dataclasses.replace(K_HEAD, max_depth=80.0)
    seed = _randomize(SeedBinRegressor(16, head))
    centers = seed(torch.randn(2, 16, 3, 5))
    assert (centers.diff(dim=1) > 0).all()
    assert centers.min() > head.min_depth and centers.max() < head.max_depth
    # centres of consecutive edges starting at min_depth: the widths they imply add up to the range
    widths = [2 * (centers[:, 0] - head.min_depth)]
    for k in range(1, centers.shape[1]):
        widths.append(2 * (centers[:, k] - centers[:, k - 1]) - widths[-1])
    total = torch.stack(widths, 1).sum(1)
    torch.testing.assert_close(total, torch.full_like(total, head.max_depth - head.min_depth), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.8])
def test_log_binomial_is_a_distribution_peaked_at_p(p):
    lb = LogBinomial(64)
    probs = lb(torch.full((1, 1, 2, 2), p), torch.ones(1, 1, 2, 2))
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 2, 2))
    assert abs(probs[0, :, 0, 0].argmax().item() - p * 63) <= 1.5


def test_log_binomial_coefficient_is_the_official_stirling_form():
    lb = LogBinomial(64)
    n, k = 63.0 + 1e-7, torch.arange(64, dtype=torch.float64) + 1e-7
    stirling = n * torch.log(torch.tensor(n)) - k * torch.log(k) - (n - k) * torch.log(n - k + 1e-7)
    probs = lb(torch.full((1, 1, 1, 1), 0.5), torch.ones(1, 1, 1, 1))[0, :, 0, 0].double()
    expected = torch.softmax(stirling + 63 * torch.log(torch.tensor(0.5, dtype=torch.float64)), 0)
    # float32 logits of magnitude ~45 carry ~4e-6 absolute rounding, i.e. ~1e-5 relative in the probabilities
    torch.testing.assert_close(probs, expected, rtol=5e-5, atol=1e-7)
    # it is not lgamma's exact binomial: the Stirling form has no sqrt(2 pi k (n-k)/n) term
    exact = torch.lgamma(torch.tensor(64.0, dtype=torch.float64)) - torch.lgamma(k + 1) - torch.lgamma(64 - k)
    central = expected > 1e-6
    ratio = torch.softmax(exact, 0)[central] / expected[central]
    assert (ratio - 1).abs().max() > 0.05


def test_conditional_log_binomial_temperature_range():
    clb = _randomize(ConditionalLogBinomial(9, N_HEAD), scale=3.0)
    probs = clb(torch.randn(2, 9, 5, 7), torch.randn(2, 16, 5, 7))
    assert probs.shape == (2, 16, 5, 7)
    torch.testing.assert_close(probs.sum(1), torch.ones(2, 5, 7))
    assert torch.isfinite(probs).all()
