"""Black-box mode: explain a frozen user model without changing it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.metrics import auroc, precision_at_k
from tsinfluence.nn import InfluenceFramework, ModelAgnosticWrapper
from tsinfluence.nn.adapters import MaskBaseline


class MarkedStepModel(nn.Module):
    """Logits from ``x[:, t*, 0]`` where ``t*`` is the step flagged by channel 1."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(3.0))
        self.unused = nn.Linear(3, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        v = (x[:, :, 0] * x[:, :, 1]).sum(dim=1) * self.scale
        return torch.stack([-v, v], dim=1)


class MarkedSumModel(nn.Module):
    """Regression: ``10 + sum of x[:, t, 0]`` over the steps flagged by channel 1."""

    def forward(self, x):
        return 10.0 + (x[:, :, 0] * x[:, :, 1]).sum(dim=1)


def _marked(n=300, T=20, n_marked=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 3)).astype(np.float32)
    X[:, :, 1] = 0.0
    pos = np.argsort(rng.random((n, T)), axis=1)[:, :n_marked]
    X[np.arange(n)[:, None], pos, 1] = 1.0
    return X, X[:, :, 1] > 0


# The training settings the selector-quality tests depend on, explicit so that a change of
# defaults does not change what is tested. Measured for random_state 0-4 (1 torch thread) and
# 0-1 (2 threads): classifier AUROC, precision, fidelity and accuracy 1.0; regressor AUROC
# >= 0.997, fidelity >= 0.99, mean prediction 10.08-10.11.
TRAINING = dict(training_scheme="two_stage", selector_gradient="score_function", max_epochs=12)


def _snapshot(model):
    return (
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        [p.requires_grad for p in model.parameters()],
        [m.training for m in model.modules()],
    )


@pytest.mark.slow
def test_classifier_explains_a_frozen_model_and_leaves_it_untouched():
    X, truth = _marked()
    model = MarkedStepModel()
    model.train()  # the user's mode must be left as it was ...
    model.unused.weight.requires_grad_(False)  # ... and so must the flags
    before = _snapshot(model)
    y = (X[np.arange(len(X)), truth.argmax(1), 0] > 0).astype(int)
    est = InfluenceClassifier(
        predictor=model, freeze_predictor=True, k=1, random_state=0, **TRAINING
    ).fit(X[:200], y[:200])
    after = _snapshot(model)
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert before[1:] == after[1:]
    scores = est.influence_scores(X[200:])
    assert auroc(scores, truth[200:]) >= 0.95
    assert precision_at_k(scores, truth[200:]) >= 0.9
    assert est.fidelity(X[200:]) >= 0.95
    assert est.score(X[200:], y[200:]) >= 0.95  # sklearn semantics: against y
    assert est.select(X[200:]).sum(axis=1).tolist() == [1] * 100


@pytest.mark.slow
def test_regressor_black_box_predicts_in_the_units_of_the_model():
    X, truth = _marked(n_marked=3)
    model = MarkedSumModel()
    y = model(torch.as_tensor(X)).numpy()
    est = InfluenceRegressor(
        predictor=model, freeze_predictor=True, k=3, random_state=0, **TRAINING
    ).fit(X[:200], y[:200])
    scores = est.influence_scores(X[200:])
    assert auroc(scores, truth[200:]) >= 0.95
    assert est.fidelity(X[200:]) >= 0.9
    # Predictions are the frozen model's own outputs (no target re-scaling).
    assert abs(float(np.mean(est.predict(X[200:]))) - 10.0) < 1.0


def test_regressor_black_box_keeps_the_targets_in_their_units():
    X, _ = _marked(n=60, n_marked=3)
    model = MarkedSumModel()
    y = model(torch.as_tensor(X)).numpy()
    est = InfluenceRegressor(
        predictor=model, freeze_predictor=True, k=3, max_epochs=1, random_state=0
    ).fit(X, y)
    assert (est.target_mean_, est.target_scale_) == (0.0, 1.0)
    # the counterfactual search's reference series carry the user's targets
    reference = est._cf_reference_["y"]
    assert np.isin(reference.astype(np.float32), y.astype(np.float32)).all()


def test_a_fitted_skorch_net_is_accepted_as_the_predictor():
    from skorch import NeuralNet

    X, truth = _marked(n=120)
    net = NeuralNet(MarkedStepModel, criterion=nn.CrossEntropyLoss, max_epochs=1).initialize()
    y = (X[np.arange(len(X)), truth.argmax(1), 0] > 0).astype(int)
    est = InfluenceClassifier(
        predictor=net, freeze_predictor=True, k=1, max_epochs=2, random_state=0
    ).fit(X, y)
    assert est.predict(X[:5]).shape == (5,)
    assert est.net_.module_.predictor.module is not net.module_  # a copy


def test_wrong_output_shape_of_the_frozen_model_is_a_clear_error():
    X, truth = _marked(n=40)
    y = np.arange(40) % 3  # three classes, but the model gives two logits
    est = InfluenceClassifier(predictor=MarkedStepModel(), freeze_predictor=True, max_epochs=1)
    with pytest.raises(ValueError, match="3 logits"):
        est.fit(X, y)


@pytest.mark.parametrize("baseline", ["zeros", "mean", "noise", "sample", "learned", "interpolate"])
def test_baselines(baseline):
    X, truth = _marked(n=60)
    y = (X[np.arange(len(X)), truth.argmax(1), 0] > 0).astype(int)
    est = InfluenceClassifier(
        predictor=MarkedStepModel(),
        freeze_predictor=True,
        baseline=baseline,
        k=2,
        max_epochs=2,
        random_state=0,
    ).fit(X, y)
    # Deterministic at prediction time, whatever the baseline.
    np.testing.assert_array_equal(est.predict_proba(X), est.predict_proba(X))


def test_mask_baseline_values():
    mean = torch.full((4, 2), 2.0)
    std = torch.full((4, 2), 0.5)
    x = torch.zeros(3, 4, 2)
    assert torch.all(MaskBaseline("zeros", 4, 2, mean, std)(x) == 0)
    assert torch.all(MaskBaseline("mean", 4, 2, mean, std)(x) == 2.0)
    noise = MaskBaseline("noise", 4, 2, mean, std)
    noise.train()
    assert noise(x).shape == (3, 4, 2)
    noise.eval()
    assert torch.equal(noise(x), noise(x))
    learned = MaskBaseline("learned", 4, 2, mean, std)
    assert [n for n, _ in learned.named_parameters()] == ["learned"]
    with pytest.raises(ValueError, match="baseline"):
        MaskBaseline("median", 4, 2)
    lines = MaskBaseline("interpolate", 4, 2, mean, std)
    x = torch.arange(4.0).reshape(1, 4, 1).repeat(1, 1, 2) * 2.0
    mask = torch.tensor([[1.0, 0.0, 0.0, 1.0]])
    assert torch.equal(lines(x, mask), x)  # a straight line: filled exactly
    with pytest.raises(ValueError, match="needs the selection mask"):
        lines(x)


def test_interpolate_baseline_builds_an_interpolating_cnn_predictor():
    X, truth = _marked(n=40)
    y = (X[np.arange(len(X)), truth.argmax(1), 0] > 0).astype(int)
    est = InfluenceClassifier(baseline="interpolate", k=2, max_epochs=3, random_state=0)
    est.fit(X, y)
    assert est.net_.module_.predictor.fill == "interpolate"
    default = InfluenceClassifier(k=2, max_epochs=3, random_state=0).fit(X, y)
    assert default.net_.module_.predictor.fill == "zeros"


@pytest.mark.slow
def test_model_agnostic_wrapper_black_box_trains_only_the_selector():
    torch.manual_seed(0)
    X, truth = _marked(n=160)
    x = torch.as_tensor(X)
    model = MarkedStepModel()
    before = _snapshot(model)
    framework = InfluenceFramework(
        3,
        hidden_dim=32,
        k=1,
        task="classification",
        output_dim=2,
        selector_gradient="straight_through",
    )
    baseline = MaskBaseline("mean", 20, 3, x.mean(dim=0), x.std(dim=0))
    wrapper = ModelAgnosticWrapper(model, framework, freeze_base_model=True, baseline=baseline)
    optimizer = torch.optim.Adam(wrapper.trainable_parameters(), lr=3e-3)
    assert all(p is not model.scale for p in wrapper.trainable_parameters())
    for epoch in range(10):
        framework.dense_fraction = max(0.0, 0.5 * (1 - epoch / 5))
        for start in range(0, 160, 32):
            parts = wrapper.train_step(x[start : start + 32], None, optimizer)
    framework.dense_fraction = 0.0
    assert set(parts) == {"task", "budget", "total"}
    after = _snapshot(model)
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert before[1:] == after[1:]
    framework.eval()
    with torch.no_grad():
        scores = framework.influence(x).numpy()
    # Measured for torch seeds 0-4 (initialisation; 1 thread) and 0-1 (2 threads): 0.971-0.983.
    assert auroc(scores, truth) >= 0.9


# ---------------------------------------------------------------- models without gradient
def _box(n=160, T=20, seed=0):
    """Univariate series whose class is the sign of a shift at the fixed steps 8..11."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, T)).astype(np.float32)
    X[:, 8:12] += (2.0 * y - 1.0)[:, None]
    truth = np.zeros((n, T), dtype=bool)
    truth[:, 8:12] = True
    return X, y, truth


def _logistic(X, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)


def _fit_black_box(predictor, X, y, **params):
    params = {"k": 4, "max_epochs": 2, "batch_size": 32, "random_state": 0, **params}
    return InfluenceClassifier(predictor=predictor, freeze_predictor=True, **params).fit(X, y)


class CountingModel:
    """A plain callable: P(class 1) from the mean of steps 8..11; records every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, X):
        self.calls.append(X.shape)
        values = X if X.ndim == 2 else X[:, :, 0]
        p = 1.0 / (1.0 + np.exp(-4.0 * values[:, 8:12].mean(axis=1)))
        return np.stack([1.0 - p, p], axis=1)


def test_a_fitted_sklearn_pipeline_is_explained_and_left_untouched():
    from sklearn.base import clone

    X, y, truth = _box()
    model = _logistic(X, y)
    params, coef = clone(model).get_params(), model[-1].coef_.copy()
    est = _fit_black_box(model, X, y)
    assert model[-1].coef_ is not None and np.array_equal(model[-1].coef_, coef)
    assert {k: repr(v) for k, v in model.get_params().items()} == {
        k: repr(v) for k, v in params.items()
    }
    assert est.net_.module_.selector_gradient == "score_function"  # the default
    assert est.predict(X[:5]).shape == (5,)
    assert est.influence_scores(X[:5]).shape == (5, 20)
    assert 0.0 <= est.fidelity(X) <= 1.0


def test_margins_are_read_from_decision_function_and_hard_probabilities_stay_finite():
    from sklearn.tree import DecisionTreeClassifier

    from tsinfluence.estimators._blackbox import make_black_box

    X, y, _ = _box()
    X3 = X[:, :, None].astype(np.float64)
    classes = np.array([0, 1])
    model = _logistic(X, y)
    black_box = make_black_box(model, "classification", classes, X, X3)
    assert black_box.method == "decision_function"
    logits = torch.as_tensor(black_box(X3))
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), model.predict_proba(X), atol=1e-6)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)  # hard 0/1 probabilities
    black_box = make_black_box(tree, "classification", classes, X, X3)
    assert black_box.method == "predict_proba"
    logits = black_box(X3)
    assert np.isfinite(logits).all()
    np.testing.assert_array_equal(logits.argmax(1), tree.predict(X))


def test_margins_of_a_model_without_probabilities_are_scaled_to_the_agreement_confidence():
    from sklearn.linear_model import RidgeClassifier

    from tsinfluence.estimators._blackbox import MARGIN_CONFIDENCE, make_black_box

    X, y, _ = _box()
    X3 = X[:, :, None].astype(np.float64)
    ridge = RidgeClassifier().fit(X, y)  # margins for +-1 targets, no predict_proba
    black_box = make_black_box(ridge, "classification", np.array([0, 1]), X, X3)
    assert black_box.method == "decision_function"
    margins = ridge.decision_function(X)
    probed = np.median(np.abs(margins[:64]))
    assert black_box.margin_scale == pytest.approx(MARGIN_CONFIDENCE / probed)
    logits = black_box(X3)
    np.testing.assert_allclose(
        logits[:, 1] - logits[:, 0], black_box.margin_scale * margins, rtol=1e-5
    )
    np.testing.assert_array_equal(logits.argmax(1), ridge.predict(X))
    # several classes: the median gap between the two highest margins is scaled
    y3 = np.arange(len(X)) % 3
    ridge3 = RidgeClassifier().fit(X, y3)
    black_box = make_black_box(ridge3, "classification", np.arange(3), X, X3)
    top = np.sort(black_box(X3[:64]), axis=1)
    assert np.median(top[:, -1] - top[:, -2]) == pytest.approx(MARGIN_CONFIDENCE)
    # log-odds of a model with probabilities are kept (tested above): scale 1
    assert (
        make_black_box(_logistic(X, y), "classification", np.array([0, 1]), X, X3).margin_scale
        == 1.0
    )


def test_a_plain_callable_is_called_in_batches_with_every_sample_at_once():
    from tsinfluence.nn.framework import SCORE_FUNCTION_SAMPLES

    X, y, _ = _box(n=64)
    model = CountingModel()
    _fit_black_box(model, X[:, :, None], y, max_epochs=2, batch_size=32)
    sizes = [shape[0] for shape in model.calls]
    assert all(len(shape) == 3 for shape in model.calls)  # 3D X in fit -> 3D calls
    # Per batch of 32: the selection, the full series, then all sampled subsets in ONE call.
    assert sizes.count(32 * SCORE_FUNCTION_SAMPLES) == 2 * 2
    assert max(sizes) == 32 * SCORE_FUNCTION_SAMPLES
    model.calls.clear()
    InfluenceClassifier(predictor=model, freeze_predictor=True, k=4, max_epochs=1).fit(X, y)
    assert {len(shape) for shape in model.calls} == {2}  # 2D X in fit -> 2D calls


def test_a_channels_first_model_is_handed_over_with_channels_first():
    from tsinfluence.utils import ChannelsFirst

    X, y, _ = _box(n=64)
    X3 = np.stack([X, np.zeros_like(X)], axis=2)  # (n, T, 2), channels last

    class ChannelsFirstModel:
        classes_ = np.array([0, 1])

        def predict_proba(self, X):
            assert X.shape[1:] == (2, 20)  # (n, D, T)
            return CountingModel()(X[:, 0, :])

    est = _fit_black_box(ChannelsFirst(ChannelsFirstModel()), X3, y)
    assert est.predict_proba(X3[:3]).shape == (3, 2)


def test_a_sklearn_regressor_is_explained_in_its_own_units():
    from sklearn.linear_model import LinearRegression

    from tsinfluence.estimators._blackbox import predictor_kind

    X, _, _ = _box()
    y = 5.0 + X[:, 8:12].sum(axis=1)
    model = LinearRegression().fit(X, y)
    assert predictor_kind(model) == "sklearn"
    est = InfluenceRegressor(
        predictor=model, freeze_predictor=True, k=4, max_epochs=2, random_state=0
    ).fit(X, y)
    assert abs(float(np.mean(est.predict(X))) - float(np.mean(y))) < 2.0
    assert np.isfinite(est.fidelity(X))


@pytest.mark.parametrize(
    ("predictor", "params", "match"),
    [
        (lambda X: np.zeros((len(X), 3)), {}, "2 columns"),
        (lambda X: np.zeros(len(X) + 1), {}, "one row per series"),
        (lambda X: 1 / 0, {}, "failed on input"),
        (object(), {}, "predictor must be"),
        (CountingModel(), {"selector_gradient": "straight_through"}, "has none"),
        (CountingModel(), {"selection_method": "threshold"}, "without gradient"),
        (CountingModel(), {"freeze_predictor": False}, "cannot train it"),
    ],
)
def test_bad_black_box_models_are_clear_errors(predictor, params, match):
    X, y, _ = _box(n=40)
    est = InfluenceClassifier(predictor=predictor, freeze_predictor=True, max_epochs=1)
    with pytest.raises(ValueError, match=match):
        est.set_params(**params).fit(X, y)


def test_unfitted_or_mismatched_sklearn_models_are_clear_errors():
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _box(n=40)
    with pytest.raises(ValueError, match="not fitted"):
        _fit_black_box(LogisticRegression(), X, y)
    with pytest.raises(ValueError, match="classes of y"):
        _fit_black_box(_logistic(X, y + 5), X, y)


def test_pickle_clone_and_save_model_with_a_sklearn_predictor(tmp_path):
    import pickle

    from sklearn.base import clone

    from tsinfluence.persistence import save_model

    X, y, _ = _box()
    model = _logistic(X, y)
    est = _fit_black_box(model, X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.influence_scores(X), est.influence_scores(X))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    copy = clone(est)
    assert copy.predictor is model  # kept fitted (not re-created unfitted)
    assert not hasattr(copy, "net_")
    copy.fit(X, y)
    with pytest.raises(ValueError, match="Pickle the estimator"):
        save_model(est, tmp_path / "model.zip")


def test_encoding_gap_with_a_sklearn_predictor():
    from tsinfluence.metrics import encoding_gap

    X, y, _ = _box()
    est = _fit_black_box(_logistic(X, y), X, y)
    gap = encoding_gap(est, X, y, max_epochs=1)
    assert gap.metric == "accuracy"
    assert gap.gap == pytest.approx(gap.own_score - gap.independent_score)


def test_callable_adapter_has_no_gradient_and_needs_score_function():
    from tsinfluence.nn.adapters import CallableAdapter

    adapter = CallableAdapter(lambda X: X[:, :, 0].sum(axis=1))
    x = torch.randn(3, 5, 2, requires_grad=True)
    out, _ = adapter(x, torch.ones(3, 5))
    assert out.shape == (3, 1) and not out.requires_grad
    np.testing.assert_allclose(out[:, 0].numpy(), x[:, :, 0].sum(1).detach().numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="score_function"):
        InfluenceFramework(2, hidden_dim=8, num_heads=2, predictor=adapter.fn)
    with pytest.raises(ValueError, match="shape"):
        CallableAdapter(lambda X: np.zeros((1, 2)))(x, torch.ones(3, 5))


def test_sample_baseline_draws_each_step_from_the_training_data():
    data = torch.arange(4 * 6 * 2, dtype=torch.float32).reshape(4, 6, 2)
    fill = MaskBaseline("sample", 6, 2, data=data)
    x = torch.zeros(50, 6, 2)
    fill.train()
    drawn = fill(x)
    assert drawn.shape == (50, 6, 2)
    for t in range(6):  # every fill of step t is the value of step t in some training series
        allowed = {tuple(v.tolist()) for v in data[:, t]}
        assert {tuple(v.tolist()) for v in drawn[:, t]} <= allowed
    assert len({tuple(v.tolist()) for v in drawn[:, 0]}) > 1  # fresh draws in training
    fill.eval()
    assert torch.equal(fill(x), fill(x)) and fill(x).shape == (1, 6, 2)
    with pytest.raises(ValueError, match="sample"):
        MaskBaseline("sample", 6, 2)


@pytest.mark.slow
def test_a_sklearn_pipeline_is_explained_faithfully_on_every_seed():
    X, y, truth = _box(n=300, seed=1)
    model = _logistic(X[:200], y[:200])
    for seed in (0, 1, 2):
        est = _fit_black_box(model, X[:200], y[:200], max_epochs=10, random_state=seed)
        scores = est.influence_scores(X[200:])
        assert auroc(scores, truth[200:]) >= 0.9
        assert est.fidelity(X[200:]) >= 0.9


def test_straight_through_on_a_torch_model_without_gradient_is_a_clear_error():
    class NumpyInside(nn.Module):  # leaves torch: its output has no gradient
        def forward(self, x):
            v = x.detach().numpy()[:, 8:12, 0].mean(axis=1)
            return torch.as_tensor(np.stack([-v, v], axis=1))

    X, y, _ = _box(n=64)
    est = InfluenceClassifier(
        predictor=NumpyInside(),
        freeze_predictor=True,
        selector_gradient="straight_through",
        k=4,
        max_epochs=1,
    )
    with pytest.raises(ValueError, match="score_function"):
        est.fit(X, y)
    est.set_params(selector_gradient="score_function").fit(X, y)  # only outputs needed


def test_counterfactuals_of_a_model_without_gradient_use_gradient_free_methods():
    X, y, _ = _box(n=64)
    est = _fit_black_box(_logistic(X, y), X, y, max_epochs=1)
    with pytest.raises(ValueError, match="has none"):
        est.counterfactual(X[:2], method="optimize")
    result = est.counterfactual(X[:2], method="nearest")
    np.testing.assert_array_equal(est.predict(result.X_cf), result.y_cf)


def test_prediction_full_in_black_box_mode_is_the_model_on_the_whole_series():
    X, y, _ = _box()
    model = CountingModel()
    est = _fit_black_box(model, X, y, prediction="full")
    from tsinfluence.estimators._blackbox import PROBA_SMOOTHING as eps

    smoothed = (model(X[:7]) + eps) / (1 + 2 * eps)  # the adapter's log-probabilities, decoded
    np.testing.assert_allclose(est.predict_proba(X[:7]), smoothed, atol=1e-6)
    # fidelity compares the model on the selection with what predict now returns
    on_selection = est.set_params(prediction="selected").predict(X)
    assert est.fidelity(X) == np.mean(on_selection == est.set_params(prediction="full").predict(X))


@pytest.mark.parametrize(
    "estimator, model, expected",
    [
        (InfluenceClassifier, None, 0.0),
        (InfluenceClassifier, MarkedStepModel, 0.0),
        (InfluenceRegressor, None, 0.0),
        (InfluenceRegressor, MarkedSumModel, 1.0),
    ],
)
def test_deletion_weight_default_depends_on_the_task_and_the_mode(estimator, model, expected):
    # ``loss__alpha_deletion=None`` resolves per estimator and mode; an explicit value wins.
    X, truth = _marked(n=40)
    y = (X[np.arange(len(X)), truth.argmax(1), 0] > 0).astype(int)
    frozen = {} if model is None else {"predictor": model(), "freeze_predictor": True}
    est = estimator(k=1, max_epochs=1, random_state=0, **frozen).fit(X, y)
    assert est.net_.module_.alpha_deletion == expected
    est.set_params(loss__alpha_deletion=0.5).fit(X, y)
    assert est.net_.module_.alpha_deletion == 0.5
