"""``set_output`` reaches ``transform``, ``fit_transform`` and a Pipeline, for both estimators."""

import numpy as np
import pandas as pd
import pytest
from sklearn import config_context
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tsinfluence import InfluenceClassifier, InfluenceRegressor

FAST = dict(k=2, max_epochs=1, module__hidden_dim=8, module__num_heads=2, random_state=0)
ESTIMATORS = [InfluenceClassifier, InfluenceRegressor]


def _data(estimator, channels=2):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 8, channels))
    y = X[:, 2, 0]
    return X, (y > 0).astype(int) if estimator is InfluenceClassifier else y


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_transform_and_fit_transform_follow_set_output_pandas(estimator):
    X, y = _data(estimator)
    plain = estimator(**FAST).fit(X, y)
    expected = plain.transform(X)
    assert isinstance(expected, np.ndarray)
    est = estimator(**FAST).set_output(transform="pandas")
    out = est.fit(X, y).transform(X)
    assert isinstance(out, pd.DataFrame)
    # Columns are get_feature_names_out, values are the plain transform's.
    assert list(out.columns) == list(est.get_feature_names_out())
    assert list(out.columns)[:2] == [f"t{est.selected_timestamps_[0]}_c{d}" for d in (0, 1)]
    np.testing.assert_array_equal(out.to_numpy(), expected)
    fitted = estimator(**FAST).set_output(transform="pandas").fit_transform(X, y)
    assert isinstance(fitted, pd.DataFrame)
    pd.testing.assert_frame_equal(fitted, out)
    # Per-sample mode: one column per (timestamp, channel).
    est.set_params(transform_mode="per_sample")
    out = est.transform(X)
    assert isinstance(out, pd.DataFrame) and out.shape == (30, 16)
    assert list(out.columns) == list(est.get_feature_names_out())
    # Back to the default container.
    assert isinstance(est.set_output(transform="default").transform(X), np.ndarray)


def test_global_config_reaches_transform():
    X, y = _data(InfluenceClassifier)
    est = InfluenceClassifier(**FAST).fit(X, y)
    with config_context(transform_output="pandas"):
        assert isinstance(est.transform(X), pd.DataFrame)
    assert isinstance(est.transform(X), np.ndarray)


def test_wide_dataframe_columns_and_index_in_pandas_output():
    X, y = _data(InfluenceRegressor, channels=1)
    frame = pd.DataFrame(X[..., 0], columns=[f"day{i}" for i in range(8)])
    frame.index = frame.index + 100
    est = InfluenceRegressor(**FAST).set_output(transform="pandas").fit(frame, y)
    out = est.transform(frame)
    assert list(out.columns) == [f"day{t}" for t in est.selected_timestamps_]
    assert list(out.index) == list(frame.index)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_pipeline_set_output_reaches_the_selection_step(estimator):
    X, y = _data(estimator)
    final = LogisticRegression() if estimator is InfluenceClassifier else Ridge()
    pipe = make_pipeline(estimator(**FAST), StandardScaler(), final)
    pipe.set_output(transform="pandas").fit(X, y)
    assert isinstance(pipe[0].transform(X), pd.DataFrame)
    inner = pipe[:-1].transform(X)
    assert isinstance(inner, pd.DataFrame)
    assert list(inner.columns) == list(pipe[0].get_feature_names_out())
    assert list(pipe[-1].feature_names_in_) == list(pipe[0].get_feature_names_out())
    assert pipe.predict(X).shape == (30,)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_transform_follows_set_output_polars(estimator):
    pl = pytest.importorskip("polars")
    X, y = _data(estimator)
    est = estimator(**FAST).set_output(transform="polars")
    out = est.fit(X, y).transform(X)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == list(est.get_feature_names_out())
    np.testing.assert_array_equal(out.to_numpy(), est.set_output(transform="default").transform(X))
    est.set_output(transform="polars")
    assert isinstance(
        estimator(**FAST).set_output(transform="polars").fit_transform(X, y), pl.DataFrame
    )


@pytest.mark.parametrize("container", ["pandas", "polars"])
def test_3d_output_with_a_dataframe_container_is_a_clear_error(container):
    if container == "polars":
        pytest.importorskip("polars")
    X, y = _data(InfluenceClassifier)
    est = InfluenceClassifier(transform_shape="3d", **FAST).fit(X, y)
    assert est.transform(X).shape == (30, 2, 2)  # default container: the 3D array
    est.set_output(transform=container)
    with pytest.raises(ValueError, match=r'transform_shape="3d"'):
        est.transform(X)
    with pytest.raises(ValueError, match=r'transform_shape="3d"'):
        est.fit_transform(X, y)
    with config_context(transform_output=container):
        est.set_output(transform="default")
        assert est.transform(X).ndim == 3  # the estimator's own setting wins
