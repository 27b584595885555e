"""Influence scores as inclusion probabilities of the selector's own distribution."""

import numpy as np
import pytest
import torch

from tsinfluence.nn import InfluenceFramework
from tsinfluence.nn.selection import (
    GumbelTopKSelection,
    ThresholdSelection,
    TopKSelection,
    inclusion,
)
from tsinfluence.nn.selection.base import standardize
from tsinfluence.nn.selection.inclusion import (
    TIE_BREAK,
    gumbel_topk_inclusion,
    inclusion_probabilities,
)


def _logits(seed, n=6, length=20, pad_from=14):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, length, generator=gen, dtype=torch.float64)
    valid = torch.ones(n, length, dtype=torch.bool)
    valid[0, pad_from:] = False
    return logits.masked_fill(~valid, float("-inf")), valid


@pytest.mark.parametrize("k", [1, 3, 7])
def test_inclusion_is_a_probability_summing_to_k_and_zero_at_padding(k):
    logits, valid = _logits(0)
    p = gumbel_topk_inclusion(logits, torch.full((6,), k), valid)
    assert ((p >= 0) & (p <= 1)).all()
    assert (p[~valid] == 0).all()
    torch.testing.assert_close(p.sum(1), torch.full((6,), float(k), dtype=p.dtype))


def test_inclusion_is_monotone_in_the_logits():
    logits, valid = _logits(1)
    p = gumbel_topk_inclusion(logits, torch.full((6,), 4), valid)
    for row in range(6):
        order = torch.argsort(logits[row][valid[row]])
        assert (p[row][valid[row]][order].diff() > 0).all()  # strictly, in float64


def test_whole_series_budget_and_separated_logits_are_exact():
    logits, valid = _logits(2)
    lengths = valid.sum(1)
    p = gumbel_topk_inclusion(logits, lengths + 3, valid)  # k >= length: every step
    assert (p[valid] == 1).all() and (p[~valid] == 0).all()
    # Far-apart logits: the sampler is the deterministic top-k (up to the tie-breaker).
    spread = torch.arange(10, dtype=torch.float64).repeat(2, 1) * 50.0
    p = gumbel_topk_inclusion(spread, torch.tensor([3, 6]))
    expected = (torch.arange(10) >= torch.tensor([[7], [4]])).to(p.dtype)
    torch.testing.assert_close(p, expected, atol=TIE_BREAK, rtol=0)


@pytest.mark.parametrize("k, temperature", [(2, 1.0), (5, 1.0), (5, 0.5)])
def test_inclusion_agrees_with_monte_carlo_of_the_sampler(k, temperature):
    """Frequencies of the real Gumbel top-k sampler over 20 000 draws (fixed seed)."""
    logits, valid = _logits(3, n=4, length=16, pad_from=12)
    z = standardize(logits) / temperature
    draws = 20_000
    sampler = GumbelTopKSelection(k=k).train()
    pad = ~valid.repeat(draws, 1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        masks = sampler(z.repeat(draws, 1), pad)
    frequency = masks.view(draws, 4, 16).mean(0)
    strategy = TopKSelection(k=k, temperature=temperature)
    p = inclusion_probabilities(strategy, logits, ~valid)
    # Approximation error measured up to ~0.03 on random logits; Monte-Carlo sd <= 0.0036.
    assert (p - frequency).abs().max() < 0.05
    assert (p - frequency).abs().mean() < 0.01


def test_threshold_strategy_uses_its_gate_probability():
    logits, valid = _logits(4)
    strategy = ThresholdSelection(k=0.3, temperature=2.0)
    p = inclusion_probabilities(strategy, logits, ~valid)
    expected = torch.sigmoid(logits / 2.0).masked_fill(~valid, 0.0)
    torch.testing.assert_close(p, expected)


def test_inclusion_gradient_matches_finite_differences():
    logits = torch.randn(2, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    logits.requires_grad_(True)
    ks = torch.tensor([2, 4])
    assert torch.autograd.gradcheck(lambda z: gumbel_topk_inclusion(z, ks), (logits,))


def test_framework_influence_ranks_as_the_scorer_and_sums_to_k():
    torch.manual_seed(0)
    model = InfluenceFramework(3, hidden_dim=8, num_heads=2, k=4, use_counterfactual=False)
    model.eval()
    x = torch.randn(5, 15, 3)
    pad = torch.zeros(5, 15, dtype=torch.bool)
    pad[1, 10:] = True
    with torch.no_grad():
        influence = model.influence(x, pad)
        logits = model.selector.scorer(x, pad)
    assert influence.dtype == torch.float64
    torch.testing.assert_close(influence.sum(1), torch.full((5,), 4.0, dtype=torch.float64))
    assert (influence[pad] == 0).all()
    for row in range(5):
        keep = ~pad[row]
        np.testing.assert_array_equal(
            np.argsort(-influence[row][keep].numpy(), kind="stable"),
            np.argsort(-logits[row][keep].double().numpy(), kind="stable"),
        )


def test_near_certain_steps_keep_their_order():
    """Sharp logits push several probabilities within 1e-16 of 1; their order must survive."""
    logits = torch.linspace(-20.0, 20.0, 25, dtype=torch.float64)[None]
    p = gumbel_topk_inclusion(logits, torch.tensor([12]))
    assert (p.diff(dim=1) > 0).all()
    assert p.max() <= 1.0 and (p[0, -5:] > 1 - 2e-6).all()


def _bisection_reference(logits, ks):
    """The threshold by plain bisection (float64 resolution), for the Newton search."""
    valid = torch.isfinite(logits)
    filled = torch.where(valid, logits, torch.zeros_like(logits))
    k = torch.minimum(ks.double()[:, None], valid.sum(1, keepdim=True).double())
    low = torch.where(valid, filled, torch.inf).amin(1, keepdim=True) - 40.0
    high = torch.where(valid, filled, -torch.inf).amax(1, keepdim=True) + 40.0
    for _ in range(200):
        mid = (low + high) / 2
        over = (inclusion._included(filled - mid) * valid).sum(1, keepdim=True) > k
        low, high = torch.where(over, mid, low), torch.where(over, high, mid)
    return inclusion._included(filled - (low + high) / 2) * valid


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0, 30.0])
def test_newton_search_matches_bisection_and_stops_early(scale, monkeypatch):
    gen = torch.Generator().manual_seed(7)
    logits = torch.randn(40, 60, generator=gen, dtype=torch.float64) * scale
    logits[0, 45:] = float("-inf")  # a padded row
    ks = torch.randint(0, 61, (40,), generator=gen)
    calls = []
    counted = inclusion._included
    monkeypatch.setattr(inclusion, "_included", lambda z: calls.append(1) or counted(z))
    p = gumbel_topk_inclusion(logits, ks)
    monkeypatch.undo()
    reference = _bisection_reference(logits, ks)
    reference = torch.where(ks[:, None] >= torch.isfinite(logits).sum(1, keepdim=True),
                            torch.isfinite(logits).double(), reference)  # fmt: skip
    torch.testing.assert_close(p, reference, atol=1e-9, rtol=0)
    assert len(calls) < inclusion.MAX_ITERATIONS  # the Newton steps stop the search early
