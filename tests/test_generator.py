"""CounterfactualGenerator (seed API): interventions, sampling, distances."""

import numpy as np
import pytest
import torch

from tsinfluence.nn.generator import INTERVENTION_TYPES, CounterfactualGenerator, dtw_distance


def _data(n=4, T=10, D=3):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, T, D, generator=g)
    mask = torch.zeros(n, T)
    mask[:, 2:5] = 1.0
    pad = torch.zeros(n, T, dtype=torch.bool)
    pad[0, -3:] = True
    return x, mask, pad


@pytest.mark.parametrize("method", ["perturbation", "replacement", "removal"])
@pytest.mark.parametrize("intervention", INTERVENTION_TYPES)
def test_edits_only_the_intervention_steps_never_padding(method, intervention):
    x, mask, pad = _data()
    gen = CounterfactualGenerator(3, hidden_dim=16, generation_method=method)
    cf = gen(x, mask, intervention, padding_mask=pad, noise_scale=0.3)
    assert cf.shape == x.shape and torch.isfinite(cf).all()
    edited = CounterfactualGenerator.edited_steps(mask, intervention).bool() & ~pad
    changed = (cf != x).any(-1)
    assert not (changed & ~edited).any()
    assert changed[edited].float().mean() > 0.9
    assert torch.equal(cf[pad], x[pad])


def test_removal_is_the_channel_mean_over_valid_steps():
    x, mask, pad = _data()
    gen = CounterfactualGenerator(3, generation_method="removal")
    cf = gen(x, mask, "modify_selected", padding_mask=pad)
    valid = (~pad).float().unsqueeze(-1)
    mean = (x * valid).sum(1) / valid.sum(1)
    torch.testing.assert_close(cf[:, 2], mean)
    # remove_* always removes, whatever the generation method.
    gen = CounterfactualGenerator(3, generation_method="perturbation")
    torch.testing.assert_close(gen(x, mask, "remove_selected", pad)[:, 3], mean)


def test_perturbation_size_follows_scale_and_std():
    x, mask, _ = _data()
    small = CounterfactualGenerator(3, generation_method="perturbation", perturbation_scale=0.1)
    big = CounterfactualGenerator(3, generation_method="perturbation", perturbation_scale=1.0)
    big.load_state_dict(small.state_dict())
    d_small = (small(x, mask) - x).abs().max()
    d_big = (big(x, mask) - x).abs().max()
    torch.testing.assert_close(d_big, 10 * d_small)


def test_multiple_counterfactuals_batched_reproducible_and_diverse():
    x, mask, pad = _data()
    gen = CounterfactualGenerator(3, generation_method="replacement")
    a = gen.generate_multiple_counterfactuals(
        x,
        mask,
        num_samples=5,
        noise_scale=0.5,
        padding_mask=pad,
        generator=torch.Generator().manual_seed(1),
    )
    b = gen.generate_multiple_counterfactuals(
        x,
        mask,
        num_samples=5,
        noise_scale=0.5,
        padding_mask=pad,
        generator=torch.Generator().manual_seed(1),
    )
    assert a.shape == (5, *x.shape)
    assert torch.equal(a, b)
    assert (a[0] != a[1]).any()
    with pytest.raises(ValueError, match="num_samples"):
        gen.generate_multiple_counterfactuals(x, mask, num_samples=0)


def test_distances_match_numpy():
    x, mask, _ = _data()
    cf = x + torch.randn_like(x)
    dist = CounterfactualGenerator.compute_counterfactual_distance
    d = (x - cf).numpy().reshape(len(x), -1)
    np.testing.assert_allclose(dist(x, cf, metric="l1").numpy(), np.abs(d).sum(1), rtol=1e-5)
    np.testing.assert_allclose(dist(x, cf, metric="l2").numpy(), np.sqrt((d**2).sum(1)), rtol=1e-5)
    a, b = x.numpy().reshape(len(x), -1), cf.numpy().reshape(len(x), -1)
    cos = 1 - (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(dist(x, cf, metric="cosine").numpy(), cos, rtol=1e-4, atol=1e-6)
    masked = dist(x, cf, mask, metric="l1").numpy()
    np.testing.assert_allclose(masked, np.abs((x - cf)[:, 2:5].numpy()).sum((1, 2)), rtol=1e-5)
    with pytest.raises(ValueError, match="metric"):
        dist(x, cf, metric="manhattan")


def _naive_dtw(a, b):
    T = len(a)
    acc = np.full((T + 1, T + 1), np.inf)
    acc[0, 0] = 0
    for i in range(1, T + 1):
        for j in range(1, T + 1):
            c = np.linalg.norm(a[i - 1] - b[j - 1])
            acc[i, j] = c + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    return acc[T, T]


def test_dtw_matches_the_textbook_recursion():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(3, 9, 2, generator=g, dtype=torch.float64)
    b = torch.randn(3, 9, 2, generator=g, dtype=torch.float64)
    got = dtw_distance(a, b).numpy()
    want = [_naive_dtw(a[i].numpy(), b[i].numpy()) for i in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    torch.testing.assert_close(dtw_distance(a, a), torch.zeros(3, dtype=torch.float64))
    # A shifted copy is closer under DTW than under the Euclidean distance.
    s = torch.roll(a, 1, dims=1)
    assert (dtw_distance(a, s) < (a - s).norm(dim=-1).sum(1)).all()
    # window=0 forbids warping: the sum of step costs on the diagonal.
    torch.testing.assert_close(dtw_distance(a, s, window=0), (a - s).norm(dim=-1).sum(1))
    via_api = CounterfactualGenerator.compute_counterfactual_distance(a, b, metric="dtw")
    torch.testing.assert_close(via_api, torch.as_tensor(want))


def test_bad_arguments():
    x, mask, _ = _data()
    with pytest.raises(ValueError, match="generation_method"):
        CounterfactualGenerator(3, generation_method="swap")
    with pytest.raises(ValueError, match="perturbation_scale"):
        CounterfactualGenerator(3, perturbation_scale=-1)
    gen = CounterfactualGenerator(3)
    with pytest.raises(ValueError, match="intervention_type"):
        gen(x, mask, "erase")
    with pytest.raises(ValueError, match="mask must have shape"):
        gen(x, mask[:, :4])
    with pytest.raises(ValueError, match="x must have shape"):
        gen(x[0], mask)
    with pytest.raises(ValueError, match="noise_scale"):
        gen(x, mask, noise_scale=-1.0)
