import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_score

from tsinfluence.datasets import (
    load_long_format,
    make_box,
    make_interaction,
    make_marked_sum,
    make_signal_event,
    make_state_switching,
)

PATTERNS = ["middle", "moving", "rare_time", "rare_feature", "positional"]
GENERATORS = [
    (make_signal_event, {}, (30, 4)),
    (make_state_switching, {}, (100, 3)),
    (make_interaction, {}, (30, 2)),
    (make_marked_sum, {}, (30, 2)),
] + [(make_box, {"pattern": p}, (50, 5)) for p in PATTERNS]
IDS = [g[0].__name__ + str(g[1].get("pattern", "")) for g in GENERATORS]


@pytest.mark.parametrize("gen, kwargs, shape", GENERATORS, ids=IDS)
def test_shapes_dtypes_and_determinism(gen, kwargs, shape):
    X, y, truth, cells = gen(n_samples=40, random_state=0, return_cell_truth=True, **kwargs)
    assert X.shape == (40, *shape) and X.dtype == np.float64
    assert y.shape == (40,)
    if gen is make_marked_sum:
        assert y.dtype == np.float64
    else:
        assert y.dtype.kind == "i" and set(np.unique(y)) <= {0, 1}
    assert truth.shape == (40, shape[0]) and truth.dtype == bool
    assert cells.shape == X.shape and cells.dtype == bool
    np.testing.assert_array_equal(cells.any(axis=2), truth)
    assert truth.any(axis=1).all()
    X2, y2, truth2 = gen(n_samples=40, random_state=0, **kwargs)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(truth, truth2)
    X3 = gen(n_samples=40, random_state=1, **kwargs)[0]
    assert not np.array_equal(X, X3)


def test_truth_sizes():
    _, _, t, c = make_signal_event(
        n_samples=50, event_length=4, random_state=0, return_cell_truth=True
    )
    assert (t.sum(1) == 4).all() and (c.sum((1, 2)) == 4).all()
    for pattern in PATTERNS:
        _, _, t, c = make_box(
            n_samples=50,
            pattern=pattern,
            box_length=4,
            n_box_channels=2,
            random_state=0,
            return_cell_truth=True,
        )
        assert (t.sum(1) == 4).all() and (c.sum((1, 2)) == 8).all()
        starts = t.argmax(axis=1)
        assert (np.diff(t.astype(int), axis=1) == 1).sum(1).max() <= 1  # one contiguous block
        if pattern in ("middle", "rare_feature"):
            assert len(np.unique(starts)) == 1
    _, y, t = make_box(n_samples=100, pattern="positional", random_state=0)
    late = t.argmax(axis=1) >= 25
    np.testing.assert_array_equal(late, y == 1)
    _, _, t, c = make_interaction(
        n_samples=50, n_channels=3, random_state=0, return_cell_truth=True
    )
    assert (t.sum(1) == 2).all() and c[:, :, 1].sum() == 100 and not c[:, :, [0, 2]].any()
    X, _, t, c = make_marked_sum(n_samples=50, n_marked=5, random_state=0, return_cell_truth=True)
    assert (t.sum(1) == 5).all() and c[:, :, 0].sum() == 250
    np.testing.assert_array_equal(X[:, :, 1] == 1, t)


def test_state_switching_truth_is_final_regime():
    X, y, t, c = make_state_switching(
        n_samples=200,
        n_timestamps=40,
        min_final_length=6,
        noise=0.0,
        random_state=0,
        return_cell_truth=True,
    )
    length = t.sum(axis=1)
    assert (length >= 6).all() and (length < 40).any()
    for i in range(len(X)):  # truth is a suffix; the active channel is constant on it
        assert t[i, 40 - length[i] :].all() and not t[i, : 40 - length[i]].any()
        active = np.abs(X[i, t[i]]).argmax(axis=1)
        assert len(np.unique(active)) == 1 and c[i, t[i], active[0]].all()
        before = 40 - length[i] - 1
        if before >= 0:  # the step before the final regime is in the other state
            assert np.abs(X[i, before]).argmax() != active[0]
    np.testing.assert_array_equal(
        np.sign(X[t].sum(axis=1)).reshape(-1) > 0, np.repeat(y, length) == 1
    )


def _truth_feature(name, X, truth):
    if name == "interaction":  # XOR: product of the two event values
        v = X[:, :, 1][truth].reshape(len(X), 2)
        return (v[:, 0] * v[:, 1])[:, None]
    if name == "positional":
        return (truth * np.arange(X.shape[1])).sum(1, keepdims=True) / truth.sum(1, keepdims=True)
    if name == "marked_sum":
        return (X[:, :, 0] * truth).sum(1, keepdims=True)
    return (X * truth[:, :, None]).sum(axis=(1, 2))[:, None]


def _non_truth_features(X, truth):
    """Values at non-truth steps (truth zeroed) plus summary statistics, per channel."""
    keep = ~truth[:, :, None]
    count = np.maximum(keep.sum(1), 1)
    Z = np.where(keep, X, 0.0)
    mean = Z.sum(1) / count
    std = np.sqrt((np.where(keep, X - mean[:, None], 0.0) ** 2).sum(1) / count)
    low = np.where(keep, X, np.inf).min(1)
    high = np.where(keep, X, -np.inf).max(1)
    stats = [np.where(np.isfinite(a), a, 0.0) for a in (mean, std, low, high)]
    return np.hstack([Z.reshape(len(X), -1), *stats])


CASES = [
    ("signal_event", make_signal_event, {}),
    ("state", make_state_switching, {"n_timestamps": 40}),
    ("interaction", make_interaction, {}),
    ("marked_sum", make_marked_sum, {}),
] + [(p, make_box, {"pattern": p}) for p in PATTERNS]


@pytest.mark.parametrize("name, gen, kwargs", CASES, ids=[c[0] for c in CASES])
def test_truth_sufficient_and_necessary(name, gen, kwargs):
    regression = name == "marked_sum"
    model = Ridge(alpha=1.0) if regression else LogisticRegression(C=1.0, max_iter=500)
    clean = {} if regression else {"noise": 0.0}
    X, y, truth = gen(n_samples=300, random_state=0, **clean, **kwargs)
    score = cross_val_score(model, _truth_feature(name, X, truth), y, cv=3).mean()
    assert score >= (0.99 if regression else 0.95), score
    # non-truth steps only: chance level (noisy version so the features are not constant)
    noisy = {} if regression else {"noise": 1.0}
    X, y, truth = gen(n_samples=300, random_state=1, **noisy, **kwargs)
    model = Ridge(alpha=10.0) if regression else LogisticRegression(C=0.1, max_iter=500)
    score = cross_val_score(model, _non_truth_features(X, truth), y, cv=3).mean()
    assert score <= (0.1 if regression else 0.62), score


def test_interaction_one_event_alone_is_uninformative():
    X, y, truth = make_interaction(n_samples=400, noise=0.0, random_state=0)
    first = X[:, :, 1][truth].reshape(len(X), 2)[:, :1]
    assert cross_val_score(LogisticRegression(), first, y, cv=3).mean() <= 0.6


def test_marked_sum_target_noise():
    X, y, truth = make_marked_sum(n_samples=200, noise=0.5, random_state=0)
    resid = y - (X[:, :, 0] * truth).sum(1)
    assert 0.35 < resid.std() < 0.65


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: make_box(pattern="diagonal"), "pattern"),
        (lambda: make_signal_event(n_timestamps=5, event_length=6), "event_length"),
        (lambda: make_signal_event(noise=-1.0), "noise"),
        (lambda: make_interaction(n_channels=1), "n_channels"),
        (lambda: make_state_switching(p_switch=1.5), "p_switch"),
        (lambda: make_marked_sum(n_marked=0), "n_marked"),
        (lambda: make_box(n_samples=2.5), "n_samples"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _long_frame():
    return pd.DataFrame(
        {
            "id": ["b", "b", "a", "a", "a"],
            "t": [1, 0, 0, 2, 1],
            "x": [1.0, 2.0, 3.0, 4.0, 5.0],
            "z": [0.0, 1.0, 2.0, 3.0, 4.0],
            "label": [7, 7, 3, 3, 3],
        }
    )


def test_load_long_format_frame():
    X, y, ids, times = load_long_format(_long_frame(), "id", "t", target_col="label")
    assert X.shape == (2, 3, 2) and X.dtype == np.float64
    np.testing.assert_array_equal(ids, ["a", "b"])
    np.testing.assert_array_equal(y, [3, 7])
    np.testing.assert_array_equal(X[0], [[3, 2], [5, 4], [4, 3]])
    np.testing.assert_array_equal(X[1, :2], [[2, 1], [1, 0]])
    assert np.isnan(X[1, 2]).all()
    assert [list(t) for t in times] == [[0, 1, 2], [0, 1]]
    X, y, _, _ = load_long_format(_long_frame(), "id", "t", channel_cols=["z"])
    assert y is None and X.shape == (2, 3, 1)


def test_load_long_format_files_and_errors(tmp_path):
    path = tmp_path / "data.csv"
    _long_frame().to_csv(path, index=False)
    X, y, ids, _ = load_long_format(str(path), "id", "t", "label")
    assert X.shape == (2, 3, 2) and list(y) == [3, 7]
    bad = _long_frame()
    bad.loc[0, "label"] = 8
    with pytest.raises(ValueError, match="varies"):
        load_long_format(bad, "id", "t", "label")
    with pytest.raises(ValueError, match="extension"):
        load_long_format(tmp_path / "data.xlsx", "id", "t")
    with pytest.raises(FileNotFoundError):
        load_long_format(tmp_path / "missing.csv", "id", "t")
    with pytest.raises(ValueError, match="not found"):
        load_long_format(_long_frame(), "id", "time")
    dup = pd.concat([_long_frame(), _long_frame().iloc[:1]])
    with pytest.raises(ValueError, match="Repeated"):
        load_long_format(dup, "id", "t")


def test_load_long_format_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.parquet"
    _long_frame().to_parquet(path)
    X, y, _, _ = load_long_format(path, "id", "t", "label")
    assert X.shape == (2, 3, 2) and list(y) == [3, 7]
