"""The bridge other packages use to reach a fitted estimator."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.estimators._build import build_evaluator_net
from tsinfluence.estimators._fitted import FittedModel

PARAMS = dict(k=3, max_epochs=6, module__hidden_dim=8, module__num_heads=2, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12, 2))
    y = np.where(X[:, 4, 0] > 0, "up", "down")
    return X, y


@pytest.fixture(scope="module", params=["selected", "full"])
def est(request, data):
    X, y = data
    return InfluenceClassifier(prediction=request.param, **PARAMS).fit(X, y)


def test_an_unfitted_estimator_has_no_bridge():
    with pytest.raises(NotFittedError):
        FittedModel(InfluenceClassifier())


def test_outputs_are_the_estimators(est, data):
    X, _ = data
    fitted = est._fitted_model()
    X3, pad = fitted.validate(X)
    raw, mask = fitted.predict_raw(X3, pad)
    np.testing.assert_allclose(fitted.decode(raw), est.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(fitted.labels(raw), est.predict(X))
    np.testing.assert_array_equal(mask, est.select(X))
    assert fitted.full_series == (est.prediction == "full")
    # The differentiable pass computes the same outputs, and the gradient reaches x.
    x = torch.as_tensor(X3, dtype=fitted.dtype).requires_grad_(True)
    out, soft_mask = fitted.forward(x, torch.as_tensor(pad))
    np.testing.assert_allclose(out.detach().numpy(), raw, atol=1e-5)
    np.testing.assert_array_equal(soft_mask.detach().numpy() > 0.5, mask)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_regressor_units():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 10, 1))
    y = 50.0 + 3.0 * X[:, 2, 0]
    est = InfluenceRegressor(**PARAMS).fit(X, y)
    fitted = est._fitted_model()
    assert (fitted.target_mean, fitted.target_scale) == (est.target_mean_, est.target_scale_)
    raw, _ = fitted.predict_raw(*fitted.validate(X))
    np.testing.assert_allclose(fitted.labels(raw), est.predict(X))


def test_fresh_module_has_the_architecture_but_not_the_weights(est, data):
    X, _ = data
    fitted = est._fitted_model()
    torch.manual_seed(3)
    fresh = fitted.fresh_module(*fitted.validate(X))
    old, new = fitted.module.predictor.state_dict(), fresh.predictor.state_dict()
    assert old.keys() == new.keys()
    weights = [k for k in old if k.endswith("weight")]
    assert weights and not any(torch.equal(old[k], new[k]) for k in weights)
    assert fresh.teacher is None


def test_evaluator_is_trained_with_the_estimators_settings_and_seed(est, data):
    X, y = data
    fitted = est._fitted_model()
    X3, pad = fitted.validate(X)
    targets = fitted.encode_targets(y)
    assert targets.dtype == np.int64 and (est.classes_[targets] == y).all()
    with pytest.raises(ValueError, match="not fitted on"):
        fitted.encode_targets(np.full(len(y), 99))
    state = torch.get_rng_state()
    first = fitted.train_evaluator(X3, pad, targets, max_epochs=2, seed=5)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's generator is untouched
    second = fitted.train_evaluator(X3, pad, targets, max_epochs=2, seed=5)
    for a, b in zip(first.predictor.parameters(), second.predictor.parameters()):
        assert torch.equal(a, b)
    assert not first.training and first.phase == "evaluator"
    # its net has the estimator's optimiser (with its settings), clipping and batches
    sgd = clone(est).set_params(optimizer="sgd", optimizer__momentum=0.9, gradient_clip=0.5)
    net = build_evaluator_net(sgd, fitted.fresh_module(X3, pad), torch.device("cpu"), 1)
    net.initialize()
    assert isinstance(net.optimizer_, torch.optim.SGD)
    assert net.optimizer_.param_groups[0]["momentum"] == 0.9
    assert dict(net.callbacks_)["gradient_clip"].gradient_clip_value == 0.5
    assert net.batch_size == est.batch_size and net.train_split is None


def test_counterfactuals_of_a_full_series_model_flip_its_own_prediction():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 12, 2))
    y = rng.integers(0, 2, 80)
    X[:, 4, 0] += 3 * (2 * y - 1)  # a strong event at step 4 (training accuracy 1.0, seeds 0-2)
    est = InfluenceClassifier(k=3, prediction="full", max_epochs=60, batch_size=16, random_state=0)
    est.fit(X, y)
    result = est.counterfactual(X[:6])
    np.testing.assert_array_equal(result.y, est.predict(X[:6]))
    valid = np.asarray(result.valid)
    assert valid.sum() >= 3  # 6 of 6 on seeds 0-2
    # validity is judged by what predict returns: the full-series teacher
    np.testing.assert_array_equal(result.y_cf[valid], est.predict(result.X_cf[valid]))
    assert (result.y_cf[valid] != result.y[valid]).all()
