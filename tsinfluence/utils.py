"""Converters between tsinfluence's layout and other common time-series layouts.

tsinfluence uses **channels last**: ``(n_samples, n_timestamps, n_channels)``. aeon and
sktime use channels first, ``(n_cases, n_channels, n_timepoints)``; convert with
:func:`from_channels_first` (the axis order is never guessed), and hand a fitted
channels-first model to black-box mode with :class:`ChannelsFirst`. :func:`masked_copies`
makes training data for a model of your own that must predict from a few steps.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.utils import check_random_state

from .nn.conv import interpolate_unselected
from .nn.selection.base import resolve_k

__all__ = [
    "ChannelsFirst",
    "from_channels_first",
    "from_long_dataframe",
    "masked_copies",
    "pad_sequences",
    "to_channels_first",
    "to_long_dataframe",
]


def pad_sequences(
    sequences: Sequence[np.ndarray], length: int | None = None, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Stack series of unequal length into a trailing-NaN padded 3D array.

    Parameters
    ----------
    sequences : sequence of array-like of shape (T_i,) or (T_i, D)
        The series; all must have the same number of channels.
    length : int, optional
        Pad to this length (default: the longest series).
    dtype : numpy dtype, default=np.float64

    Returns
    -------
    X : ndarray of shape (n, T, D)
        Padded with NaN after each series' end.
    padding_mask : ndarray of shape (n, T), bool
        True at padded steps.
    """
    arrays = [np.asarray(s, dtype=dtype) for s in sequences]
    if not arrays:
        raise ValueError("Found an empty list of series; at least one series is required.")
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    for i, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(
                f"Series {i} has {a.ndim} dimensions; each series must be (n_timestamps,) or "
                "(n_timestamps, n_channels)."
            )
    channels = {a.shape[1] for a in arrays}
    if len(channels) > 1:
        raise ValueError(
            f"All series must have the same number of channels, got {sorted(channels)}."
        )
    longest = max(a.shape[0] for a in arrays)
    length = longest if length is None else length
    if longest > length:
        raise ValueError(f"A series has {longest} timestamps, more than the {length} expected.")
    out = np.full((len(arrays), length, channels.pop()), np.nan, dtype=dtype)
    padding_mask = np.ones((len(arrays), length), dtype=bool)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
        padding_mask[i, : len(a)] = False
    return out, padding_mask


def from_channels_first(X) -> np.ndarray | list[np.ndarray]:
    """Convert aeon/sktime ``(n, channels, timepoints)`` data to channels last.

    Parameters
    ----------
    X : ndarray of shape (n, D, T), or list of arrays of shape (D, T_i)
        aeon's ``numpy3D`` or ``np-list`` collection.

    Returns
    -------
    ndarray of shape (n, T, D), or list of arrays of shape (T_i, D)
    """
    if isinstance(X, list | tuple):
        return [np.asarray(x).T for x in X]
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"Expected a 3D array (n, channels, timepoints), got {X.ndim}D.")
    return np.ascontiguousarray(X.transpose(0, 2, 1))


def to_channels_first(X) -> np.ndarray | list[np.ndarray]:
    """Convert channels-last data ``(n, T, D)`` to aeon/sktime's ``(n, D, T)``.

    Parameters
    ----------
    X : array-like of shape (n, T, D), or list of arrays of shape (T_i, D)
        tsinfluence's layout (the inverse of :func:`from_channels_first`).

    Returns
    -------
    ndarray of shape (n, D, T), or list of arrays of shape (D, T_i)
        aeon's ``numpy3D`` (C-contiguous) or ``np-list`` collection.
    """
    if isinstance(X, list | tuple):
        return [np.asarray(x).T for x in X]
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"Expected a 3D array (n, timestamps, channels), got {X.ndim}D.")
    return np.ascontiguousarray(X.transpose(0, 2, 1))


def from_long_dataframe(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list]:
    """Convert a long-format frame with an ``(instance, time)`` MultiIndex to a 3D array.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per series and step, indexed by a two-level MultiIndex ``(instance, time)``;
        every column is a channel (numeric).

    Returns
    -------
    X : ndarray of shape (n, T, D)
        Series in order of first appearance, steps sorted by time, trailing-NaN padded.
    padding_mask : ndarray of shape (n, T), bool
    instances : list
        The instance labels, in the order of ``X``.
    """
    if not isinstance(frame.index, pd.MultiIndex) or frame.index.nlevels != 2:
        raise ValueError(
            "A long-format DataFrame needs a two-level MultiIndex (instance, time); got "
            f"an index with {frame.index.nlevels} level(s)."
        )
    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if non_numeric:
        raise ValueError(f"Channel columns must be numeric; not numeric: {non_numeric}.")
    frame = frame.sort_index(level=1, sort_remaining=False, kind="stable")
    instances = list(dict.fromkeys(frame.index.get_level_values(0)))
    groups = {key: group.to_numpy(dtype=np.float64) for key, group in frame.groupby(level=0)}
    X, padding_mask = pad_sequences([groups[key] for key in instances])
    return X, padding_mask, instances


def to_long_dataframe(
    X: np.ndarray,
    padding_mask: np.ndarray | None = None,
    channel_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Convert ``(n, T, D)`` data to a long-format frame with an ``(instance, time)`` index.

    Padded steps are dropped, so series of unequal length keep their own lengths (the
    inverse of :func:`from_long_dataframe`).

    Parameters
    ----------
    X : array-like of shape (n, T, D) or (n, T)
        The series; 2D input is one channel.
    padding_mask : array-like of shape (n, T), bool, optional
        True at padded steps; by default, the steps whose channels are all NaN.
    channel_names : sequence of str, optional
        Column names, one per channel (default ``c0``, ``c1``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per valid step, float64 columns (one per channel), indexed by a
        MultiIndex ``(instance, time)`` of integer positions.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        X = X[:, :, None]
    n, length, channels = X.shape
    if padding_mask is None:
        padding_mask = np.isnan(X).all(axis=2)
    keep = ~np.asarray(padding_mask, dtype=bool).ravel()
    index = pd.MultiIndex.from_product([range(n), range(length)], names=["instance", "time"])
    names = list(channel_names) if channel_names is not None else [f"c{d}" for d in range(channels)]
    return pd.DataFrame(X.reshape(n * length, channels), index=index, columns=names)[keep]


_MODEL_METHODS = ("decision_function", "predict_proba", "predict")


def _channels_first_input(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 2:  # univariate (n, T)
        return X[:, None, :]
    return np.ascontiguousarray(X.transpose(0, 2, 1))


class ChannelsFirst:
    """Hand a fitted channels-first model (aeon, sktime) to tsinfluence's black-box mode.

    ``InfluenceClassifier(predictor=ChannelsFirst(model), freeze_predictor=True)``
    explains ``model`` on channels-last data: every call transposes ``(n, T, D)`` (or
    ``(n, T)``) to ``(n, D, T)`` before reaching the model. ``decision_function``,
    ``predict_proba``, ``predict`` and ``classes_`` are those of ``model`` (absent if it has
    none); a plain callable ``model`` is called as ``ChannelsFirst(model)(X)``. The model is
    never refit or changed; the wrapper pickles when the model does.

    Parameters
    ----------
    model : object
        A fitted estimator taking ``(n, channels, timepoints)``, or such a callable.

    Examples
    --------
    >>> import numpy as np
    >>> class Mean:  # a toy channels-first "model": mean of channel 0 over time
    ...     def predict(self, X):
    ...         return X[:, 0, :].mean(axis=1)
    >>> ChannelsFirst(Mean()).predict(np.ones((2, 5, 3))).shape
    (2,)
    """

    def __init__(self, model) -> None:
        self.model = model

    def __getattr__(self, name: str):
        if name in _MODEL_METHODS:
            fn = getattr(self.__dict__.get("model"), name)  # AttributeError if absent

            def method(X):
                return fn(_channels_first_input(X))

            method.__name__ = name
            return method
        if name == "classes_":
            return self.__dict__.get("model").classes_
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __call__(self, X):
        """``model(X)`` with ``X`` transposed to channels first.

        Parameters
        ----------
        X : ndarray of shape (n, T, D) or (n, T)
            Channels-last series.

        Returns
        -------
        object
            What the wrapped callable returns for ``(n, D, T)`` input.
        """
        if not callable(self.model):
            raise TypeError(f"{type(self.model).__name__} is not callable.")
        return self.model(_channels_first_input(X))

    def __repr__(self) -> str:
        return f"ChannelsFirst({self.model!r})"


def masked_copies(X, y=None, *, k: int | float = 0.25, n_copies: int = 10, random_state=None):
    """Training copies of series with a random ``k`` of their steps kept, the rest interpolated.

    A model of your own (a MiniRocket, a scikit-learn pipeline, a torch network) trained on
    full series often predicts poorly from a few steps. Trained on the series *and* these
    copies, it learns to predict from any ``k`` of them; hand it, fitted and frozen, to
    ``InfluenceClassifier(k=k, predictor=model, freeze_predictor=True,
    baseline="interpolate")``, which fills the unselected steps the same way. How much of
    the model's accuracy the prediction from the selected steps keeps depends on the data
    and on the selection (``benchmarks/RESULTS.md``, accuracy section): compare it with the
    same model on random subsets of ``k`` steps. Each copy keeps ``k`` steps drawn uniformly
    without replacement, its own draw per copy and series; between kept steps the values are
    straight lines, before the first and after the last kept step they are held constant (as
    ``baseline="interpolate"`` fills them).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timestamps[, n_channels]), or list
        Channels-last series; series of unequal length as a list of ``(T_i,)`` or
        ``(T_i, D)`` arrays.
    y : array-like of shape (n_samples,), optional
        Targets, repeated for the copies.
    k : int or float in (0, 1], default=0.25
        Steps kept per copy: a number, or a fraction of each series' length (rounded, at
        least one step), as the estimators' ``k``.
    n_copies : int, default=10
        Masked copies per series.
    random_state : int, RandomState instance or None, default=None
        Seed of the kept steps.

    Returns
    -------
    X_copies : ndarray or list
        The ``n_samples`` original series followed by ``n_copies`` blocks of ``n_samples``
        masked copies (copy ``j`` of series ``i`` at ``(j + 1) * n_samples + i``), float64,
        in the layout of ``X`` (a list for a list input).
    y_copies : ndarray of shape (n_samples * (n_copies + 1),)
        ``y`` repeated in the same order; only returned when ``y`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(2, 6)
    >>> Xc, yc = masked_copies(X, np.array([0, 1]), k=2, n_copies=3, random_state=0)
    >>> Xc.shape, yc.tolist()
    ((8, 6), [0, 1, 0, 1, 0, 1, 0, 1])
    """
    if k is None:
        raise TypeError("k must be an int or a float in (0, 1], got None.")
    if isinstance(n_copies, bool) or not isinstance(n_copies, numbers.Integral) or n_copies < 1:
        raise ValueError(f"n_copies must be an int >= 1, got {n_copies!r}.")
    as_list = isinstance(X, (list, tuple))
    if isinstance(X, pd.DataFrame):
        raise TypeError(
            "masked_copies takes arrays or a list of series, not a DataFrame; convert a long "
            "DataFrame with from_long_dataframe first."
        )
    if as_list:
        series = [np.asarray(x, dtype=np.float64) for x in X]
    else:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim not in (2, 3):
            raise ValueError(
                f"X must have shape (n_samples, n_timestamps[, n_channels]), got {X.shape}."
            )
        series = list(X)
    if not series:
        raise ValueError("X holds no series.")
    univariate = series[0].ndim == 1
    for i, x in enumerate(series):
        if x.ndim not in (1, 2) or (x.ndim == 1) != univariate or len(x) == 0:
            raise ValueError(
                f"Series {i} has shape {x.shape}: expected every series to be (T,) or (T, D) "
                "alike, with at least one step."
            )
        if not np.isfinite(x).all():
            raise ValueError(
                f"Series {i} contains NaN or infinite values; pass series of unequal length "
                "as a list of arrays, not NaN-padded."
            )
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(series):
            raise ValueError(f"X has {len(series)} series but y has {len(y)} targets.")
    lengths = torch.tensor([len(x) for x in series])
    counts = resolve_k(k, torch.arange(int(lengths.max()))[None, :] < lengths[:, None]).tolist()
    rng = check_random_state(random_state)
    copies = list(series)
    for _ in range(n_copies):
        for x, count in zip(series, counts):
            x2 = torch.from_numpy(x[:, None] if univariate else x)
            keep = np.zeros(len(x2), dtype=bool)
            keep[rng.choice(len(x2), count, replace=False)] = True
            filled = interpolate_unselected(x2[None], torch.from_numpy(keep)[None])[0].numpy()
            copies.append(filled[:, 0] if univariate else filled)
    X_out = copies if as_list else np.stack(copies)
    if y is None:
        return X_out
    return X_out, np.concatenate([y] * (n_copies + 1))
