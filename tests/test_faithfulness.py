"""Faithfulness: the selected steps are the ones that truly drive the target.

Synthetic sets with known influential steps (one event, two interacting events, a sum over
marked steps): the per-sample AUROC of ``influence_scores`` against the truth and the
precision at ``|truth|`` must be high, the accuracy / R² close to a model that sees the
whole series, and the EVAL-X encoding check small. The joint scheme is shown to encode on
the interaction task (its selections fool only its own predictor).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.datasets import make_box, make_interaction, make_marked_sum
from tsinfluence.metrics import auroc, encoding_gap, precision_at_k
from tsinfluence.nn.framework import InfluenceFramework
from tsinfluence.nn.heads import AttentionPoolingHead


def _split(X, y, truth, n_train):
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:], truth[n_train:]


# Dataset settings: not trivial (a per-step detector is not enough for XOR; the box is 3
# steps out of 50 at one noise standard deviation... times two), small enough to be fast.
CASES = {
    "single_event": dict(
        make=lambda: make_box(800, pattern="rare_time", box_strength=2.0, random_state=0),
        estimator=InfluenceClassifier,
        k=3,
    ),
    "interaction": dict(
        make=lambda: make_interaction(800, random_state=0),
        estimator=InfluenceClassifier,
        k=2,
    ),
    "marked_sum": dict(
        make=lambda: make_marked_sum(800, random_state=0),
        estimator=InfluenceRegressor,
        k=4,
    ),
}
FULL_SERIES_SCORE = {"single_event": 0.95, "interaction": 0.95, "marked_sum": 0.9}


def _fit(case, **params):
    spec = CASES[case]
    X, y, truth = spec["make"]()
    X_tr, y_tr, X_te, y_te, truth_te = _split(X, y, truth, 600)
    est = spec["estimator"](k=spec["k"], max_epochs=30, random_state=0, **params)
    est.fit(X_tr, y_tr)
    return est, X_tr, y_tr, X_te, y_te, truth_te


@pytest.mark.slow
@pytest.mark.parametrize("gradient", ["straight_through", "score_function"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_two_stage_finds_the_true_steps(case, gradient):
    est, X_tr, y_tr, X_te, y_te, truth_te = _fit(case, selector_gradient=gradient)
    scores = est.influence_scores(X_te)
    assert auroc(scores, truth_te) >= 0.95
    assert precision_at_k(scores, truth_te) >= 0.85
    # The selection alone predicts about as well as a model of the whole series could.
    assert est.score(X_te, y_te) >= FULL_SERIES_SCORE[case]
    # No encoding: an independently trained evaluator agrees with the estimator's score.
    gap = encoding_gap(est, X_te, y_te, X_train=X_tr, y_train=y_tr, random_state=7)
    assert abs(gap.gap) <= 0.1
    assert gap.independent_score >= gap.random_score + 0.2


@pytest.mark.slow
def test_joint_training_encodes_and_encoding_gap_flags_it():
    # Joint training scores well on its own predictor while the selection is wrong; the
    # gap between its own score and an independent evaluator's exposes it.
    est, X_tr, y_tr, X_te, y_te, truth_te = _fit(
        "marked_sum", training_scheme="joint", context_rate=0.0, dense_fraction=0.0
    )
    scores = est.influence_scores(X_te)
    assert est.score(X_te, y_te) >= 0.5
    assert auroc(scores, truth_te) < 0.8
    gap = encoding_gap(est, X_te, y_te, X_train=X_tr, y_train=y_tr, random_state=7)
    assert gap.gap >= 0.2


def test_attention_head_is_differentiable_in_the_mask_at_every_step():
    torch.manual_seed(0)
    head = AttentionPoolingHead(3, 2, hidden_dim=16, dropout=0.0)
    x = torch.randn(4, 12, 3)
    mask = torch.zeros(4, 12)
    mask[:, [2, 7]] = 1.0
    mask.requires_grad_(True)
    out, weights = head(x, mask)
    # Unselected steps contribute nothing to the forward pass ...
    assert torch.all(weights[:, [0, 1, 3, 4, 5, 6, 8, 9, 10, 11]] == 0)
    x2 = x.clone()
    x2[:, 0] += 100.0
    assert torch.allclose(head(x2, mask.detach())[0], out.detach())
    # ... yet every step, selected or not, gets a gradient.
    out[:, 0].sum().backward()
    assert torch.all(mask.grad.abs() > 0)


def test_attention_head_handles_an_empty_selection():
    torch.manual_seed(0)
    head = AttentionPoolingHead(2, 2, hidden_dim=8, dropout=0.0)
    x = torch.randn(3, 5, 2)
    mask = torch.zeros(3, 5, requires_grad=True)
    out, weights = head(x, mask)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.all(weights == 0)
    assert torch.isfinite(mask.grad).all()


def test_random_context_and_dense_curriculum_only_act_in_selector_training():
    torch.manual_seed(0)
    module = InfluenceFramework(2, hidden_dim=16, k=2, task="classification", output_dim=2)
    x = torch.randn(8, 10, 2)
    module.set_phase("selector")
    module.train()
    module.dense_fraction = 1.0
    _, mask, _ = module(x)
    assert torch.all(mask.sum(dim=1) == 10)  # budget widened to the whole series
    module.dense_fraction = 0.0
    _, mask, _ = module(x)
    assert torch.all(mask.sum(dim=1) == 2)
    module.dense_fraction = 1.0
    module.eval()
    _, mask, _ = module(x)
    assert torch.all(mask.sum(dim=1) == 2)  # never at prediction time
    assert module.selector.selector.k == 2  # the strategy's budget is restored


def test_deletion_term_prefers_the_true_steps():
    # Against an evaluator that reads x[:, t, 0] at marked steps, deleting the marked step
    # from the complement removes all information; keeping it in the complement does not.
    torch.manual_seed(0)
    module = InfluenceFramework(
        2, hidden_dim=16, k=1, task="classification", output_dim=2, alpha_deletion=1.0
    )

    class Reader(torch.nn.Module):
        def forward(self, x, mask, padding_mask=None):
            v = (x[:, :, 0] * x[:, :, 1] * mask).sum(dim=1) * 5.0
            return torch.stack([-v, v], dim=1), None

    module.predictor = Reader()
    module.set_phase("selector")
    x = torch.randn(64, 6, 2)
    x[:, :, 1] = 0.0
    x[:, 3, 1] = 1.0
    y = (x[:, 3, 0] > 0).long()
    true_mask = torch.zeros(64, 6)
    true_mask[:, 3] = 1.0
    wrong_mask = torch.zeros(64, 6)
    wrong_mask[:, 0] = 1.0
    good = module._deletion_term(x, y, true_mask, None)
    bad = module._deletion_term(x, y, wrong_mask, None)
    assert float(good) < 0.05 < float(bad)


def test_new_parameters_are_validated():
    X, y, _ = make_interaction(40, n_timestamps=8, random_state=0)
    for name, value in [
        ("context_rate", 1.5),
        ("dense_fraction", -0.1),
        ("alpha_deletion", -1.0),
        ("baseline", "median"),
    ]:
        with pytest.raises(ValueError, match=name):
            InfluenceClassifier(max_epochs=1, **{name: value}).fit(X, y)


def test_encoding_gap_validates_its_input():
    X, y, _ = make_interaction(60, n_timestamps=8, random_state=0)
    with pytest.raises(ValueError, match="fitted"):
        encoding_gap(InfluenceClassifier(), X, y)
    est = InfluenceClassifier(k=2, max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="samples"):
        encoding_gap(est, X, y[:-1])
    with pytest.raises(ValueError, match="max_epochs"):
        encoding_gap(est, X, y, max_epochs=0)
    result = encoding_gap(est, X, y, max_epochs=1)
    assert result.metric == "accuracy"
    assert np.isclose(result.gap, result.own_score - result.independent_score)
