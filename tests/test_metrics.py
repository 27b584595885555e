import warnings

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from tsinfluence.metrics import (
    aup,
    auprc,
    aur,
    auroc,
    comprehensiveness,
    deletion_auc,
    deletion_curve,
    insertion_auc,
    insertion_curve,
    precision_at_k,
    recall_at_k,
    sufficiency,
    topk_mask,
)

TRUTH = np.array([[1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 1]], dtype=bool)
PERFECT = np.array([[0.9, 0.8, 0.1, 0.2, 0.3, 0.0], [0.1, 0.2, 0.3, 0.9, 0.4, 0.8]])


def test_topk_mask_exact_k_ties_and_padding():
    s = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(topk_mask(s, 2), [[0, 1, 1, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(topk_mask(s, [1, 3]), [[0, 1, 0, 0], [1, 1, 1, 0]])
    pad = np.array([[0, 1, 0, 0], [1, 1, 0, 0]], dtype=bool)
    m = topk_mask(s, 3, padding_mask=pad)
    assert not (m & pad).any() and list(m.sum(1)) == [3, 2]
    cells = topk_mask(np.arange(12.0).reshape(1, 3, 4), 2)  # cells: the two largest
    assert cells.shape == (1, 3, 4) and cells[0, 2, 2:].all() and cells.sum() == 2
    with pytest.raises(ValueError, match="k"):
        topk_mask(s, -1)
    with pytest.raises(ValueError, match="k"):
        topk_mask(s, [1, 2, 3])


def test_auroc_auprc_perfect_reversed_and_skipped():
    assert auroc(PERFECT, TRUTH) == 1.0 and auroc(-PERFECT, TRUTH) == 0.0
    assert auprc(PERFECT, TRUTH) == pytest.approx(1.0)
    truth = np.vstack([TRUTH, np.ones(6, bool), np.zeros(6, bool)])
    scores = np.vstack([PERFECT, np.zeros((2, 6))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert auroc(scores, truth) == 1.0  # degenerate samples skipped, not averaged as 0.5
        assert np.isnan(auroc(np.zeros((1, 3)), np.ones((1, 3), bool)))
        assert np.isnan(auprc(np.zeros((1, 3)), np.zeros((1, 3), bool)))
    # hand computed: sample 1 ranks truth at 1st and 3rd of 6 -> AUROC 7/8; sample 0 perfect
    s = np.array([[0.9, 0.8, 0.1, 0.2, 0.3, 0.0], [0.9, 0.2, 0.5, 0.6, 0.1, 0.0]])
    t = np.array([[1, 1, 0, 0, 0, 0], [1, 0, 1, 0, 0, 0]], dtype=bool)
    assert auroc(s, t) == pytest.approx((1.0 + 7 / 8) / 2)


def test_cell_level_and_padding_excluded():
    rng = np.random.default_rng(0)
    scores, truth = rng.random((5, 8, 3)), rng.random((5, 8, 3)) > 0.6
    pad = np.zeros((5, 8), dtype=bool)
    pad[:, 6:] = True
    padded_scores = scores.copy()
    padded_scores[:, 6:] = 100.0  # would dominate every ranking if not excluded
    for metric in (auroc, auprc, aup, aur, precision_at_k):
        expected = metric(scores[:, :6], truth[:, :6])
        assert metric(padded_scores, truth, padding_mask=pad) == pytest.approx(expected)
    assert recall_at_k(padded_scores, truth, 3, padding_mask=pad) == pytest.approx(
        recall_at_k(scores[:, :6], truth[:, :6], 3)
    )


def test_precision_recall_at_k_exact():
    s = np.array([[5.0, 4.0, 3.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    t = np.array([[1, 0, 1, 0, 0], [1, 1, 0, 0, 1]], dtype=bool)
    # k=None: k=|truth| -> sample 0: top2 {0,1} -> 1/2; sample 1: top3 {4,3,2} -> 1/3
    assert precision_at_k(s, t) == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert precision_at_k(s, t, k=1) == pytest.approx(1.0)
    assert precision_at_k(s, t, k=4) == pytest.approx((2 / 4 + 2 / 4) / 2)
    assert recall_at_k(s, t, k=3) == pytest.approx((2 / 2 + 1 / 3) / 2)
    assert recall_at_k(s, t, k=5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k"):
        recall_at_k(s, t, k=None)
    with pytest.raises(ValueError, match="k"):
        precision_at_k(s, t, k=0)


def _tint_reference(scores, truth, which):
    a = np.abs(scores).reshape(len(scores), -1)
    a = (a - a.min(1, keepdims=True)) / (a.max(1, keepdims=True) + 1e-5)
    p, r, thr = precision_recall_curve(truth.reshape(-1).astype(int), a.reshape(-1))
    y = (p if which == "p" else r)[:-1]
    return float(np.sum(np.diff(thr) * (y[1:] + y[:-1]) / 2))


def test_aup_aur_match_tint_definition():
    # by hand: normalised scores [1/(1+1e-5), 0]; thresholds [0, t1]; precision [0.5, 1]
    t1 = 1 / (1 + 1e-5)
    assert aup([[1.0, 0.0]], [[True, False]]) == pytest.approx(t1 * 0.75)
    assert aur([[1.0, 0.0]], [[True, False]]) == pytest.approx(t1)
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(4, 7, 2))  # negative values: tint takes |scores|
    truth = rng.random((4, 7, 2)) > 0.5
    assert aup(scores, truth) == pytest.approx(_tint_reference(scores, truth, "p"))
    assert aur(scores, truth) == pytest.approx(_tint_reference(scores, truth, "r"))
    assert aup(np.ones((2, 3)), np.eye(2, 3, dtype=bool)) == 0.0
    assert np.isnan(aur(np.ones((2, 3)), np.zeros((2, 3), bool)))


@pytest.mark.parametrize("metric", [auroc, auprc, aup, aur, precision_at_k])
def test_shape_mismatch_raises(metric):
    with pytest.raises(ValueError, match="truth"):
        metric(np.zeros((2, 5)), np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="padding_mask"):
        metric(np.zeros((2, 5)), np.zeros((2, 5), bool), padding_mask=np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="scores"):
        metric(np.zeros(5), np.zeros(5, bool))


# ------------------------------------------------------------------ model-agnostic metrics
RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 10, 3)) + 1.0


def step0_model(X):
    """Probabilities from a logistic model that only looks at step 0, channel 1."""
    p = 1 / (1 + np.exp(-3 * np.asarray(X)[:, 0, 1]))
    return np.stack([1 - p, p], axis=1)


def _scores(target_step):
    s = np.tile(np.linspace(1.0, 0.1, 10), (60, 1))  # step 0 high, then decreasing
    if target_step != 0:
        s = s[:, ::-1].copy()  # step 0 now ranked last
    return s


def test_comprehensiveness_and_sufficiency_reward_the_right_step():
    good, bad = _scores(0), _scores(9)
    assert comprehensiveness(step0_model, X, good) > comprehensiveness(step0_model, X, bad) + 0.1
    assert comprehensiveness(step0_model, X, bad) == pytest.approx(0.0)
    assert sufficiency(step0_model, X, good) == pytest.approx(0.0)
    assert sufficiency(step0_model, X, bad) > 0.1
    assert deletion_auc(step0_model, X, good) < deletion_auc(step0_model, X, bad)
    assert insertion_auc(step0_model, X, good) > insertion_auc(step0_model, X, bad)
    # cell-level scores: pointing at (0, 1) beats pointing at (0, 0)
    cell_good, cell_bad = np.zeros((60, 10, 3)), np.zeros((60, 10, 3))
    cell_good[:, 0, 1], cell_bad[:, 0, 0] = 1.0, 1.0
    kw = {"fractions": (1 / 30,)}
    assert comprehensiveness(step0_model, X, cell_good, **kw) > 0.2
    assert comprehensiveness(step0_model, X, cell_bad, **kw) == 0.0


def test_comprehensiveness_by_hand_and_one_call_per_fraction():
    calls = []

    def model(Z):
        calls.append(Z.copy())
        return step0_model(Z)

    fractions = (0.1, 0.3)
    value = comprehensiveness(model, X, _scores(0), fractions=fractions, baseline="mean")
    assert len(calls) == 1 + len(fractions)
    p = step0_model(X)
    c = p.argmax(1)
    Z = X.copy()
    Z[:, 0] = X.mean(0)[0]  # fraction 0.1 of 10 steps -> step 0 replaced by the mean
    drop = p[np.arange(60), c] - step0_model(Z)[np.arange(60), c]
    assert value == pytest.approx(drop.mean())  # 0.3 also removes step 0 (and 1, 2): same drop
    np.testing.assert_array_equal(calls[2][:, 3:], X[:, 3:])
    np.testing.assert_allclose(calls[2][:, :3], np.broadcast_to(X.mean(0)[:3], (60, 3, 3)))


def test_curves_baselines_regression_and_padding():
    fr, values = deletion_curve(step0_model, X, _scores(0), fractions=[0, 0.5, 1])
    np.testing.assert_array_equal(fr, [0, 0.5, 1])
    assert values[0] == pytest.approx(step0_model(X).max(1).mean())
    assert values[1] == pytest.approx(0.5)  # step 0 zeroed -> p = 0.5
    fr, values = insertion_curve(step0_model, X, _scores(0), fractions=[0, 0.1], baseline=-5.0)
    assert values[0] < values[1]
    reg = lambda Z: 2 * Z[:, 0, 1]  # noqa: E731
    assert comprehensiveness(reg, X, _scores(0), fractions=(0.1,)) == pytest.approx(
        np.abs(2 * X[:, 0, 1]).mean()
    )
    fr, values = deletion_curve(reg, X, _scores(0), fractions=[0, 0.1])
    assert values[0] == 0.0 and values[1] == pytest.approx(-np.abs(2 * X[:, 0, 1]).mean())
    assert insertion_auc(reg, X, _scores(0)) > insertion_auc(reg, X, _scores(9))
    Xp = X.copy()
    Xp[:, 8:] = np.nan
    pad = np.zeros((60, 10), dtype=bool)
    pad[:, 8:] = True

    def checked(Z):
        assert np.isnan(Z[:, 8:]).all() and not np.isnan(Z[:, :8]).any()
        return step0_model(Z)

    s = _scores(9)  # padded steps hold the highest scores: must not be selected
    assert sufficiency(checked, Xp, s, padding_mask=pad) > 0.1
    assert comprehensiveness(checked, Xp, s, fractions=(0.5,), padding_mask=pad) == 0.0
    insertion_curve(checked, Xp, s, padding_mask=pad)
    univariate = X[:, :, 1]
    assert (
        comprehensiveness(lambda Z: step0_model(Z[:, :, None].repeat(3, 2)), univariate, _scores(0))
        > 0
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scores": np.zeros((60, 9))}, "scores"),
        ({"fractions": (0.0, 0.5)}, "fractions"),
        ({"fractions": (0.5, 1.5)}, "fractions"),
        ({"baseline": "median"}, "baseline"),
        ({"baseline": np.zeros((4, 4))}, "baseline"),
        ({"baseline": "mean", "reference": np.zeros((5, 9, 3))}, "reference"),
        ({"padding_mask": np.zeros((60, 3), bool)}, "padding_mask"),
    ],
)
def test_masking_metrics_bad_inputs(kwargs, match):
    args = {"scores": _scores(0), **kwargs}
    with pytest.raises(ValueError, match=match):
        comprehensiveness(step0_model, X, **args)
    with pytest.raises(ValueError, match=match):
        sufficiency(step0_model, X, **args)


def test_curve_fractions_must_increase_and_predict_shape_checked():
    with pytest.raises(ValueError, match="increasing"):
        deletion_curve(step0_model, X, _scores(0), fractions=[0.5, 0.2])
    with pytest.raises(ValueError, match="predict_fn"):
        comprehensiveness(lambda Z: np.zeros((3, 2)), X, _scores(0))
