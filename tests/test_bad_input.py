"""Malformed input gets a clear ValueError/TypeError/NotFittedError, never a torch traceback.

Every case asserts on the message: it must name the problem and what was expected.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence._validation import BOOLEAN, Interval, Options, check_time_series

N, T, D = 24, 10, 2
SMALL = dict(
    k=3, max_epochs=1, module__hidden_dim=8, module__num_heads=2, batch_size=16, random_state=0
)


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, T, D)).astype(np.float32)
    y = np.arange(N) % 2
    return X, y


def _with(X, t, value, channel=None):
    X = X.astype(np.float64).copy()
    if channel is None:
        X[0, t, :] = value
    else:
        X[0, t, channel] = value
    return X


X0, Y0 = _data()

# (id, X, y, estimator params, exception, message pattern)
FIT_CASES = [
    ("X 1d", X0[0, :, 0], Y0[:T], {}, ValueError, r"1 dimension.*n_samples, n_timestamps"),
    ("X 0d", np.float32(1.0), Y0[:1], {}, ValueError, r"0 dimension"),
    (
        "X 4d",
        X0[..., None],
        Y0,
        {},
        ValueError,
        r"n_timestamps, n_channels\); got an array with 4 dimension",
    ),
    ("no samples", X0[:0], Y0[:0], {}, ValueError, r"0 sample\(s\)"),
    ("no timestamps", X0[:, :0], Y0, {}, ValueError, r"at least one timestamp"),
    ("no channels", X0[:, :, :0], Y0, {}, ValueError, r"at least one timestamp and one channel"),
    ("no features 2d", np.empty((N, 0)), Y0, {}, ValueError, r"0 feature\(s\)"),
    ("one timestamp", X0[:, :1], Y0, {}, ValueError, r"1 feature\(s\).*at least 2 timestamps"),
    ("NaN in valid step", _with(X0, 3, np.nan), Y0, {}, ValueError, r"NaN inside the valid"),
    ("NaN in one channel", _with(X0, 9, np.nan, 0), Y0, {}, ValueError, r"trailing padding"),
    ("+inf", _with(X0, 2, np.inf), Y0, {}, ValueError, r"infinity.*finite numbers"),
    ("-inf", _with(X0, 2, -np.inf), Y0, {}, ValueError, r"infinity.*finite numbers"),
    ("too large for float32", _with(X0, 2, 1e300), Y0, {}, ValueError, r"infinity|too large"),
    (
        "all-NaN series",
        np.concatenate([np.full((1, T, D), np.nan), X0[1:]]),
        Y0,
        {},
        ValueError,
        r"no valid timestamp.*at least one finite",
    ),
    ("string dtype", X0.astype(str), Y0, {}, TypeError, r"numeric.*strings"),
    ("object of strings", X0.astype(str).astype(object), Y0, {}, TypeError, r"holding strings"),
    ("complex dtype", X0.astype(complex), Y0, {}, ValueError, r"Complex data not supported.*real"),
    ("datetime dtype", np.zeros((N, T), "datetime64[s]"), Y0, {}, TypeError, r"numeric"),
    (
        "object with dict",
        np.array([[{"a": 1}] * T] * N, dtype=object),
        Y0,
        {},
        TypeError,
        r"real numbers.*argument must be",
    ),
    ("text DataFrame", pd.DataFrame([["a"] * T] * N), Y0, {}, TypeError, r"text columns"),
    (
        "ragged items of 3 dims",
        [np.zeros((3, 2, 1)), np.zeros((4, 2, 1))],
        [0, 1],
        {},
        ValueError,
        r"1D \(n_timestamps_i,\) or 2D",
    ),
    (
        "ragged channel mismatch",
        [np.zeros((3, 2)), np.zeros((4, 3))],
        [0, 1],
        {},
        ValueError,
        r"same number of channels",
    ),
    ("y None", X0, None, {}, ValueError, r"requires y"),
    ("y NaN", X0, np.where(np.arange(N) == 0, np.nan, Y0), {}, ValueError, r"y contains NaN"),
    ("y wrong length", X0, Y0[:5], {}, ValueError, r"inconsistent numbers of samples"),
    ("y 2d", X0, np.stack([Y0, Y0], 1), {}, ValueError, r"1d array"),
    ("single class", X0, np.zeros(N), {}, ValueError, r"at least 2 classes"),
    ("continuous y", X0, np.linspace(0, 1, N), {}, ValueError, r"Unknown label type"),
    ("k = 0", X0, Y0, {"k": 0}, ValueError, r"k must be >= 1.*int"),
    ("k < 0", X0, Y0, {"k": -2}, ValueError, r"k must be >= 1"),
    ("k = 0.0", X0, Y0, {"k": 0.0}, ValueError, r"k must be in \(0, 1\]"),
    ("k fraction > 1", X0, Y0, {"k": 1.5}, ValueError, r"k must be in \(0, 1\]"),
    ("k NaN", X0, Y0, {"k": float("nan")}, ValueError, r"k must be in \(0, 1\]"),
    ("k string", X0, Y0, {"k": "3"}, TypeError, r"k must be an int >= 1.*or a float"),
    ("k bool", X0, Y0, {"k": True}, TypeError, r"k must be an int"),
    ("unknown selection", X0, Y0, {"selection_method": "best"}, ValueError, r"one of \["),
    ("selection int", X0, Y0, {"selection_method": 3}, TypeError, r"'topk', 'gumbel'"),
    ("device unknown", X0, Y0, {"device": "tpu"}, ValueError, r"not a valid torch device"),
    ("device garbage", X0, Y0, {"device": "gpu please"}, ValueError, r"expected 'cpu'"),
    ("device int", X0, Y0, {"device": 3}, TypeError, r"string or a torch.device"),
    ("max_epochs 0", X0, Y0, {"max_epochs": 0}, ValueError, r"max_epochs must be >= 1"),
    ("max_epochs float", X0, Y0, {"max_epochs": 2.5}, TypeError, r"max_epochs must be an int"),
    ("lr 0", X0, Y0, {"lr": 0.0}, ValueError, r"lr must be > 0"),
    ("lr negative", X0, Y0, {"lr": -1e-3}, ValueError, r"lr must be > 0"),
    ("lr NaN", X0, Y0, {"lr": float("nan")}, ValueError, r"lr must be a finite number"),
    ("lr inf", X0, Y0, {"lr": float("inf")}, ValueError, r"lr must be a finite number"),
    ("batch_size 0", X0, Y0, {"batch_size": 0}, ValueError, r"batch_size must be >= 1"),
    ("batch_size None", X0, Y0, {"batch_size": None}, TypeError, r"batch_size must be an int"),
    (
        "temperature NaN",
        X0,
        Y0,
        {"module__temperature": float("nan")},
        ValueError,
        r"finite number",
    ),
    ("hidden_dim 0", X0, Y0, {"module__hidden_dim": 0}, ValueError, r"hidden_dim must be >= 1"),
    (
        "heads not dividing",
        X0,
        Y0,
        {"module__num_heads": 3},
        ValueError,
        r"divisible by module__num_heads",
    ),
]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize(
    "X, y, params, exc, match", [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES]
)
def test_fit_rejects_malformed_input(X, y, params, exc, match):
    est = InfluenceClassifier(**{**SMALL, **params})
    with pytest.raises(exc, match=match):
        est.fit(X, y)


def test_cuda_requested_without_cuda():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match=r"CUDA is not available.*device='cpu'"):
        InfluenceClassifier(**{**SMALL, "device": "cuda"}).fit(X0, Y0)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.where(np.arange(N) == 0, np.nan, 1.0), r"y contains NaN"),
        (np.where(np.arange(N) == 0, np.inf, 1.0), r"y contains infinity"),
        (np.array(["a"] * N), r"numeric"),
        (np.ones(3), r"inconsistent numbers of samples"),
    ],
    ids=["NaN", "inf", "strings", "wrong length"],
)
def test_regressor_rejects_bad_targets(y, match):
    with pytest.raises(ValueError, match=match):
        InfluenceRegressor(**SMALL).fit(X0, y)


@pytest.fixture(scope="module")
def fitted():
    return InfluenceClassifier(**SMALL).fit(X0, Y0)


PREDICT_CASES = [
    ("fewer channels", X0[..., :1], ValueError, r"1 channels.*fitted with 2.*\(n_samples, 10, 2\)"),
    ("univariate for 2 channels", X0[..., 0], ValueError, r"fitted with 2 channels"),
    ("more channels", np.concatenate([X0, X0], 2), ValueError, r"4 channels.*fitted with 2"),
    ("longer series", np.zeros((3, T + 5, D)), ValueError, r"15 features.*10 timestamps"),
    ("shorter dense series", np.zeros((3, T - 2, D)), ValueError, r"trailing NaN"),
    ("longer ragged series", [np.zeros((T + 1, D)), np.zeros((3, D))], ValueError, r"cut"),
    ("no samples", X0[:0], ValueError, r"0 sample\(s\)"),
    ("NaN inside", _with(X0, 4, np.nan), ValueError, r"NaN inside the valid steps"),
    ("inf", _with(X0, 4, np.inf), ValueError, r"infinity"),
    ("strings", X0.astype(str), TypeError, r"numeric"),
    ("1d", X0[0, :, 0], ValueError, r"1 dimension"),
]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "influence_scores", "transform"])
@pytest.mark.parametrize(
    "X, exc, match", [c[1:] for c in PREDICT_CASES], ids=[c[0] for c in PREDICT_CASES]
)
def test_inference_rejects_malformed_input(fitted, method, X, exc, match):
    with pytest.raises(exc, match=match):
        getattr(fitted, method)(X)


@pytest.mark.parametrize(
    "method, args",
    [
        ("predict", (X0,)),
        ("predict_proba", (X0,)),
        ("score", (X0, Y0)),
        ("influence_scores", (X0,)),
        ("select", (X0,)),
        ("transform", (X0,)),
        ("get_feature_names_out", ()),
        ("counterfactual", (X0,)),
    ],
)
@pytest.mark.parametrize("cls", [InfluenceClassifier, InfluenceRegressor])
def test_unfitted_calls_raise_not_fitted(cls, method, args):
    if not hasattr(cls, method):
        pytest.skip(f"{cls.__name__} has no {method}")
    with pytest.raises(NotFittedError, match=r"not fitted yet.*Call 'fit'"):
        getattr(cls(**SMALL), method)(*args)


def test_counterfactual_target_that_is_not_a_class(fitted):
    pytest.importorskip("tsinfluence.counterfactual")
    from tsinfluence import counterfactual

    if not hasattr(counterfactual, "generate_counterfactuals"):
        pytest.skip("counterfactual generation has not landed")
    with pytest.raises(ValueError, match=r"not-a-class.*classes seen in fit"):
        fitted.counterfactual(X0[:2], target="not-a-class")


def test_k_larger_than_the_series_warns_and_selects_everything():
    """k >= T is clipped to T (every step selected) with a warning, not an error."""
    with pytest.warns(UserWarning, match=r"k=50 selects all 10 timestamps"):
        est = InfluenceClassifier(**{**SMALL, "k": 50}).fit(X0, Y0)
    assert est.select(X0).all()
    np.testing.assert_array_equal(est.selected_timestamps_, np.arange(T))


def test_k_fraction_one_warns_but_k_below_length_does_not():
    with pytest.warns(UserWarning, match=r"selects all"):
        InfluenceClassifier(**{**SMALL, "k": 1.0}).fit(X0, Y0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        InfluenceClassifier(**{**SMALL, "k": T - 1}).fit(X0, Y0)


def test_k_larger_than_some_ragged_series_is_fine():
    """Series shorter than k select all of their valid steps; no warning for them."""
    series = [np.random.default_rng(i).normal(size=(T if i % 2 else 2, D)) for i in range(N)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est = InfluenceClassifier(**SMALL).fit(series, Y0)
    mask = est.select(series)
    assert (mask[::2].sum(1) == 2).all() and (mask[1::2].sum(1) == 3).all()


def test_errors_are_never_torch_errors(fitted):
    """The validation layer answers before torch sees the data."""
    for X in [X0[..., :1], np.zeros((2, T + 1, D)), X0.astype(complex)]:
        with pytest.raises((ValueError, TypeError)) as info:
            fitted.predict(X)
        assert "torch" not in info.traceback[-1].path.parts


def test_torch_tensors_are_read_as_arrays(fitted):
    """A tensor (with or without grad) is the array it holds, as for skorch."""
    import torch

    x = torch.tensor(X0, requires_grad=True)
    np.testing.assert_array_equal(fitted.predict(x), fitted.predict(X0))
    X, pad = check_time_series(torch.tensor(X0[..., 0], dtype=torch.float64))
    np.testing.assert_array_equal(X[..., 0], X0[..., 0])
    assert not pad.any()


def test_check_time_series_without_estimator():
    with pytest.raises(TypeError, match=r"object array holding strings"):
        check_time_series(np.array([["1", 2.0]], dtype=object))
    with pytest.raises(TypeError, match=r"could not be converted"):
        check_time_series(np.array([[object(), 2.0]], dtype=object))
    with pytest.raises(ValueError, match=r"0 sample"):
        check_time_series(np.zeros((0, 3)))
    X, pad = check_time_series(np.array([[1.0, 2.0, np.nan]], dtype=object))
    assert X.shape == (1, 3, 1) and pad.tolist() == [[False, False, True]]


def test_constraint_messages():
    from numbers import Real

    with pytest.raises(TypeError, match=r"lr must be a real number, got 'x' of type str"):
        Interval(Real, 0.0).check("lr", "x")
    with pytest.raises(TypeError, match=r"lr must be a real number, got True"):
        Interval(Real, 0.0).check("lr", True)
    with pytest.raises(ValueError, match=r"finite"):
        Interval(Real, 0.0).check("lr", float("-inf"))
    with pytest.raises(ValueError, match=r"p must be <= 1"):
        Interval(Real, None, 1).check("p", 2.0)
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\), got 1.0"):
        Interval(Real, 0, 1, closed="neither").check("p", 1.0)
    Interval(Real, 0, 1).check("p", 0.5)
    Interval(Real, 0, 1, none=True).check("p", None)
    with pytest.raises(TypeError, match="or None"):
        Interval(Real, 0, 1, none=True).check("p", "a")
    with pytest.raises(ValueError, match=r"flag must be one of \['False', 'True'\], got 1"):
        BOOLEAN.check("flag", 1)
    BOOLEAN.check("flag", np.True_)
    Options(("a", "b")).check("mode", np.str_("a"))  # e.g. from a NumPy parameter grid
    with pytest.raises(ValueError, match="must be one of"):
        Options(("a", "b")).check("mode", np.array(["a"]))


def test_every_parameter_is_constrained_once():
    from tsinfluence.estimators._params import PARAMETER_CONSTRAINTS

    # objects or rules that tie parameters: checked by hand, where they are resolved
    by_hand = {"k", "selection_method", "predictor", "optimizer", "device", "callbacks"}
    by_hand |= {"random_state", "class_weight"}
    names = set(InfluenceClassifier().get_params())
    assert set(PARAMETER_CONSTRAINTS) | by_hand == names
    assert not set(PARAMETER_CONSTRAINTS) & by_hand


@pytest.mark.parametrize(
    "params, match",
    [
        (
            {"module__threshold": 1.0, "selection_method": "threshold"},
            r"threshold must be in \(0.0, 1.0\)",
        ),
        (
            {"early_stopping__validation_fraction": 1.0, "early_stopping": True},
            "validation_fraction must be in",
        ),
        ({"module__dropout": 1.0}, r"dropout must be in \[0.0, 1.0\)"),
        ({"module__causal": "yes"}, "causal must be one of"),
        ({"max_epochs": 1.5}, "max_epochs must be an int or None"),
    ],
)
def test_bounds_are_the_estimators_not_a_later_layers(params, match):
    X, y = _data()
    with pytest.raises((TypeError, ValueError), match=match):
        InfluenceClassifier(**{**SMALL, **params}).fit(X, y)


def test_a_long_table_without_multiindex_gets_a_hint():
    long = pd.DataFrame(
        {
            "id": np.repeat(np.arange(N), T),
            "time": np.tile(np.arange(T), N),
            "v": X0[..., 0].ravel(),
        }
    )
    with pytest.raises(ValueError, match=r"240 rows but y has 24 targets.*MultiIndex"):
        InfluenceClassifier(**SMALL).fit(long, Y0)
    est = InfluenceClassifier(**SMALL).fit(long.set_index(["id", "time"]), Y0)
    assert est.n_features_in_ == T
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):  # fewer rows
        InfluenceClassifier(**SMALL).fit(pd.DataFrame(X0[:5, :, 0]), Y0)
