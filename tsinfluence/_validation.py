"""The one place where inputs are checked and converted.

Every public method validates its input here, so malformed data gets a clear
``ValueError``/``TypeError`` naming the problem and the expected shape, never a torch
traceback.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import validate_data

from .utils import from_long_dataframe, pad_sequences

__all__ = ["check_param", "check_time_series"]

SHAPE_HINT = "(n_samples, n_timestamps) or (n_samples, n_timestamps, n_channels)"


def _is_ragged_sequence(X) -> bool:
    if not isinstance(X, list | tuple) or len(X) == 0:
        return False
    try:
        shapes = {np.shape(x) for x in X}
    except (ValueError, TypeError):  # pragma: no cover - exotic nested objects
        return True
    return len(shapes) > 1 and all(len(s) in (1, 2) for s in shapes)


def check_time_series(
    X,
    estimator=None,
    *,
    reset: bool = True,
    dtype=np.float32,
    length: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate time-series input and return it as a dense 3D array plus a padding mask.

    Accepted: a 2D array ``(n, T)`` (univariate), a 3D array ``(n, T, D)``, a wide
    DataFrame (columns are timestamps), a long DataFrame with an ``(instance, time)``
    MultiIndex, a list of ``(T_i, D)`` arrays of unequal length, and arrays padded with
    trailing NaN steps. Padding is returned as a mask; NaN inside a valid step, or inf
    anywhere, is an error.

    Parameters
    ----------
    X : array-like, DataFrame or list of arrays
    estimator : estimator, optional
        If given, ``sklearn.utils.validation.validate_data`` runs on it (sets or checks
        ``n_features_in_`` = number of timestamps and ``feature_names_in_``).
    reset : bool, default=True
        Whether this is a ``fit`` call (see ``validate_data``).
    dtype : numpy dtype, default=np.float32
    length : int, optional
        Pad unequal-length input to this many timestamps (the fitted length at predict).

    Returns
    -------
    X : ndarray of shape (n, T, D)
        Padded steps are 0.
    padding_mask : ndarray of shape (n, T), bool
        True at padded steps.
    """
    if isinstance(X, pd.DataFrame) and isinstance(X.index, pd.MultiIndex):
        X, _, _ = from_long_dataframe(X)
        if length is not None and X.shape[1] < length:
            X = np.concatenate(
                [X, np.full((X.shape[0], length - X.shape[1], X.shape[2]), np.nan)], axis=1
            )
    elif _is_ragged_sequence(X):
        X, _ = pad_sequences(X, length=length)
    if estimator is not None:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            allow_nd=True,
            dtype=dtype,
            ensure_all_finite="allow-nan",
            ensure_min_samples=1,
        )
    else:
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric; got an array of dtype {X.dtype}.")
        X = X.astype(dtype, copy=False)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError(f"X must be {SHAPE_HINT}; got an array with {X.ndim} dimensions.")
    if X.shape[1] < 1 or X.shape[2] < 1:
        raise ValueError(f"X must have at least one timestamp and one channel; got {X.shape}.")
    if np.isinf(X).any():
        raise ValueError("Input X contains infinity; only finite values are accepted.")
    nan = np.isnan(X)
    padding_mask = nan.all(axis=2)
    if nan.any():
        partial = nan.any(axis=2) & ~padding_mask
        # A padded step must be followed only by padded steps (trailing padding).
        not_trailing = padding_mask & ~np.flip(np.cumprod(np.flip(padding_mask, 1), 1), 1).astype(
            bool
        )
        if partial.any() or not_trailing.any():
            i, t = np.argwhere(partial | not_trailing)[0]
            raise ValueError(
                f"Input X contains NaN inside the valid steps (series {i}, timestamp {t}). "
                "NaN is only accepted as trailing padding of whole timestamps (all channels) "
                "marking the end of a shorter series."
            )
        if padding_mask.all(axis=1).any():
            i = int(np.argmax(padding_mask.all(axis=1)))
            raise ValueError(f"Series {i} has no valid timestamp (it is all NaN).")
        X = np.where(nan, 0.0, X).astype(dtype, copy=False)
    X = np.require(X, dtype=dtype, requirements=["C", "W"])
    return X, padding_mask


def check_param(name: str, value, kind, *, low=None, high=None, include_low=True, options=None):
    """Check one hyper-parameter and raise a ValueError/TypeError naming it.

    Parameters
    ----------
    name : str
        Parameter name for the message.
    value : object
    kind : type or tuple of types, or "option"
        Expected type(s), or ``"option"`` to check membership in ``options``.
    low, high : number, optional
        Bounds (``low`` inclusive unless ``include_low=False``; ``high`` inclusive).
    options : collection, optional
        Allowed values when ``kind == "option"``.
    """
    if kind == "option":
        if value not in options:
            raise ValueError(f"{name} must be one of {sorted(map(str, options))}, got {value!r}.")
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise TypeError(f"{name} must be a number, got {value!r}.")
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be of type {kind}, got {value!r}.")
    if isinstance(value, numbers.Real):
        if low is not None and (value < low or (not include_low and value == low)):
            bound = ">=" if include_low else ">"
            raise ValueError(f"{name} must be {bound} {low}, got {value}.")
        if high is not None and value > high:
            raise ValueError(f"{name} must be <= {high}, got {value}.")
    return value
