"""Counterfactual search on fitted estimators, and the CounterfactualExplainer."""

import copy

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.counterfactual import (
    CounterfactualExplainer,
    CounterfactualGenerator,
    CounterfactualResult,
    generate_counterfactuals,
)
from tsinfluence.counterfactual.metrics import diversity
from tsinfluence.datasets import make_marked_sum, make_signal_event

# The models under test: settings passed explicitly so that a change of defaults does not
# change what is tested (the 0.2 defaults with a fixed epoch count). Measured for
# random_state 0-2 (1 torch thread, advantage floor 0.1): held-out accuracy of the signal
# model 0.73-0.83 (chance 0.5; 80 epochs, as at 40 it fell to 0.63-0.78), R² of the
# marked-sum model 0.78-0.90, and every assertion of this file passed for each of the three
# seeds; the guards sit under the worst seed.
SEED = 0
MODEL = dict(
    module__hidden_dim=32,
    predictor="cnn",
    scorer="cnn",
    training_scheme="two_stage",
    selector_gradient="score_function",
    lr=1e-3,
    batch_size=32,
)


@pytest.fixture(scope="module")
def signal():
    """A classifier whose class is decided by one short event (a few steps)."""
    X, y, _ = make_signal_event(n_samples=260, n_timestamps=20, n_channels=2, random_state=0)
    clf = InfluenceClassifier(k=3, max_epochs=80, random_state=SEED, **MODEL)
    clf.fit(X[:200], y[:200])
    accuracy = clf.score(X[200:], y[200:])
    assert accuracy >= 0.65, f"test model too weak to mean anything (accuracy {accuracy})"
    return clf, X[:200], y[:200], X[200:]


@pytest.fixture(scope="module")
def marked():
    X, y, _ = make_marked_sum(n_samples=260, n_timestamps=20, n_marked=4, random_state=0)
    reg = InfluenceRegressor(k=4, max_epochs=40, random_state=SEED, **MODEL)
    reg.fit(X[:200], y[:200])
    r2 = reg.score(X[200:], y[200:])
    assert r2 >= 0.3, f"test model too weak to mean anything (R^2 {r2})"
    return reg, X[:200], y[:200], X[200:]


def test_optimize_flips_classifier_editing_only_selected_steps(signal):
    clf, X_train, _, X = signal
    res = clf.counterfactual(X[:40], reference=X_train, random_state=0)
    assert isinstance(res, CounterfactualResult)
    assert res.X_cf.shape == X[:40].shape and res.edited.shape == X[:40].shape[:2]
    assert res.validity >= 0.95
    # Default target: the other class.
    np.testing.assert_array_equal(res.target, 1 - clf.predict(X[:40]))
    # Edits on the selected (influential) steps of the original series; a series that missed
    # its target after the first round may also edit what the selector picks on its attempt
    # (max_rounds), so only widened series edit more.
    selected = clf.select(X[:40])
    assert (res.edited >= selected).all()
    assert (res.edited != selected).any(axis=1).sum() <= res.info.get("widened", 0)
    assert not (res.changed & ~res.edited).any()
    unchanged = ~res.edited[..., None] | np.zeros_like(res.X_cf, dtype=bool)
    np.testing.assert_array_equal(res.X_cf[unchanged], res.X[unchanged])
    np.testing.assert_allclose(res.X, X[:40], rtol=1e-6)
    # valid is the estimator's own verdict on X_cf.
    np.testing.assert_array_equal(res.y_cf, clf.predict(res.X_cf))
    np.testing.assert_array_equal(res.valid, clf.predict(res.X_cf) == res.target)
    assert np.all(res.distance[res.valid] > 0)
    assert np.isfinite(res.X_cf).all() and "valid:" in res.summary()


def test_target_already_reached_needs_no_edit(signal):
    clf, X_train, _, X = signal
    res = clf.counterfactual(X[:10], target=clf.predict(X[:10]), reference=X_train)
    assert res.valid.all()
    np.testing.assert_array_equal(res.X_cf, res.X)
    np.testing.assert_array_equal(res.distance, 0.0)


def test_unknown_class_raises(signal):
    clf, _, _, X = signal
    with pytest.raises(ValueError, match="not one of the classes"):
        clf.counterfactual(X[:3], target=7)
    with pytest.raises(ValueError, match="target must be a scalar"):
        clf.counterfactual(X[:3], target=[0, 1])
    with pytest.raises(ValueError, match="shift is only for regressors"):
        clf.counterfactual(X[:3], shift=1.0)


def test_unreachable_target_is_invalid_not_an_error(signal, marked):
    clf, X_train, _, X = signal
    nothing = np.zeros(X[:8].shape[:2], dtype=bool)
    res = clf.counterfactual(X[:8], reference=X_train, edit=nothing, max_iter=5)
    assert not res.valid.any()
    np.testing.assert_array_equal(res.X_cf, res.X)
    reg, Xr_train, _, Xr = marked
    res = reg.counterfactual(Xr[:8], target=1e6, reference=Xr_train, max_iter=30)
    assert not res.valid.any()
    for array in (res.X_cf, res.y_cf, res.distance):
        assert np.isfinite(array).all()


def test_regression_targets_reached_within_tolerance(marked):
    reg, X_train, _, X = marked
    tol = 0.25
    res = reg.counterfactual(X[:30], shift=1.0, tolerance=tol, reference=X_train, random_state=0)
    assert res.validity >= 0.9
    np.testing.assert_allclose(res.target, reg.predict(X[:30]) + 1.0)
    np.testing.assert_allclose(res.y_cf, reg.predict(res.X_cf), rtol=1e-6, atol=1e-6)
    assert np.all(np.abs(res.y_cf[res.valid] - res.target[res.valid]) <= tol)
    assert not (res.changed & ~res.edited).any()
    # Absolute targets, per series.
    goal = np.linspace(-1.0, 1.0, 10)
    res = reg.counterfactual(X[:10], target=goal, tolerance=tol, reference=X_train)
    np.testing.assert_array_equal(res.target, goal)
    assert res.validity >= 0.9
    with pytest.raises(ValueError, match="either target"):
        reg.counterfactual(X[:3], target=1.0, shift=1.0)
    with pytest.raises(ValueError, match="tolerance must be a positive"):
        reg.counterfactual(X[:3], shift=1.0, tolerance=0)


def test_counterfactual_never_changes_the_estimator(signal):
    clf, X_train, _, X = signal
    params = clf.get_params()
    state = copy.deepcopy(clf.net_.module_.state_dict())
    flags = [m.training for m in clf.net_.module_.modules()]
    grads = [None if p.grad is None else p.grad.clone() for p in clf.net_.module_.parameters()]
    before = clf.predict_proba(X)
    rng_state = torch.random.get_rng_state()
    clf.counterfactual(X[:10], reference=X_train, n_samples=2, random_state=0)
    clf.counterfactual(X[:10], method="perturbation", random_state=0)
    assert clf.get_params() == params
    after = clf.net_.module_.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)
    assert [m.training for m in clf.net_.module_.modules()] == flags
    for g, p in zip(grads, clf.net_.module_.parameters()):
        assert (g is None and p.grad is None) or torch.equal(g, p.grad)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert torch.equal(torch.random.get_rng_state(), rng_state)


def test_several_diverse_samples(signal):
    clf, X_train, _, X = signal
    n, S = 12, 3
    res = clf.counterfactual(X[:n], n_samples=S, reference=X_train, random_state=0)
    T, D = X.shape[1:]
    assert res.X_cf.shape == (n, S, T, D)
    assert res.valid.shape == res.y_cf.shape == res.distance.shape == (n, S)
    assert res.selected_cf.shape == (n, S, T) and res.edited.shape == (n, T)
    assert res.validity >= 0.8
    np.testing.assert_array_equal(res.y_cf, clf.predict(res.X_cf.reshape(-1, T, D)).reshape(n, S))
    both = res.valid.all(1)
    assert both.sum() >= n // 2
    assert np.all(diversity(res.X_cf[both]) > 1e-3)
    assert not (res.changed & ~res.edited[:, None]).any()


def test_univariate_2d_input_round_trip():
    X, y, _ = make_signal_event(
        n_samples=200, n_timestamps=16, n_channels=1, event_strength=3.0, random_state=0
    )
    X2 = X[..., 0]
    clf = InfluenceClassifier(k=3, max_epochs=40, random_state=SEED, **MODEL)
    clf.fit(X2[:160], y[:160])
    assert clf.score(X2[160:], y[160:]) >= 0.8
    res = clf.counterfactual(X2[160:], reference=X2[:160], random_state=0)
    assert res.X_cf.shape == (40, 16) and res.X.shape == (40, 16)
    np.testing.assert_array_equal(res.y_cf, clf.predict(res.X_cf))
    assert res.changed.shape == (40, 16)
    assert not (res.changed & ~res.edited).any()
    assert res.validity >= 0.95


def test_padding_is_never_edited(signal):
    clf, X_train, _, X = signal
    Xp = X[:8].copy()
    Xp[:4, -5:] = np.nan
    res = clf.counterfactual(Xp, edit="all", reference=X_train, random_state=0)
    assert np.isnan(res.X_cf[:4, -5:]).all()
    assert not res.edited[:4, -5:].any() and res.edited[4:, -5:].all()
    assert np.isfinite(res.X_cf[:4, :-5]).all()
    np.testing.assert_array_equal(res.y_cf, clf.predict(res.X_cf))


def test_nearest_uses_donors_and_stays_valid(signal):
    clf, X_train, y_train, X = signal
    res = clf.counterfactual(X[:30], method="nearest", reference=(X_train, y_train), random_state=0)
    assert res.validity >= 0.9
    assert not (res.changed & ~res.edited).any()
    np.testing.assert_array_equal(res.valid, clf.predict(res.X_cf) == res.target)
    assert 0 < res.info["donor_valid"] <= 1
    # Without refinement a copy from a donor is left as it is.
    raw = clf.counterfactual(X[:30], method="nearest", reference=X_train, refine=False)
    assert not (raw.changed & ~raw.edited).any()
    np.testing.assert_array_equal(raw.valid, clf.predict(raw.X_cf) == raw.target)


@pytest.mark.parametrize("method", ["perturbation", "replacement", "removal"])
@pytest.mark.parametrize(
    "intervention", ["modify_selected", "modify_unselected", "remove_selected", "remove_unselected"]
)
def test_model_free_methods_report_validity_honestly(signal, method, intervention):
    clf, _, _, X = signal
    res = clf.counterfactual(X[:10], method=method, intervention_type=intervention, random_state=0)
    selected = clf.select(X[:10])
    expected = selected if intervention.endswith("_selected") else ~selected
    np.testing.assert_array_equal(res.edited, expected)
    assert not (res.changed & ~res.edited).any()
    np.testing.assert_array_equal(res.valid, clf.predict(res.X_cf) == res.target)
    again = clf.counterfactual(
        X[:10], method=method, intervention_type=intervention, random_state=0
    )
    np.testing.assert_array_equal(res.X_cf, again.X_cf)


def test_bad_arguments(signal):
    clf, _, _, X = signal
    with pytest.raises(ValueError, match="method must be one of"):
        clf.counterfactual(X[:2], method="magic")
    with pytest.raises(ValueError, match="n_samples"):
        clf.counterfactual(X[:2], n_samples=0)
    with pytest.raises(ValueError, match="metric"):
        clf.counterfactual(X[:2], metric="dtw")
    with pytest.raises(ValueError, match="edit"):
        clf.counterfactual(X[:2], edit=np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match="intervention_type"):
        clf.counterfactual(X[:2], method="removal", intervention_type="erase")
    with pytest.raises(ValueError, match="bounds"):
        clf.counterfactual(X[:2], bounds="box")
    with pytest.raises(ValueError, match="tuple"):
        clf.counterfactual(X[:2], reference=(X[:5], X[:5], X[:5]))
    with pytest.raises(ValueError, match="channels"):
        clf.counterfactual(X[:2, :, :1])
    with pytest.raises(TypeError):
        clf.counterfactual(X[:2], learning_rate=0.1)
    with pytest.raises(NotFittedError):
        generate_counterfactuals(InfluenceClassifier(), X[:2])


def test_reproducible_with_random_state(signal):
    clf, X_train, _, X = signal
    a = clf.counterfactual(X[:6], n_samples=2, reference=X_train, random_state=3)
    b = clf.counterfactual(X[:6], n_samples=2, reference=X_train, random_state=3)
    np.testing.assert_array_equal(a.X_cf, b.X_cf)


# ---------------------------------------------------------------------- explainer
class _Linear(torch.nn.Module):
    def __init__(self, T, D, C=2):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(T * D, C, generator=g))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x.flatten(1) @ self.w


def test_seed_explainer_usage_and_effects():
    x = torch.randn(5, 8, 3)
    mask = torch.zeros(5, 8)
    mask[:, 2:4] = 1
    generator = CounterfactualGenerator(input_dim=3, hidden_dim=16, generation_method="removal")
    model = _Linear(8, 3)
    explainer = CounterfactualExplainer(generator, model)
    explanation = explainer.explain_prediction(
        x, mask, intervention_types=["modify_selected", "remove_selected"]
    )
    assert set(explanation) == {"original", "modify_selected", "remove_selected"}
    entry = explanation["remove_selected"]
    cf = generator(x, mask, "remove_selected")
    torch.testing.assert_close(entry["counterfactual"], cf)
    p0 = torch.softmax(model(x), 1)
    p1 = torch.softmax(model(cf), 1)
    c = p0.argmax(1)
    torch.testing.assert_close(entry["effect"], p0[range(5), c] - p1[range(5), c])
    torch.testing.assert_close(entry["changed"], p1.argmax(1) != c)
    assert entry["edited"].equal(mask > 0.5)
    attribution = explainer.compute_attribution_scores(x, mask)
    assert attribution.shape == (5, 8)
    assert (attribution[mask == 0] == 0).all()


def test_attribution_is_batched_occlusion():
    torch.manual_seed(1)
    x = torch.randn(4, 6, 2)
    model = _Linear(6, 2)
    generator = CounterfactualGenerator(input_dim=2)
    explainer = CounterfactualExplainer(generator, model, batch_size=7)
    model.calls = 0
    att = explainer.compute_attribution_scores(x, baseline="zero")
    # One pass for the originals, then ceil(n * T / batch_size) passes, not n * T.
    assert model.calls == 1 + int(np.ceil(4 * 6 / 7))
    p = torch.softmax(model(x), 1)
    c = p.argmax(1)
    expected = torch.zeros(4, 6)
    for t in range(6):
        occluded = x.clone()
        occluded[:, t] = 0
        expected[:, t] = p[range(4), c] - torch.softmax(model(occluded), 1)[range(4), c]
    torch.testing.assert_close(att, expected)


def test_explainer_regression_model_and_errors():
    x = torch.randn(3, 5, 2)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 1))
    explainer = CounterfactualExplainer(CounterfactualGenerator(2), model)
    out = explainer.explain_prediction(x, torch.ones(3, 5), "remove_selected")
    assert out["original"]["output"].shape == (3,)
    with pytest.raises(TypeError, match="CounterfactualGenerator"):
        CounterfactualExplainer(model, model)
    with pytest.raises(TypeError, match="model"):
        CounterfactualExplainer(CounterfactualGenerator(2))
    with pytest.raises(ValueError, match="intervention_types"):
        explainer.explain_prediction(x, torch.ones(3, 5), ["swap"])
    with pytest.raises(ValueError, match="mask is required"):
        explainer.explain_prediction(x, None)


def test_explainer_on_estimator(signal):
    clf, X_train, _, X = signal
    explainer = CounterfactualExplainer(clf)
    explanation = explainer.explain_prediction(X[:6])
    np.testing.assert_array_equal(
        clf.classes_[explanation["original"]["prediction"]], clf.predict(X[:6])
    )
    assert isinstance(explanation["remove_selected"]["effect"], np.ndarray)
    att = explainer.compute_attribution_scores(X[:6])
    selected = clf.select(X[:6])
    assert att.shape == (6, X.shape[1]) and np.all(att[~selected] == 0)
    res = explainer.counterfactual(X[:6], reference=X_train, random_state=0)
    np.testing.assert_array_equal(res.valid, clf.predict(res.X_cf) == res.target)
    with pytest.raises(ValueError, match="model only with a generator"):
        CounterfactualExplainer(clf, torch.nn.Identity())
