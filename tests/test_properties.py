"""Property tests: random shapes and values give a clear error or correct, finite outputs."""

import traceback
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence._validation import check_time_series

FAST = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

values = st.one_of(
    st.floats(-1e3, 1e3, width=32),
    st.sampled_from([0.0, 1e6, -1e-8, np.nan, np.inf]),
)


@st.composite
def series(draw, max_n=6, max_t=10, max_d=3):
    n = draw(st.integers(1, max_n))
    t = draw(st.integers(1, max_t))
    d = draw(st.integers(1, max_d))
    # Mostly clean data (so fits happen), sometimes arbitrary values (so errors happen).
    if draw(st.booleans()):
        X = draw(hnp.arrays(np.float64, (n, t, d), elements=values))
    else:
        seed = draw(st.integers(0, 2**16))
        X = np.random.default_rng(seed).normal(size=(n, t, d)) * draw(
            st.sampled_from([1.0, 1e-6, 1e5])
        )
        if draw(st.booleans()) and t > 1:  # trailing padding of one series
            cut = draw(st.integers(1, t - 1))
            X[0, cut:] = np.nan
    if draw(st.booleans()) and d == 1:
        X = X[:, :, 0]
    return X


def _raised_by_torch(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any("/torch/" in f.filename for f in frames)


def _expected_k(k, lengths):
    if isinstance(k, int):
        return np.minimum(k, lengths)
    return np.minimum(np.maximum(np.round(lengths * k), 1), lengths)


@FAST
@given(
    X=series(),
    k=st.one_of(st.integers(-1, 12), st.floats(0.0, 1.2)),
    method=st.sampled_from(["topk", "gumbel"]),
    seed=st.integers(0, 100),
)
def test_classifier_errors_clearly_or_gives_finite_outputs(X, k, method, seed):
    n = X.shape[0]
    y = np.random.default_rng(seed).integers(0, 3, n)
    est = InfluenceClassifier(
        k=k,
        selection_method=method,
        max_epochs=1,
        module__hidden_dim=4,
        module__num_heads=1,
        batch_size=4,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            est.fit(X, y)
        except (ValueError, TypeError) as exc:
            assert str(exc) and not _raised_by_torch(exc), str(exc)
            return
    proba = est.predict_proba(X)
    assert proba.shape == (n, len(np.unique(y)))
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    T = est.n_features_in_
    influence = est.influence_scores(X)
    assert influence.shape == (n, T) and np.isfinite(influence).all()
    assert (influence >= 0).all() and (influence <= 1).all()
    _, pad = check_time_series(X)
    assert (influence[pad] == 0).all()
    mask = est.select(X)
    lengths = (~pad).sum(1)
    np.testing.assert_array_equal(mask.sum(1), _expected_k(k, lengths))
    # inclusion probabilities: each row sums to the number of steps selected
    np.testing.assert_allclose(influence.sum(1), mask.sum(1), rtol=1e-6)
    assert not mask[pad].any()
    assert est.predict(X).shape == (n,)


@FAST
@given(X=series(max_n=5, max_t=8), seed=st.integers(0, 100))
def test_regressor_errors_clearly_or_gives_finite_outputs(X, seed):
    n = X.shape[0]
    y = np.random.default_rng(seed).normal(size=n) * 1e4
    est = InfluenceRegressor(
        k=2,
        max_epochs=1,
        module__hidden_dim=4,
        module__num_heads=1,
        batch_size=4,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            est.fit(X, y)
        except (ValueError, TypeError) as exc:
            assert str(exc) and not _raised_by_torch(exc), str(exc)
            return
    pred = est.predict(X)
    assert pred.shape == (n,) and np.isfinite(pred).all()
    assert np.isfinite(est.influence_scores(X)).all()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    X=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), elements=values)
)
def test_check_time_series_errors_or_returns_a_consistent_mask(X):
    try:
        X3, pad = check_time_series(X)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    assert X3.ndim == 3 and pad.shape == X3.shape[:2]
    assert np.isfinite(X3).all()
    assert (X3[pad] == 0).all()
    # padding is whole trailing steps, and every series keeps a valid step
    assert (~pad[:, 0]).all()
    assert not (pad[:, :-1] & ~pad[:, 1:]).any()
    original = X if X.ndim == 3 else X[:, :, None]
    np.testing.assert_array_equal(X3[~pad], original[~pad].astype(np.float32))


@pytest.mark.parametrize("k", [1, 3, 0.5])
def test_exact_k_with_unequal_lengths(k):
    """A deterministic companion to the properties: ragged input selects min(k, length)."""
    rng = np.random.default_rng(0)
    lengths = [1, 2, 5, 8, 8, 3]
    series_list = [rng.normal(size=(m, 2)) for m in lengths]
    est = InfluenceClassifier(
        k=k, max_epochs=1, module__hidden_dim=4, module__num_heads=1, random_state=0
    ).fit(series_list, np.arange(6) % 2)
    mask = est.select(series_list)
    np.testing.assert_array_equal(mask.sum(1), _expected_k(k, np.array(lengths)))
