"""The estimators inside scikit-learn's machinery: pipelines, searches, clone, pickling."""

import pickle

import joblib
import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    RandomizedSearchCV,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from tsinfluence import InfluenceClassifier, InfluenceRegressor

FAST = dict(max_epochs=2, module__hidden_dim=16, module__num_heads=2, random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 12, 2))
    y = (X[:, 4, 0] + X[:, 8, 1] > 0).astype(int)
    return X, y


def test_issue_done_when_grid_search_over_a_pipeline(data):
    X, y = data
    search = GridSearchCV(
        Pipeline([("select", InfluenceClassifier(k=8, **FAST)), ("lr", LogisticRegression())]),
        {"select__k": [4, 8]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["select__k"] in (4, 8)
    # The downstream model sees k timestamps * 2 channels.
    k = search.best_params_["select__k"]
    assert search.best_estimator_["lr"].n_features_in_ == 2 * k


def test_randomized_search_over_k_method_and_lr(data):
    X, y = data
    search = RandomizedSearchCV(
        InfluenceClassifier(**FAST),
        {"k": [2, 4, 0.5], "selection_method": ["topk", "gumbel"], "lr": [1e-3, 3e-3]},
        n_iter=3,
        cv=2,
        random_state=0,
    ).fit(X, y)
    assert set(search.best_params_) == {"k", "selection_method", "lr"}


def test_pipeline_with_a_3d_preprocessing_step(data):
    X, y = data
    center = FunctionTransformer(lambda Z: Z - Z.mean(axis=1, keepdims=True))
    pipe = make_pipeline(center, InfluenceClassifier(k=3, **FAST)).fit(X, y)
    assert pipe.predict(X).shape == (48,)


def test_regressor_feeds_a_ridge(data):
    X, _ = data
    y = X[:, 3, 0] * 2.0
    pipe = make_pipeline(InfluenceRegressor(k=3, **FAST), Ridge()).fit(X, y)
    assert pipe.predict(X).shape == (48,)


def test_cross_val_score_in_parallel(data):
    X, y = data
    scores = cross_val_score(InfluenceClassifier(k=3, **FAST), X, y, cv=2, n_jobs=2)
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_clone_gives_an_unfitted_copy_with_equal_params(data):
    X, y = data
    est = InfluenceClassifier(k=3, **FAST).fit(X, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "net_")


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_round_trips_give_identical_outputs(data, tmp_path, dump):
    X, y = data
    est = InfluenceClassifier(k=3, **FAST).fit(X, y)
    path = tmp_path / "model.bin"
    if dump == "pickle":
        path.write_bytes(pickle.dumps(est))
        loaded = pickle.loads(path.read_bytes())
    else:
        joblib.dump(est, path)
        loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.influence_scores(X), est.influence_scores(X))
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))


def test_metadata_routing_with_groups(data):
    X, y = data
    groups = np.repeat(np.arange(4), 12)
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(InfluenceClassifier(**FAST), {"k": [2, 4]}, cv=GroupKFold(2))
        search.fit(X, y, groups=groups)
    assert search.best_params_["k"] in (2, 4)
