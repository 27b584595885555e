import pytest
import torch

from tsinfluence.nn import GumbelTopKSelection, ThresholdSelection, TopKSelection, resolve_k
from tsinfluence.nn.selection import make_selection
from tsinfluence.nn.selection.base import hard_topk, relaxed_topk


def _valid(n, t):
    return torch.ones(n, t, dtype=torch.bool)


def test_resolve_k_int_fraction_none_and_clipping():
    valid = _valid(2, 10)
    valid[1, 4:] = False  # second series has 4 valid steps
    assert resolve_k(3, valid).tolist() == [3, 3]
    assert resolve_k(0.5, valid).tolist() == [5, 2]
    assert resolve_k(None, valid).tolist() == [10, 4]
    assert resolve_k(50, valid).tolist() == [10, 4]  # k >= length selects every valid step
    assert resolve_k(0.01, valid).tolist() == [1, 1]  # never zero
    for bad in (0, -1, 1.5, 0.0):
        with pytest.raises(ValueError, match="k must be"):
            resolve_k(bad, valid)
    with pytest.raises(TypeError):
        resolve_k("3", valid)


@pytest.mark.parametrize("cls", [TopKSelection, GumbelTopKSelection])
@pytest.mark.parametrize("training", [True, False])
def test_exact_k_hot_forward(cls, training):
    sel = cls(k=4).train(training)
    scores = torch.randn(6, 15, requires_grad=True)
    mask = sel(scores)
    assert set(mask.detach().unique().tolist()) <= {0.0, 1.0}
    assert (mask.sum(1) == 4).all()


def test_topk_selects_the_highest_scores_and_is_deterministic():
    scores = torch.tensor([[0.1, 3.0, -1.0, 2.0, 0.5]])
    mask = TopKSelection(k=2)(scores)
    assert mask.tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0]]
    assert torch.equal(TopKSelection(k=2)(scores), mask)


def test_gumbel_samples_in_training_and_is_topk_in_eval():
    scores = torch.zeros(200, 10)
    scores[:, 0] = 0.5
    sel = GumbelTopKSelection(k=1)
    train_picks = sel.train()(scores).argmax(1)
    assert len(train_picks.unique()) > 3  # noise spreads the choice
    assert (sel.eval()(scores).argmax(1) == 0).all()


@pytest.mark.parametrize("method", ["topk", "gumbel", "threshold"])
def test_padding_is_never_selected(method):
    sel = make_selection(method, k=3).train()
    scores = torch.randn(8, 12)
    pad = torch.zeros(8, 12, dtype=torch.bool)
    pad[:, 5:] = True
    scores = scores.masked_fill(pad, 100.0)  # even huge scores at padding must not win
    mask = sel(scores, pad)
    assert (mask[pad] == 0).all()
    assert (mask.sum(1) >= 1).all()


@pytest.mark.parametrize("method", ["topk", "gumbel", "threshold"])
def test_gradient_reaches_every_valid_score(method):
    """A broken straight-through estimator (no gradient, or only to selected steps) fails."""
    sel = make_selection(method, k=3).train()
    scores = torch.randn(4, 10, requires_grad=True)
    weights = torch.randn(4, 10)
    (sel(scores) * weights).sum().backward()
    grad = scores.grad
    assert torch.isfinite(grad).all()
    assert (grad.abs() > 0).float().mean() > 0.9


def test_topk_gradient_points_towards_a_useful_unselected_step():
    """Descending the loss must raise the score of a step whose selection lowers the loss."""
    scores = torch.tensor([[2.0, 1.0, 0.0, -1.0]], requires_grad=True)
    mask = TopKSelection(k=1)(scores)
    loss = -mask[0, 2]  # selecting step 2 would lower the loss
    loss.backward()
    assert scores.grad[0, 2] < 0  # gradient descent increases score 2
    assert scores.grad[0, 0] > 0


def test_threshold_never_selects_zero_steps_and_has_a_budget():
    sel = ThresholdSelection(k=0.2)
    scores = torch.full((3, 10), -50.0)
    mask = sel(scores)
    assert (mask.sum(1) == 1).all()
    budget = sel.budget_loss(torch.full((3, 10), 50.0))
    assert budget.item() == pytest.approx(0.8**2, rel=1e-4)
    assert sel.budget_loss(torch.zeros(3, 10)).item() == pytest.approx(0.3**2, rel=1e-4)
    assert ThresholdSelection(k=None).budget_loss(scores).item() == 0.0


def test_relaxed_topk_is_a_relaxed_k_hot():
    # Well separated scores (ranks), so a low temperature approaches the exact top-k.
    logits = torch.stack([torch.randperm(9).float() for _ in range(5)])
    ks = torch.tensor([1, 2, 3, 4, 9])
    soft = relaxed_topk(logits, ks, temperature=0.05)
    assert torch.allclose(soft.sum(1), ks.float(), atol=1e-3)
    assert torch.allclose(soft, hard_topk(logits, ks), atol=0.05)


def test_selection_validation_messages():
    with pytest.raises(ValueError, match="selection_method must be one of"):
        make_selection("random", k=2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        TopKSelection(k=2, temperature=0.0)
    with pytest.raises(ValueError, match="threshold must be in"):
        ThresholdSelection(k=2, threshold=1.5)


def test_large_budgets_use_a_linear_cost_relaxation():
    from tsinfluence.nn.selection.base import SUCCESSIVE_SOFTMAX_MAX_K

    k = SUCCESSIVE_SOFTMAX_MAX_K + 36
    logits = torch.stack([torch.randperm(400).float() for _ in range(3)]).requires_grad_()
    ks = torch.tensor([k, k, 400])
    soft = relaxed_topk(logits, ks, temperature=0.05)
    hard = hard_topk(logits.detach(), ks)
    assert ((soft > 0.5) == (hard > 0.5)).all()  # the relaxation agrees with the top-k
    (soft * torch.randn(3, 400)).sum().backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad != 0).any()
    mask = TopKSelection(k=k)(logits.detach().requires_grad_())
    assert (mask.sum(1) == k).all()
