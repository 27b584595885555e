import copy

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from tsinfluence import InfluenceClassifier
from tsinfluence.estimators._net import (
    ADAPT_FRACTION,
    FINAL_TEMPERATURE_SCALE,
    TEACHER_SHARE,
    PhaseSchedule,
)
from tsinfluence.estimators._params import grouped
from tsinfluence.nn import InfluenceFramework
from tsinfluence.nn.selection.base import standardize
from tsinfluence.nn.selection.inclusion import gumbel_topk_inclusion


def _toy_data(n_samples: int, n_timestamps: int) -> tuple[np.ndarray, np.ndarray]:
    """Univariate noise whose label is the sign of step 3."""
    X = np.random.default_rng(0).normal(size=(n_samples, n_timestamps, 1))
    return X, (X[:, 3, 0] > 0).astype(int)


@pytest.mark.parametrize("epochs", [3, 10, 12, 63, 2000])
def test_two_stage_phases_tile_the_epochs_in_order(epochs):
    schedule = PhaseSchedule("two_stage", evaluator_fraction=0.8)
    bounds = schedule.phase_bounds(epochs)
    names = list(bounds)
    assert names == [p for p in ("teacher", "evaluator", "selector", "adapt") if p in names]
    edges = [edge for phase in names for edge in bounds[phase]]
    assert edges[0] == 0 and edges[-1] == epochs
    assert all(a == b for a, b in zip(edges[1:-1:2], edges[2::2], strict=True))  # contiguous
    selector = bounds["selector"]
    assert selector[1] - selector[0] == epochs - schedule.n_evaluator_epochs(epochs)
    assert schedule.final_phase(epochs) == names[-1]
    assert schedule.phase_at(epochs + 5, epochs) == names[-1]
    if epochs >= 10:
        start, end = bounds["adapt"]
        assert abs((end - start) / epochs - ADAPT_FRACTION) <= 1 / epochs
        teacher, before_selector = bounds["teacher"][1], bounds["evaluator"][1]
        assert abs(teacher - TEACHER_SHARE * before_selector) <= 1


def test_other_schemes_have_one_phase():
    assert PhaseSchedule("joint", 0.8).phase_bounds(7) == {"joint": (0, 7)}
    assert PhaseSchedule("frozen", 0.8).phase_bounds(7) == {"selector": (0, 7)}


def test_early_stopping_watches_only_the_final_phase():
    X, y = _toy_data(40, 12)
    est = InfluenceClassifier(
        k=3,
        max_epochs=15,
        early_stopping=True,
        early_stopping__patience=1,
        module__hidden_dim=8,
        random_state=0,
    ).fit(X, y)
    phases = list(est.history_[:, "phase"])
    fraction = grouped(est, "schedule__evaluator_fraction")
    bounds = PhaseSchedule("two_stage", fraction).phase_bounds(15)
    planned = [phase for phase, (start, end) in bounds.items() for _ in range(start, end)]
    # stopping may shorten the adapt phase, never skip it
    adapt_start = bounds["adapt"][0]
    assert phases[: adapt_start + 1] == planned[: adapt_start + 1]


class _WeightsAtAdaptStart(Callback):
    def on_epoch_begin(self, net, **kwargs):
        if net.module_.phase == "adapt" and not hasattr(self, "weights"):
            self.weights = copy.deepcopy(net.module_.predictor.state_dict())


@pytest.mark.parametrize("adapt_helps", [True, False])
def test_adapt_phase_is_undone_when_it_does_not_help(monkeypatch, adapt_helps):
    losses = iter([1.0, 0.5] if adapt_helps else [0.5, 1.0])  # before, after the phase

    def selection_loss(self, x, y, padding_mask=None):
        return torch.full((len(x),), next(losses))

    monkeypatch.setattr(InfluenceFramework, "selection_loss", selection_loss)
    X, y = _toy_data(24, 12)
    probe = _WeightsAtAdaptStart()
    est = InfluenceClassifier(
        k=3, max_epochs=12, batch_size=32, module__hidden_dim=8, callbacks=[probe], random_state=0
    ).fit(X, y)
    assert est.history_[-1, "adapt_kept"] is adapt_helps
    final = est.net_.module_.predictor.state_dict()
    (start,) = [cb.weights for _, cb in est.net_.callbacks_ if isinstance(cb, type(probe))]
    same = all(torch.equal(final[name], start[name]) for name in final)
    assert same is not adapt_helps
    guard = dict(est.net_.callbacks_)["adapt_guard"]
    assert guard.weights_ is None and guard.data_ is None  # nothing kept in the fitted net


def test_selector_phase_anneals_the_sampling_temperature():
    schedule = PhaseSchedule("two_stage", 0.85)
    start, end = schedule.phase_bounds(80)["selector"]
    scales = [schedule.temperature_scale_at(epoch, 80) for epoch in range(80)]
    assert scales[start] == 1.0 and scales[end - 1] == pytest.approx(FINAL_TEMPERATURE_SCALE)
    assert all(a > b for a, b in zip(scales[start : end - 1], scales[start + 1 : end]))
    assert set(scales[:start] + scales[end:]) == {1.0}

    class Record(Callback):
        def on_epoch_end(self, net, **kwargs):
            net.history.record("scale", net.module_.temperature_scale)

    X, y = _toy_data(24, 10)
    est = InfluenceClassifier(
        k=2, max_epochs=12, callbacks=[Record()], module__hidden_dim=8, random_state=0
    ).fit(X, y)
    recorded = {
        phase: scale for phase, scale in zip(est.history_[:, "phase"], est.history_[:, "scale"])
    }
    assert recorded["selector"] == pytest.approx(FINAL_TEMPERATURE_SCALE)
    assert recorded["teacher"] == recorded["adapt"] == 1.0
    assert est.net_.module_.temperature_scale == 1.0


@pytest.mark.parametrize(
    "selector_gradient, scale",
    [("score_function", FINAL_TEMPERATURE_SCALE), ("straight_through", 1.0)],
)
def test_influence_scores_are_inclusion_probabilities_at_the_last_sampling_temperature(
    selector_gradient, scale
):
    X, y = _toy_data(24, 10)
    est = InfluenceClassifier(
        k=2,
        max_epochs=12,
        selector_gradient=selector_gradient,
        module__hidden_dim=8,
        random_state=0,
    ).fit(X, y)
    module = est.net_.module_
    assert module.influence_temperature_scale == pytest.approx(scale)
    x = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        logits = module.selector.scorer(x)
    strategy = module.selector.strategy
    expected = gumbel_topk_inclusion(
        standardize(logits.double()) / (strategy.temperature * scale), torch.full((24,), 2)
    )
    np.testing.assert_allclose(est.influence_scores(X), expected.numpy(), atol=1e-6)
