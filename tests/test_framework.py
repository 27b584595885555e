import pytest
import torch
from torch import nn

from tsinfluence import ModelAgnosticWrapper, create_simple_framework
from tsinfluence.nn import PHASES, InfluenceFramework, random_subset_masks


def test_seed_quick_start_runs_as_written():
    X = torch.randn(32, 50, 10)
    y = torch.randn(32, 1)
    framework = create_simple_framework(input_dim=10, k=10, hidden_dim=64, task="regression")
    base_model = nn.Sequential(nn.Flatten(), nn.Linear(50 * 10, 1))
    wrapper = ModelAgnosticWrapper(base_model, framework, use_selected_only=True)
    optimizer = torch.optim.Adam(wrapper.parameters(), lr=0.001)
    loss_dict = wrapper.train_step(X, y, optimizer)
    assert {"task", "diversity", "total"} <= set(loss_dict)
    assert all(isinstance(v, float) for v in loss_dict.values())
    predictions, mask, selected = wrapper(X, return_selection=True)
    assert predictions.shape == (32, 1)
    assert mask.sum(dim=1).mean().item() == 10.0
    assert torch.equal(selected, X * mask.unsqueeze(-1))


def test_wrapper_training_reduces_the_loss_and_updates_the_selector():
    torch.manual_seed(0)
    X = torch.randn(64, 12, 3)
    y = X[:, 3, :1] * 2.0
    framework = create_simple_framework(input_dim=3, k=2, hidden_dim=16)
    wrapper = ModelAgnosticWrapper(nn.Sequential(nn.Flatten(), nn.Linear(36, 1)), framework)
    optimizer = torch.optim.Adam(wrapper.parameters(), lr=1e-2)
    before = framework.selector.scorer.head.weight.clone()
    losses = [wrapper.train_step(X, y, optimizer)["task"] for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]
    assert not torch.equal(before, framework.selector.scorer.head.weight)


def test_seed_integration_with_an_lstm():
    class MyTimeSeriesModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(input_size=10, hidden_size=64, num_layers=2)
            self.fc = nn.Linear(64, 1)

        def forward(self, x):
            out, _ = self.lstm(x.transpose(0, 1))
            return self.fc(out[-1])

    framework = create_simple_framework(input_dim=10, k=10)
    wrapper = ModelAgnosticWrapper(MyTimeSeriesModel(), framework)
    assert wrapper(torch.randn(4, 30, 10)).shape == (4, 1)


def test_framework_outputs_and_influence():
    model = InfluenceFramework(
        4, hidden_dim=16, num_heads=2, k=3, task="classification", output_dim=3
    ).eval()
    x = torch.randn(5, 11, 4)
    pad = torch.zeros(5, 11, dtype=torch.bool)
    pad[0, 8:] = True
    pred, mask, scores = model(x, pad)
    assert pred.shape == (5, 3) and mask.shape == scores.shape == (5, 11)
    influence = model.influence(x, pad)
    # inclusion probabilities of k=3 steps: each row sums to k, values in [0, 1]
    assert torch.allclose(influence.sum(1), torch.full((5,), 3.0, dtype=influence.dtype))
    assert ((influence >= 0) & (influence <= 1)).all()
    assert (influence[0, 8:] == 0).all() and (mask[0, 8:] == 0).all()
    assert model.counterfactual_generator is not None


def test_phases_freeze_the_right_parts():
    model = InfluenceFramework(2, hidden_dim=8, num_heads=2, k=2)
    assert model.phase == "joint"
    assert PHASES == ("joint", "teacher", "evaluator", "selector", "adapt")
    model.set_phase("selector")
    model.train()
    assert not any(p.requires_grad for p in model.predictor.parameters())
    assert all(p.requires_grad for p in model.selector.parameters())
    assert not model.predictor.training and model.selector.training
    for phase in ("teacher", "evaluator", "adapt"):
        model.set_phase(phase)
        assert not any(p.requires_grad for p in model.selector.parameters())
        assert all(p.requires_grad for p in model.predictor.parameters())
    with pytest.raises(ValueError, match="phase must be one of"):
        model.set_phase("warmup")


def test_evaluator_phase_uses_masks_independent_of_the_data():
    torch.manual_seed(0)
    model = InfluenceFramework(2, hidden_dim=8, num_heads=2, k=2)
    model.set_phase("evaluator")
    model.train()
    x = torch.randn(400, 10, 2)
    _, mask, _ = model(x)
    _, mask_shifted, _ = model(x + 100.0)
    sizes = mask.sum(1)
    # Sizes vary widely; a few masks are empty (they teach the evaluator the prior).
    assert sizes.max() > 5 and len(sizes.unique()) > 5
    assert 0.0 < (sizes == 0).float().mean() < 0.2
    # Every position is used about equally often, whatever the data.
    assert mask.mean(0).min() > 0.3 and mask.mean(0).max() < 0.65
    assert not torch.equal(mask, mask_shifted)  # fresh draws, not a function of x


def test_random_subset_masks_respect_padding():
    valid = torch.ones(50, 8, dtype=torch.bool)
    valid[:, 5:] = False
    masks = random_subset_masks(valid, 2)
    assert (masks[:, 5:] == 0).all() and masks.sum(1).max() <= 5


def test_bad_framework_arguments():
    with pytest.raises(ValueError, match="task must be"):
        InfluenceFramework(2, task="ranking")
    with pytest.raises(ValueError, match="predictor must be"):
        InfluenceFramework(2, hidden_dim=8, num_heads=2, predictor="transformer")


def test_score_function_loss_raises_the_probability_of_rewarded_subsets():
    from tsinfluence.nn.objectives import plackett_luce_log_prob, score_function_loss

    torch.manual_seed(0)
    logits = torch.zeros(64, 6, requires_grad=True)
    valid = torch.ones(64, 6, dtype=torch.bool)
    ks = torch.full((64,), 2)

    def reward(masks):  # only step 3 is worth selecting; masks (n_samples, n, T)
        assert masks.shape == (4, 64, 6)  # every sample in one call
        return masks[..., 3]

    score_function_loss(logits, ks, valid, reward, n_samples=4).backward()
    assert logits.grad[:, 3].mean() < 0  # descent raises the logit of step 3
    assert (logits.grad[:, [0, 1, 2, 4, 5]].mean(0) > 0).all()
    # Plackett-Luce: with uniform logits, any ordered pair has probability 1/6 * 1/5.
    order = torch.tensor([[3, 1]])
    lp = plackett_luce_log_prob(torch.zeros(1, 6), order, torch.tensor([2]), valid[:1])
    assert lp.item() == pytest.approx(-torch.log(torch.tensor(30.0)).item(), rel=1e-6)
    with pytest.raises(ValueError, match="n_samples"):
        score_function_loss(logits, ks, valid, reward, n_samples=1)


def test_score_function_loss_normalize_weighs_every_series_alike():
    from tsinfluence.nn.objectives import score_function_loss

    valid = torch.ones(64, 6, dtype=torch.bool)
    ks = torch.full((64,), 2)
    scale = torch.ones(64)
    scale[:32] = 1000.0  # the same preference for step 3, on two reward scales

    def reward(masks):
        return masks[..., 3] * scale

    def gradient(normalize):
        torch.manual_seed(0)
        logits = torch.zeros(64, 6, requires_grad=True)
        score_function_loss(logits, ks, valid, reward, n_samples=8, normalize=normalize).backward()
        return logits.grad

    raw, normalized = gradient(False), gradient(True)
    # Raw advantages: the large-scale series dominate the gradient.
    assert raw[:32].abs().mean() > 100 * raw[32:].abs().mean()
    # Normalised: both halves weigh about the same, and still raise the logit of step 3.
    ratio = normalized[:32].abs().mean() / normalized[32:].abs().mean()
    assert 0.5 < ratio < 2.0
    assert normalized[:, 3].mean() < 0
    # Ties (every sample rewarded alike) give no gradient: the division leaves 0 at 0.
    logits = torch.zeros(4, 6, requires_grad=True)
    score_function_loss(
        logits, ks[:4], valid[:4], lambda m: m.new_ones(m.shape[:2]), normalize=True
    ).backward()
    assert torch.count_nonzero(logits.grad) == 0


def test_plackett_luce_log_prob_matches_sequential_draws():
    from tsinfluence.nn.objectives import plackett_luce_log_prob

    torch.manual_seed(0)
    z = torch.randn(3, 7)
    valid = torch.ones(3, 7, dtype=torch.bool)
    valid[2, 5:] = False
    order = torch.tensor([[2, 0, 6], [1, 3, 4], [4, 0, 2]])
    ks = torch.tensor([3, 2, 3])
    expected = []
    for i in range(3):
        available, log_prob = valid[i].clone(), 0.0
        for j in range(int(ks[i])):
            log_prob += z[i, order[i, j]] - torch.logsumexp(z[i][available], 0)
            available[order[i, j]] = False
        expected.append(log_prob)
    got = plackett_luce_log_prob(z, order, ks, valid)
    assert torch.allclose(got, torch.stack(expected), atol=1e-5)


def test_structured_subset_masks_mix_full_windows_and_scattered_steps():
    from tsinfluence.nn.objectives import structured_subset_masks

    torch.manual_seed(0)
    valid = torch.ones(4000, 100, dtype=torch.bool)
    valid[:2000, 60:] = False  # half of the series have 60 valid steps
    masks = structured_subset_masks(valid, 0.25, full_rate=0.2, window_rate=0.5) > 0.5
    assert not (masks & ~valid).any()
    full = (masks == valid).all(dim=1)
    assert 0.17 < full.float().mean() < 0.23
    # Runs of selected steps: a window mask has 1 to 3 runs covering 15-40 % of the series.
    starts = (masks[:, 1:] & ~masks[:, :-1]).sum(1) + masks[:, 0].long()
    cover = masks.sum(1) / valid.sum(1)
    windowed = ~full & (starts <= 3) & (cover >= 0.15) & (cover <= 0.41)
    assert windowed.float().mean() > 0.45
    # The masks do not depend on the data: the same generator state gives the same masks.
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(
        structured_subset_masks(valid, 0.25, generator=g1),
        structured_subset_masks(valid, 0.25, generator=g2),
    )


def test_plackett_luce_log_prob_ignores_draws_past_k_that_reach_padding():
    from tsinfluence.nn.objectives import plackett_luce_log_prob

    logits = torch.tensor([[0.5, -1.0, 2.0, float("-inf"), float("-inf")]], requires_grad=True)
    valid = torch.tensor([[True, True, True, False, False]])
    order = torch.tensor([[2, 0, 1, 3]])  # a longer row's k reaches this row's padding
    log_p = plackett_luce_log_prob(logits, order, torch.tensor([2]), valid)
    w = torch.exp(torch.tensor([0.5, -1.0, 2.0]))
    expected = torch.log(w[2] / w.sum()) + torch.log(w[0] / (w[0] + w[1]))
    assert torch.allclose(log_p, expected.reshape(1))
    log_p.sum().backward()
    assert torch.isfinite(logits.grad).all()


class _OneHotSelector(nn.Module):
    """Selects step ``i`` of series ``i``: every series' selection is distinct."""

    def forward(self, x, padding_mask=None):
        n, length = x.shape[:2]
        return torch.eye(n, length, dtype=x.dtype)


def test_adapt_phase_shows_other_series_selections_or_whole_series():
    torch.manual_seed(0)
    model = InfluenceFramework(2, hidden_dim=8, predictor="cnn", scorer="cnn", k=1)
    model.set_phase("adapt")
    model.train()
    # the frozen selector and the predictor's batch statistics stay in eval mode
    assert not model.selector.training and model.predictor.training
    norms = [m for m in model.predictor.modules() if isinstance(m, nn.BatchNorm1d)]
    assert norms and not any(m.training for m in norms)
    model.selector = _OneHotSelector()
    x = torch.randn(12, 16, 2)
    whole_rows = 0
    for _ in range(5):
        _, mask, _ = model(x)
        for i, row in enumerate(mask):
            if bool((row == 1).all()):
                whole_rows += 1
                continue
            (picked,) = torch.nonzero(row).flatten().tolist()
            assert picked != i  # another series' selection, never its own
    assert 0 < whole_rows < 60
    _, mask, _ = model(x[:1])  # a batch of one series is shown whole
    assert bool((mask == 1).all())


def test_selection_loss_is_the_loss_of_what_the_model_predicts():
    torch.manual_seed(0)
    model = InfluenceFramework(
        2, hidden_dim=8, predictor="cnn", scorer="cnn", k=3, output_dim=2, task="classification"
    ).eval()
    x = torch.randn(6, 12, 2)
    y = torch.tensor([0, 1, 0, 1, 1, 0])
    with torch.no_grad():
        prediction, _, _ = model(x)
    expected = torch.nn.functional.cross_entropy(prediction, y, reduction="none")
    assert torch.allclose(model.selection_loss(x, y), expected)
