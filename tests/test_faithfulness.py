"""Faithfulness: the selected steps are the ones that truly drive the target.

Synthetic sets with known influential steps (one event, two interacting events, a sum over
marked steps): the per-sample AUROC of ``influence_scores`` against the truth and the
precision at ``|truth|`` must be high, the accuracy / R² close to a model that sees the
whole series, and the EVAL-X encoding check small. The encoding check itself is tested on
hand-made selections that certainly encode the target (and certainly do not). That joint
training encodes is a measured row of ``benchmarks/schemes.py``, not a test: where one joint
fit lands depends on the machine's floating-point paths (AUROC 0.94 on one machine, under
0.8 on another).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.datasets import make_box, make_interaction, make_marked_sum
from tsinfluence.metrics import aup, aur, auroc, encoding_gap, precision_at_k
from tsinfluence.nn.framework import InfluenceFramework
from tsinfluence.nn.heads import AttentionPoolingHead
from tsinfluence.nn.phase_losses import SUFFICIENT_LOSS


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
# Below the worst of 3 seeds of the default model in benchmarks/schemes.py (single event
# 1.000, interaction 0.875, marked sum R² 0.949), with a margin for other CPUs.
FULL_SERIES_SCORE = {"single_event": 0.95, "interaction": 0.8, "marked_sum": 0.85}
# The default estimator with its default budget: the faithfulness claims are about it.
SETTINGS: dict = {}


def _fit(case, random_state=0, **params):
    spec = CASES[case]
    X, y, truth = spec["make"]()
    X_tr, y_tr, X_te, y_te, truth_te = _split(X, y, truth, 600)
    params = {**SETTINGS, **params}
    est = spec["estimator"](k=spec["k"], random_state=random_state, **params)
    est.fit(X_tr, y_tr)
    return est, X_tr, y_tr, X_te, y_te, truth_te


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_two_stage_finds_the_true_steps(case):
    """The default estimator finds the true steps without encoding.

    The bars are the issue's (AUROC >= 0.95, precision >= 0.85); what the defaults reach
    over 3 seeds is in benchmarks/RESULTS.md (schemes).
    """
    est, X_tr, y_tr, X_te, y_te, truth_te = _fit(case)
    scores = est.influence_scores(X_te)
    assert auroc(scores, truth_te) >= 0.95
    assert precision_at_k(scores, truth_te) >= 0.85
    # Precise and complete at once (issue 16): seeds 0-2 reached AUP >= 0.958 and AUR >=
    # 0.953 on all three cases (docs/faithfulness_notes.md); the bars leave a margin.
    assert aup(scores, truth_te) >= 0.85
    assert aur(scores, truth_te) >= 0.85
    # The selection alone predicts about as well as a model of the whole series could.
    assert est.score(X_te, y_te) >= FULL_SERIES_SCORE[case]
    # No encoding: the estimator does not score better on its selections than an
    # independently trained evaluator does (a negative gap is the evaluator doing better,
    # e.g. -0.115 on the interaction set's worst seed in benchmarks/schemes.py).
    gap = encoding_gap(est, X_te, y_te, X_train=X_tr, y_train=y_tr, random_state=7)
    assert gap.gap <= 0.1
    assert gap.independent_score >= gap.random_score + 0.2


class _HandSelector(nn.Module):
    """Base of the hand-made selectors (one frozen parameter: estimators read their dtype)."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1), requires_grad=False)

    def _mask(self, x):
        raise NotImplementedError

    def forward(self, x, padding_mask=None, return_scores=False):
        mask = self._mask(x).to(x.dtype)
        return (mask, mask.clone()) if return_scores else mask


class _PositionCodeSelector(_HandSelector):
    """Selects one noise step whose *position* encodes the target ``x[:, 0, 0]``.

    The selector reads the target from the whole series and selects step ``1 + b``, ``b``
    its quantile bin among ``edges`` (11 bins, steps 1 to 11).
    """

    def __init__(self, edges: torch.Tensor):
        super().__init__()
        self.register_buffer("edges", edges)

    def _mask(self, x):
        return F.one_hot(1 + torch.bucketize(x[:, 0, 0].contiguous(), self.edges), x.shape[1])


class _TrueStepSelector(_HandSelector):
    """Selects step 0, the step that decides the target."""

    def _mask(self, x):
        return F.one_hot(torch.zeros(len(x), dtype=torch.long), x.shape[1])


class _PositionReader(nn.Module):
    """Predicts from *which* step is selected (a table of bin centres), never its value."""

    def __init__(self, centres: torch.Tensor):
        super().__init__()
        self.register_buffer("centres", centres)

    def forward(self, x, mask, padding_mask=None):
        value = mask[:, 1:] @ self.centres.to(x.dtype)
        return torch.stack([value, torch.zeros_like(value)], dim=1), None


class _ValueReader(nn.Module):
    """Predicts from the values of the selected steps (their sum)."""

    def forward(self, x, mask, padding_mask=None):
        value = (x[:, :, 0] * mask).sum(dim=1)
        return torch.stack([value, torch.zeros_like(value)], dim=1), None


def _hand_made_regressor(honest: bool):
    """A fitted regressor whose selector and predictor are replaced by hand-made modules.

    ``y = x[:, 0, 0]``; step 0 is marked in channel 1 and every other value is independent
    noise. Encoding: the selection is one noise step whose position is the quantile bin of
    ``y``, and the predictor reads the position (own R² 0.96): the selected *values* say
    nothing about ``y``. Honest: the selection is step 0 and the predictor reads its value
    (own R² exactly 1).
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 12, 2)).astype(np.float32)
    X[:, :, 1] = 0.0
    X[:, 0, 1] = 1.0
    y = X[:, 0, 0].astype(np.float64)
    # The settings matter only for the architecture of the evaluator encoding_gap trains.
    est = InfluenceRegressor(
        k=1,
        predictor="attention",
        module__hidden_dim=16,
        module__num_heads=2,
        max_epochs=1,
        random_state=0,
    ).fit(X[:400], y[:400])
    est.target_mean_, est.target_scale_ = 0.0, 1.0  # the hand-made predictors speak y's units
    module = est.net_.module_
    if honest:
        module.selector, module.predictor = _TrueStepSelector(), _ValueReader()
    else:
        y_tr = torch.as_tensor(y[:400]).float()
        edges = torch.quantile(y_tr, torch.linspace(0, 1, 12)[1:-1])
        bins = torch.bucketize(y_tr, edges)
        centres = torch.stack([y_tr[bins == b].mean() for b in range(11)])
        module.selector, module.predictor = _PositionCodeSelector(edges), _PositionReader(centres)
    return est, X[:400], y[:400], X[400:], y[400:]


# Evaluator: 20 epochs. Measured over evaluator seeds 7-11 and 1 and 2 torch threads (10
# runs): encoding own R² 0.96, independent R² <= 0.05, random <= 0.18, gap >= 0.92; honest
# gap <= 0.05, independent R² >= 0.95.


def test_encoding_gap_flags_a_selection_that_encodes_the_target():
    est, X_tr, y_tr, X_te, y_te = _hand_made_regressor(honest=False)
    selected = est.select(X_te)
    assert selected.sum(axis=1).tolist() == [1] * len(X_te) and not selected[:, 0].any()
    gap = encoding_gap(est, X_te, y_te, X_train=X_tr, y_train=y_tr, max_epochs=20, random_state=7)
    assert gap.own_score >= 0.9  # the position code alone predicts y
    assert gap.independent_score <= 0.3 and gap.random_score <= 0.3
    assert gap.gap >= 0.6


def test_encoding_gap_does_not_flag_an_honest_selection():
    est, X_tr, y_tr, X_te, y_te = _hand_made_regressor(honest=True)
    assert est.select(X_te)[:, 0].all() and est.select(X_te).sum() == len(X_te)
    gap = encoding_gap(est, X_te, y_te, X_train=X_tr, y_train=y_tr, max_epochs=20, random_state=7)
    assert gap.own_score == pytest.approx(1.0)
    assert gap.gap <= 0.2
    assert gap.independent_score >= gap.random_score + 0.5


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


def _two_copies_penalty(scale: float):
    """Deletion penalty of the score-function reward for a chosen pair of steps.

    Two marked copies of one value, read by a predictor whose logit margin saturates at
    ``scale`` from either copy: sufficiency cannot tell {copy, copy} from {copy, other}.
    """
    torch.manual_seed(0)
    module = InfluenceFramework(
        2,
        hidden_dim=16,
        k=2,
        task="classification",
        output_dim=2,
        alpha_deletion=1.0,
        selector_gradient="score_function",
    )

    class SaturatingReader(torch.nn.Module):
        def forward(self, x, mask, padding_mask=None):
            v = scale * torch.tanh(50.0 * (x[:, :, 0] * x[:, :, 1] * mask).sum(dim=1))
            return torch.stack([-v, v], dim=1), None

    module.predictor = SaturatingReader()
    module.set_phase("selector")
    module.eval()  # no curriculum, no random context
    module.temperature_scale = 0.01  # so sharp that every sampled subset is the top 2
    x = torch.randn(64, 6, 2)
    x[:, 2, 0] = x[:, 2, 0].sign() * (0.5 + x[:, 2, 0].abs())  # tanh(50 * 0.5) = 1
    x[:, 3, 0] = x[:, 2, 0]
    x[:, :, 1] = 0.0
    x[:, 2:4, 1] = 1.0
    y = (x[:, 2, 0] > 0).long()

    def penalty(steps, alpha=1.0):
        module.alpha_deletion = alpha
        logits = torch.full((64, 6), -50.0)
        logits[:, steps] = 50.0
        loss, deletion = module._score_function_term(x, y, logits, None, None)
        assert torch.isfinite(loss)
        return None if deletion is None else float(deletion)

    return penalty


def test_score_function_rewards_carry_the_deletion_term():
    # A sure reader (label probability sigmoid(20) from either copy): only the deletion term,
    # scored on the complement inside each sampled subset's reward, prefers both copies.
    penalty = _two_copies_penalty(scale=10.0)
    assert penalty([2, 3]) < 0.05 < penalty([2, 0])
    assert penalty([2, 0], alpha=0.0) is None


def test_deletion_reward_only_breaks_ties_among_sufficient_subsets():
    # An unsure reader (label probability sigmoid(2) = 0.88, a loss above SUFFICIENT_LOSS):
    # the label likelihood still ranks its subsets, so a classifier trained on the labels
    # adds no deletion term; the same subsets of the sure reader above get one.
    assert SUFFICIENT_LOSS < -np.log(1 / (1 + np.exp(-2.0)))
    assert _two_copies_penalty(scale=1.0)([2, 0]) == 0.0


def test_new_parameters_are_validated():
    X, y, _ = make_interaction(40, n_timestamps=8, random_state=0)
    for name, value in [
        ("schedule__context_rate", 1.5),
        ("schedule__dense_fraction", -0.1),
        ("loss__alpha_deletion", -1.0),
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
