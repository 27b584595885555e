"""The one place where inputs are checked and converted.

Every public method validates its input here, so malformed data gets a clear
``ValueError``/``TypeError`` naming the problem and the expected shape, never a torch
traceback.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.utils.validation import validate_data

from .utils import from_long_dataframe, pad_sequences

__all__ = ["BOOLEAN", "Interval", "Options", "check_time_series"]

SHAPE_HINT = "(n_samples, n_timestamps) or (n_samples, n_timestamps, n_channels)"
PADDING_HINT = (
    "NaN is only accepted as trailing padding of whole timestamps (all channels) marking the "
    "end of a shorter series."
)
# Fragments of numpy/pandas/sklearn messages raised when values cannot be read as numbers.
_CONVERSION_ERRORS = (
    "could not convert",
    "argument must be",
    "invalid literal",
    "unable to convert",
    "bytes/strings",
    "cannot convert",
)


def _is_ragged_sequence(X) -> bool:
    if not isinstance(X, list | tuple) or len(X) == 0:
        return False
    try:
        shapes = [np.shape(x) for x in X]
    except (ValueError, TypeError):  # pragma: no cover - exotic nested objects
        return True
    if len(set(shapes)) == 1:
        return False
    if not all(len(s) in (1, 2) for s in shapes):
        seen = sorted({str(s) for s in shapes})[:5]
        raise ValueError(
            "A list of series of unequal length must hold 1D (n_timestamps_i,) or 2D "
            f"(n_timestamps_i, n_channels) arrays; got items of shapes {', '.join(seen)}."
        )
    return True


def _holds_strings(values: np.ndarray) -> bool:
    return any(isinstance(v, str | bytes) for v in values.ravel())


def _check_array_kind(X) -> None:
    """Reject dtypes that are not real numbers, and wrong numbers of dimensions, early."""
    if isinstance(X, pd.DataFrame):
        text = [c for c in X.columns if pd.api.types.is_string_dtype(X[c].dtype)]
        if text and any(_holds_strings(X[c].to_numpy()) for c in text):
            raise TypeError(
                f"X must be numeric; the DataFrame has text columns ({text[:3]}). Convert them "
                "first, e.g. X.astype(float), if they hold numbers."
            )
        return
    dtype = getattr(X, "dtype", None)
    if dtype is None:
        return
    if dtype.kind in "USa":
        raise TypeError(
            f"X must be numeric; got an array of strings (dtype {dtype}). Convert it first, "
            "e.g. X.astype(float), if the strings hold numbers."
        )
    if dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: X has dtype {dtype}; expected real numbers "
            "(split real and imaginary parts into two channels)."
        )
    if dtype.kind == "O" and _holds_strings(np.asarray(X)):
        raise TypeError(
            "X must be numeric; got an object array holding strings. Convert it first, e.g. "
            "X.astype(float), if the strings hold numbers."
        )
    if dtype.kind in "mMV":
        raise TypeError(f"X must be numeric; got an array of dtype {dtype}.")
    ndim = np.ndim(X)
    if ndim not in (2, 3):
        hint = (
            " Reshape your data: a single univariate series of length T is X.reshape(1, -1); "
            "several univariate series are (n_samples, n_timestamps)."
            if ndim == 1
            else ""
        )
        raise ValueError(
            f"X must be {SHAPE_HINT}; got an array with {ndim} dimension(s) of shape "
            f"{np.shape(X)}.{hint}"
        )


def _as_array(X):
    """Turn nested lists and tensors into arrays with a readable error; arrays pass through."""
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor, on any device
        return X.detach().cpu().numpy()
    if isinstance(X, pd.DataFrame) or hasattr(X, "__array__") or hasattr(X, "dtype"):
        return X
    try:
        return np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"X could not be read as an array {SHAPE_HINT} ({exc}). Pass series of unequal "
            "length as a list of (n_timestamps_i,) or (n_timestamps_i, n_channels) arrays."
        ) from None


def _reraise_validation_error(exc: Exception, estimator, reset: bool) -> None:
    """Re-raise an error of ``validate_data`` with what is expected of a time series."""
    msg = str(exc)
    low = msg.lower()
    if "infinity" in low:
        raise ValueError(f"{msg} X must hold finite numbers; {PADDING_HINT}") from None
    if any(fragment in low for fragment in _CONVERSION_ERRORS):
        raise TypeError(
            f"X must hold real numbers of shape {SHAPE_HINT}; it could not be converted: {msg}"
        ) from None
    if not reset and msg.startswith("X has ") and "features" in msg:
        expected = getattr(estimator, "n_features_in_", None)
        raise ValueError(
            f"{msg} Features are timestamps here: {type(estimator).__name__} was fitted on "
            f"series of {expected} timestamps. Pass shorter series as a list of arrays or "
            "padded with trailing NaN steps; longer series must be cut or the model refitted."
        ) from None
    raise exc


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
    MultiIndex, a list of ``(T_i, D)`` arrays of unequal length, arrays padded with
    trailing NaN steps, and torch tensors (read as the array they hold). Padding is
    returned as a mask; NaN inside a valid step, or inf anywhere, is an error.

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
        try:
            X, _ = pad_sequences(X, length=length)
        except ValueError as exc:
            if length is None or "timestamps" not in str(exc):
                raise
            raise ValueError(
                f"{exc} The model was fitted on series of {length} timestamps; longer series "
                "must be cut or the model refitted."
            ) from None
    X = _as_array(X)
    _check_array_kind(X)
    if estimator is not None:
        try:
            X = validate_data(
                estimator,
                X,
                reset=reset,
                allow_nd=True,
                dtype=dtype,
                ensure_all_finite="allow-nan",
                ensure_min_samples=1,
            )
        except (ValueError, TypeError) as exc:
            _reraise_validation_error(exc, estimator, reset)
    else:
        X = np.asarray(X)
        if X.dtype.kind == "O":
            try:
                X = X.astype(np.float64)
            except (ValueError, TypeError) as exc:
                _reraise_validation_error(exc, estimator, reset)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric; got an array of dtype {X.dtype}.")
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
            )
        X = X.astype(dtype, copy=False)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError(f"X must be {SHAPE_HINT}; got an array with {X.ndim} dimensions.")
    if X.shape[1] < 1 or X.shape[2] < 1:
        raise ValueError(f"X must have at least one timestamp and one channel; got {X.shape}.")
    if np.isinf(X).any():
        raise ValueError(
            "Input X contains infinity (or a value too large for its dtype); X must hold finite "
            f"numbers. {PADDING_HINT}"
        )
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
                f"{PADDING_HINT}"
            )
        if padding_mask.all(axis=1).any():
            i = int(np.argmax(padding_mask.all(axis=1)))
            raise ValueError(
                f"Series {i} has no valid timestamp (it is all NaN); every series needs at "
                "least one finite timestamp."
            )
        X = np.where(nan, 0.0, X).astype(dtype, copy=False)
    X = np.require(X, dtype=dtype, requirements=["C", "W"])
    return X, padding_mask


_TYPE_NAMES = {numbers.Integral: "an int", numbers.Real: "a real number", str: "a string"}


@dataclass(frozen=True)
class Interval:
    """A hyper-parameter constraint: a number of type ``kind`` within bounds.

    Parameters
    ----------
    kind : type or tuple of types
        ``numbers.Integral`` or ``numbers.Real`` (``bool`` is never a number).
    low, high : float, optional
        Bounds; ``None`` is unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are included.
    none : bool, default=False
        Whether ``None`` is allowed too (a default resolved at fit).
    """

    kind: type | tuple[type, ...]
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    none: bool = False

    def check(self, name: str, value) -> None:
        """Raise a ``TypeError``/``ValueError`` naming ``name`` unless ``value`` fits.

        Parameters
        ----------
        name : str
            The parameter's name, for the message.
        value : object
        """
        if value is None and self.none:
            return
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if isinstance(value, bool) or not isinstance(value, kinds):
            expected = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
            expected += " or None" if self.none else ""
            raise TypeError(
                f"{name} must be {expected}, got {value!r} of type {type(value).__name__}."
            )
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}.")
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (not left and value == self.low)):
            if self.high is not None:
                raise ValueError(f"{name} must be in {self._range()}, got {value}.")
            raise ValueError(f"{name} must be {'>=' if left else '>'} {self.low}, got {value}.")
        if self.high is not None and (value > self.high or (not right and value == self.high)):
            if self.low is not None:
                raise ValueError(f"{name} must be in {self._range()}, got {value}.")
            raise ValueError(f"{name} must be {'<=' if right else '<'} {self.high}, got {value}.")

    def _range(self) -> str:
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{left}{self.low}, {self.high}{right}"


@dataclass(frozen=True)
class Options:
    """A hyper-parameter constraint: one of a fixed set of values (the option registries).

    Parameters
    ----------
    values : collection
        The allowed values (``None`` may be one).
    """

    values: tuple

    def check(self, name: str, value) -> None:
        """Raise a ``ValueError`` naming ``name`` unless ``value`` is one of :attr:`values`.

        Parameters
        ----------
        name : str
            The parameter's name, for the message.
        value : object
        """
        if not any(_same(value, option) for option in self.values):
            raise ValueError(
                f"{name} must be one of {sorted(map(str, self.values))}, got {value!r}."
            )


def _same(value, option) -> bool:
    """``value`` is ``option``: equal and of its type (``1`` is not ``True``, a NumPy string
    or bool is its Python value)."""
    if option is None or isinstance(option, bool):
        return value is option or (isinstance(value, np.bool_) and bool(value) is option)
    return isinstance(value, type(option)) and not isinstance(value, bool) and value == option


#: The constraint of a flag.
BOOLEAN = Options((True, False))
