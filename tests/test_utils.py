import numpy as np
import pandas as pd
import pytest

from tsinfluence.utils import (
    from_channels_first,
    from_long_dataframe,
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
