"""Counterfactual metrics on hand-made series with known answers."""

import numpy as np
import pytest

from tsinfluence.counterfactual import CounterfactualResult
from tsinfluence.counterfactual.metrics import (
    changed_steps,
    contiguity,
    diversity,
    evaluate_counterfactuals,
    outlier_scores,
    plausibility,
    proximity,
    sparsity,
    time_per_counterfactual,
    validity,
)


def _pair():
    X = np.zeros((2, 8, 2))
    X[1, -2:] = np.nan  # padding
    cf = X.copy()
    cf[0, 1, 0] = 1.0  # segment 1
    cf[0, 2, 1] = -2.0  # same segment
    cf[0, 5, :] = 0.5  # segment 2
    cf[1, 0, 0] = 3.0
    return X, cf


def test_changed_sparsity_contiguity_and_padding():
    X, cf = _pair()
    np.testing.assert_array_equal(changed_steps(X, cf)[0], [0, 1, 1, 0, 0, 1, 0, 0])
    np.testing.assert_allclose(sparsity(X, cf), [3 / 8, 1 / 6])
    np.testing.assert_array_equal(contiguity(X, cf), [2, 1])
    # 2D input is univariate.
    np.testing.assert_array_equal(contiguity(X[..., 0], cf[..., 0]), [2, 1])


def test_proximity_metrics():
    X, cf = _pair()
    np.testing.assert_allclose(proximity(X, cf, "l1"), [4.0, 3.0])
    np.testing.assert_allclose(proximity(X, cf, "l2"), [np.sqrt(1 + 4 + 0.5), 3.0])
    np.testing.assert_allclose(proximity(X, cf, "linf"), [2.0, 3.0])
    with pytest.raises(ValueError, match="metric"):
        proximity(X, cf, "dtw")
    with pytest.raises(ValueError, match="same shape"):
        proximity(X, cf[:, :4])


def test_validity_and_diversity():
    assert validity(np.array([True, False, True, True])) == 0.75
    samples = np.zeros((2, 3, 4))
    samples[0, 1] = 1.0  # distance 2 to the two others, which coincide
    np.testing.assert_allclose(diversity(samples), [(2 + 2 + 2 + 2) / 6, 0.0])
    with pytest.raises(ValueError, match="n_samples >= 2"):
        diversity(np.zeros((2, 1, 4)))


@pytest.mark.parametrize("method", ["isolation_forest", "lof"])
def test_plausibility_separates_in_and_out_of_distribution(method):
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((300, 12, 2))
    inside = rng.standard_normal((50, 12, 2))
    outside = inside + 6.0
    assert plausibility(inside, reference, method) > 0.7
    assert plausibility(outside, reference, method) < 0.1
    scores = outlier_scores(np.concatenate([inside, outside]), reference, method)
    assert scores[:50].mean() > scores[50:].mean()
    with pytest.raises(ValueError, match="method"):
        plausibility(inside, reference, "svm")


def test_evaluate_counterfactuals_on_a_result():
    X, cf = _pair()
    res = CounterfactualResult(
        X=X, X_cf=cf, y=np.array([0, 0]), y_cf=np.array([1, 0]), target=np.array([1, 1]),
        edited=np.ones((2, 8), dtype=bool), valid=np.array([True, False]),
        distance=proximity(X, cf), selected_cf=np.zeros((2, 8), dtype=bool),
        method="optimize", time=0.5,
    )  # fmt: skip
    metrics = evaluate_counterfactuals(res, X_reference=np.zeros((40, 8, 2)))
    assert metrics["validity"] == 0.5
    assert metrics["proximity_l1"] == 4.0  # valid ones only
    np.testing.assert_allclose(metrics["sparsity"], (3 / 8 + 1 / 6) / 2)
    assert metrics["contiguity"] == 1.5
    assert 0.0 <= metrics["plausibility"] <= 1.0
    assert time_per_counterfactual(res) == 0.25 == metrics["time"]
    assert validity(res) == 0.5
    text = res.summary()
    assert "1/2" in text and "none" in text
