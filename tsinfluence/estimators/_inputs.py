"""The series an influence estimator is given: checked against what it was fitted on."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_time_series
from ._params import DTYPES, grouped

__all__ = ["SeriesInputMixin"]


class SeriesInputMixin:
    """Validation of the series ``X`` given to ``fit`` and to a fitted estimator.

    A mixin of :class:`~tsinfluence.estimators._base.InfluenceBase` (it reads the
    estimator's parameters, its fitted ``n_features_in_``, ``n_channels_in_``,
    ``variable_length_`` and ``_np_dtype_``, and ``_user_predictor``): shapes, channels,
    lengths and the ``k`` that a series of this length allows.
    """

    def _validate_X(self, X, reset: bool = False):
        """Validate ``X`` for this estimator; returns ``(X (n, T, D), padding_mask)``.

        With ``reset=True`` (``fit``) the series must have at least 2 timestamps, and a
        ``k`` that selects every timestamp warns (see :meth:`_check_k_covers_series`).
        """
        if not reset:
            check_is_fitted(self)
        if not reset and getattr(self, "variable_length_", False):
            X, padding_mask = self._validate_variable_length(X)
        else:
            X, padding_mask = check_time_series(
                X,
                self,
                reset=reset,
                dtype=DTYPES[self.precision][0] if reset else self._np_dtype_,
                length=None if reset else self.n_features_in_,
            )
        if not reset and X.shape[2] != self.n_channels_in_:
            raise ValueError(
                f"X has {X.shape[2]} channels, but {type(self).__name__} was fitted with "
                f"{self.n_channels_in_} channels; expected X of shape (n_samples, "
                f"{self.n_features_in_}, {self.n_channels_in_})"
                + (" or (n_samples, n_timestamps)." if self.n_channels_in_ == 1 else ".")
            )
        if reset:
            if X.shape[1] < 2:
                raise ValueError(
                    f"X has {X.shape[1]} feature(s) (timestamps) per series, but "
                    f"{type(self).__name__} needs at least 2 timestamps to select the "
                    "influential ones."
                )
            self._check_k_covers_series(X.shape[1])
        return X, padding_mask

    def _validate_variable_length(self, X):
        """Series of any length for a model fitted on series of unequal length.

        Shorter series are padded to the fitted ``n_features_in_``; longer ones are accepted
        when every part of the model is defined for any length (relative or sinusoidal
        positions, the built-in heads), else refused with the reason.
        """
        X, padding_mask = check_time_series(X, None, reset=False, dtype=self._np_dtype_)
        fitted = int(self.n_features_in_)
        if X.shape[1] < fitted:
            extra = fitted - X.shape[1]
            X = np.concatenate([X, np.zeros((len(X), extra, X.shape[2]), X.dtype)], axis=1)
            padding_mask = np.concatenate([padding_mask, np.ones((len(X), extra), bool)], 1)
        longest = int((~padding_mask).sum(axis=1).max())
        if longest > fitted:
            reason = self._fixed_length_reason()
            if reason is not None:
                raise ValueError(
                    f"A series has {longest} timestamps, more than the {fitted} the model was "
                    f"fitted on, and {reason}; cut the series or refit on longer ones."
                )
        return X, padding_mask

    def _fixed_length_reason(self) -> str | None:
        """Why the fitted model cannot take series longer than it was fitted on, or None."""
        if self._user_predictor() is not None:
            return "a user predictor module may depend on the length"
        if grouped(self, "module__positional_encoding") == "learned" and (
            self.scorer == "attention" or self.predictor == "attention"
        ):
            return "positional_encoding='learned' has one embedding per fitted position"
        return None

    def _check_k_covers_series(self, n_timestamps: int) -> None:
        """Warn when ``k`` selects every one of the ``n_timestamps`` steps.

        Not an error: the selection layer clips ``k`` to each series' valid length (needed
        for series of unequal length, where ``k`` may exceed some of them), and ``k = T``
        is a legitimate no-selection baseline. But with ``k >= T`` the selection explains
        nothing and the influence scores only rank steps that are all used, so it is most
        likely a mistake.
        """
        k = self.k
        if isinstance(k, numbers.Integral):
            resolved = min(int(k), n_timestamps)
        else:
            resolved = min(max(round(n_timestamps * float(k)), 1), n_timestamps)
        if resolved >= n_timestamps:
            warnings.warn(
                f"k={k!r} selects all {n_timestamps} timestamps of the series, so the "
                "selection explains nothing; use an int k < n_timestamps or a fraction such "
                "as k=0.25.",
                UserWarning,
                stacklevel=4,
            )
