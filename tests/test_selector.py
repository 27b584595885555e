import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import make_marker_task
from tsinfluence import InfluenceClassifier
from tsinfluence.nn import TimestampSelector


def test_seed_usage_and_shapes():
    selector = TimestampSelector(
        input_dim=10, hidden_dim=128, num_heads=4, selection_method="topk", k=10, dropout=0.1
    )
    x = torch.randn(8, 50, 10)
    mask, scores = selector(x, return_scores=True)
    assert mask.shape == scores.shape == (8, 50)
    assert mask.dtype == x.dtype
    assert (mask.sum(1) == 10).all()
    selected = selector.get_selected_timestamps(x, mask)
    assert selected.shape == x.shape
    assert torch.equal(selected[mask == 0], torch.zeros_like(selected[mask == 0]))
    values, idx, valid = selector.get_selected_timestamps(x, mask, gather=True)
    assert values.shape == (8, 10, 10) and idx.shape == (8, 10) and valid.all()
    assert (idx.diff(dim=1) > 0).all()  # time order
    assert torch.equal(values, x[torch.arange(8)[:, None], idx])


def test_gather_with_variable_selection_sizes_pads_with_invalid_slots():
    selector = TimestampSelector(3, hidden_dim=8, num_heads=2, k=0.5)
    x = torch.randn(2, 10, 3)
    pad = torch.zeros(2, 10, dtype=torch.bool)
    pad[1, 4:] = True
    mask = selector(x, pad)
    assert mask.sum(1).tolist() == [5, 2]
    values, idx, valid = selector.get_selected_timestamps(x, mask, gather=True)
    assert valid.sum(1).tolist() == [5, 2]
    assert (values[1, 2:] == 0).all()


def test_selection_stats():
    mask = torch.zeros(4, 10)
    mask[:, :2] = 1
    mask[0, 5] = 1
    stats = TimestampSelector.compute_selection_stats(mask)
    assert stats["mean_selected"] == pytest.approx(2.25)
    assert stats["min_selected"] == 2 and stats["max_selected"] == 3
    assert stats["selection_rate"] == pytest.approx(0.225)
    assert 0 < stats["position_entropy"] < torch.log(torch.tensor(10.0))


def test_custom_selection_module_replaces_the_strategy():
    class FirstSteps(nn.Module):
        def forward(self, scores):
            mask = torch.zeros_like(scores)
            mask[:, :3] = 1.0
            return mask

    selector = TimestampSelector(input_dim=4, selection_method="topk", k=10, hidden_dim=8)
    selector.selector = FirstSteps()  # the seed API's name is an alias of ``strategy``
    assert isinstance(selector.strategy, FirstSteps) and selector.selector is selector.strategy
    assert [name for name, _ in selector.named_children()] == ["scorer", "strategy"]
    mask = selector(torch.randn(2, 12, 4))
    assert mask[:, :3].all() and mask[:, 3:].sum() == 0

    class WrongShape(nn.Module):
        def forward(self, scores):
            return scores[:, :2]

    selector.selector = WrongShape()
    with pytest.raises(ValueError, match="expected"):
        selector(torch.randn(2, 12, 4))


def test_wrong_input_shape_message():
    selector = TimestampSelector(4, hidden_dim=8, num_heads=2, k=2)
    with pytest.raises(ValueError, match=r"\(n_samples, n_timestamps, 4\)"):
        selector(torch.randn(2, 12, 5))


def test_same_seed_same_output():
    x = torch.randn(3, 12, 4)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        selector = TimestampSelector(4, hidden_dim=8, num_heads=2, k=3, selection_method="gumbel")
        torch.manual_seed(8)
        outs.append(selector(x, return_scores=True))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])


@pytest.mark.slow
@pytest.mark.parametrize("method", ["topk", "gumbel"])
def test_score_function_gradient_finds_the_single_informative_step(method):
    """One marked step decides the label: the selector must find it on held-out series.

    Asserted over four seeds with a margin, not pinned to one: measured (seeds 0-4, 1 and 2
    torch threads) the score-function gradient selects the marked step in every held-out
    series (hit rate 1.00) for every seed, with accuracy >= 0.94. The straight-through
    gradient finds it only for some seeds (topk 3/5, gumbel 1/5): that is measured in
    ``benchmarks/selector_gradient.py``, not tested.
    """
    x_train, y_train, _ = make_marker_task(800, seed=1)
    x_test, y_test, pos_test = make_marker_task(300, seed=2)
    found = []
    for seed in range(4):
        est = InfluenceClassifier(
            k=1,
            selection_method=method,
            selector_gradient="score_function",
            predictor="attention",
            training_scheme="two_stage",
            max_epochs=20,
            module__hidden_dim=32,
            module__num_heads=2,
            module__dropout=0.0,
            random_state=seed,
        ).fit(x_train.numpy(), y_train.numpy())
        hit_rate = est.select(x_test.numpy())[np.arange(len(x_test)), pos_test.numpy()].mean()
        accuracy = est.score(x_test.numpy(), y_test.numpy())
        found.append(bool(hit_rate >= 0.9 and accuracy >= 0.85))
    assert sum(found) >= 3, found
