import numpy as np
import pandas as pd
import pytest
import torch

from tsinfluence.nn.conv import interpolate_unselected
from tsinfluence.utils import (
    from_channels_first,
    from_long_dataframe,
    masked_copies,
    pad_sequences,
    to_channels_first,
    to_long_dataframe,
)


def test_channels_first_round_trip():
    X = np.arange(2 * 3 * 5, dtype=float).reshape(2, 3, 5)  # (n, channels, timepoints)
    Xl = from_channels_first(X)
    assert Xl.shape == (2, 5, 3) and Xl[1, 4, 2] == X[1, 2, 4]
    np.testing.assert_array_equal(to_channels_first(Xl), X)
    ragged = from_channels_first([np.ones((3, 4)), np.ones((3, 6))])
    assert [r.shape for r in ragged] == [(4, 3), (6, 3)]
    with pytest.raises(ValueError, match="3D"):
        from_channels_first(np.ones((2, 3)))


def test_pad_sequences():
    X, pad = pad_sequences([np.ones(3), np.ones(5) * 2])
    assert X.shape == (2, 5, 1)
    assert np.isnan(X[0, 3:]).all() and pad.tolist()[0] == [False] * 3 + [True] * 2
    with pytest.raises(ValueError, match="same number of channels"):
        pad_sequences([np.ones((3, 2)), np.ones((3, 1))])
    with pytest.raises(ValueError, match="more than"):
        pad_sequences([np.ones(6)], length=4)
    with pytest.raises(ValueError, match="empty"):
        pad_sequences([])


def test_long_dataframe_round_trip_with_unequal_lengths():
    index = pd.MultiIndex.from_tuples(
        [("b", 1), ("b", 0), ("a", 0), ("a", 1), ("a", 2)], names=["id", "time"]
    )
    frame = pd.DataFrame({"x": [11.0, 10.0, 0.0, 1.0, 2.0], "z": [5.0] * 5}, index=index)
    X, pad, instances = from_long_dataframe(frame)
    assert instances == ["b", "a"]
    assert X.shape == (2, 3, 2)
    assert X[0, :2, 0].tolist() == [10.0, 11.0]  # sorted by time
    assert pad[0].tolist() == [False, False, True]
    back = to_long_dataframe(X, pad, channel_names=["x", "z"])
    assert len(back) == 5 and list(back.columns) == ["x", "z"]
    with pytest.raises(ValueError, match="MultiIndex"):
        from_long_dataframe(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="numeric"):
        from_long_dataframe(frame.assign(z="s"))


def test_masked_copies_keep_k_steps_and_fill_as_baseline_interpolate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 20, 2))  # continuous values: a filled step never equals its value
    y = np.array(["a", "b", "a", "b"])
    Xc, yc = masked_copies(X, y, k=0.25, n_copies=3, random_state=0)
    assert Xc.shape == (16, 20, 2) and yc.tolist() == y.tolist() * 4
    np.testing.assert_array_equal(Xc[:4], X)
    for j in range(1, 4):
        copy = Xc[4 * j : 4 * j + 4]
        keep = (copy == X).all(axis=2)
        assert keep.sum(axis=1).tolist() == [5] * 4  # round(0.25 * 20) steps per series
        # the same values as the estimators' baseline="interpolate" fill of that selection
        filled = interpolate_unselected(torch.from_numpy(X), torch.from_numpy(keep))
        np.testing.assert_allclose(copy, filled.numpy(), rtol=0, atol=1e-6)
    # its own draw per copy, the same draws for the same seed
    assert not np.array_equal(Xc[4:8], Xc[8:12])
    np.testing.assert_array_equal(
        masked_copies(X, k=3, n_copies=2, random_state=1)[4:].shape, (8, 20, 2)
    )
    np.testing.assert_array_equal(
        masked_copies(X, k=3, random_state=1), masked_copies(X, k=3, random_state=1)
    )


def test_masked_copies_univariate_and_unequal_lengths():
    rng = np.random.default_rng(1)
    Xc = masked_copies(rng.normal(size=(3, 8)), k=2, n_copies=2, random_state=0)
    assert Xc.shape == (9, 8)
    ragged = [rng.normal(size=(5, 2)), rng.normal(size=(9, 2))]
    out = masked_copies(ragged, k=0.5, n_copies=1, random_state=0)
    assert isinstance(out, list) and [x.shape for x in out] == [(5, 2), (9, 2)] * 2
    assert [(out[2 + i] == ragged[i]).all(axis=1).sum() for i in range(2)] == [2, 4]
    assert (masked_copies([np.ones(3)], k=10, random_state=0)[1] == 1).all()  # k capped


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"k": 0}, ValueError, "k must be >= 1"),
        ({"k": 1.5}, ValueError, "k must be in"),
        ({"k": True}, TypeError, "k must be an int"),
        ({"n_copies": 0}, ValueError, "n_copies must be an int >= 1"),
        ({"y": [0, 1, 2]}, ValueError, "has 2 series but y has 3"),
    ],
)
def test_masked_copies_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        masked_copies(np.ones((2, 6)), **kwargs)


def test_masked_copies_refuses_nan_padding_and_other_layouts():
    X = np.ones((2, 6))
    X[0, 4:] = np.nan
    with pytest.raises(ValueError, match="as a list of arrays"):
        masked_copies(X)
    with pytest.raises(ValueError, match=r"got \(6,\)"):
        masked_copies(np.ones(6))
    with pytest.raises(TypeError, match="from_long_dataframe"):
        masked_copies(pd.DataFrame(np.ones((2, 6))))
    with pytest.raises(ValueError, match="no series"):
        masked_copies([])
