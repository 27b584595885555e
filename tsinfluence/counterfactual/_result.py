"""The result object of :func:`tsinfluence.counterfactual.generate_counterfactuals`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["CounterfactualResult"]


@dataclass
class CounterfactualResult:
    """Counterfactual series, their predictions and how they were obtained.

    Arrays with a per-counterfactual axis have shape ``(n,)`` (or ``(n, T[, D])``) when one
    counterfactual was asked per series, and ``(n, n_samples)`` (or
    ``(n, n_samples, T[, D])``) when ``n_samples > 1``. Each parameter is kept as the
    attribute of the same name.

    Parameters
    ----------
    X : ndarray
        The input series, in the layout of ``X_cf`` without the sample axis (padding is NaN;
        dtype follows the estimator's ``precision``, like ``X_cf``).
    X_cf : ndarray
        Counterfactual series, same layout as the input: ``(n, T, D)``, or ``(n, T)`` for a
        univariate 2D input; ``(n, n_samples, ...)`` when ``n_samples > 1``. Padded steps
        stay NaN.
    y : ndarray of shape (n,)
        The estimator's predictions for ``X``.
    y_cf : ndarray of shape (n,) or (n, n_samples)
        The estimator's predictions for ``X_cf`` (exactly ``estimator.predict(X_cf)``).
    target : ndarray of shape (n,)
        The class label or value each counterfactual aims for.
    edited : ndarray of shape (n, T), bool
        The steps the method was allowed to change (never a padded step).
    valid : ndarray of shape (n,) or (n, n_samples), bool
        Whether the target was reached: ``y_cf == target`` for a classifier,
        ``|y_cf - target| <= tolerance`` for a regressor.
    distance : ndarray of shape (n,) or (n, n_samples)
        Distance between ``X`` and ``X_cf`` over the valid steps (``metric``).
    selected_cf : ndarray of shape (n, T) or (n, n_samples, T), bool
        The estimator's own selection on ``X_cf`` (it may differ from the selection on
        ``X``: the selector re-selects on the edited series).
    method : str
        The generation method.
    metric : str, default="l1"
        Distance used for ``distance`` (``"l1"`` or ``"l2"``).
    tolerance : float or None, default=None
        Regression tolerance (``None`` for a classifier).
    time : float, default=0.0
        Wall-clock seconds spent generating all counterfactuals.
    info : dict, optional
        Method-specific details (iterations, donors used, ...); empty by default.
    """

    X: np.ndarray
    X_cf: np.ndarray
    y: np.ndarray
    y_cf: np.ndarray
    target: np.ndarray
    edited: np.ndarray
    valid: np.ndarray
    distance: np.ndarray
    selected_cf: np.ndarray
    method: str
    metric: str = "l1"
    tolerance: float | None = None
    time: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def n_samples(self) -> int:
        """Counterfactuals per input series."""
        return 1 if self.valid.ndim == 1 else int(self.valid.shape[1])

    @property
    def changed(self) -> np.ndarray:
        """Bool mask of the steps whose value actually changed, shaped like ``valid`` + T."""
        x = self.X if self.n_samples == 1 else np.expand_dims(self.X, 1)
        diff = ~np.isclose(self.X_cf, x, rtol=0.0, atol=0.0, equal_nan=True)
        univariate = self.X.ndim == 2
        return diff if univariate else diff.any(axis=-1)

    @property
    def validity(self) -> float:
        """Share of counterfactuals that reach their target."""
        return float(np.mean(self.valid)) if self.valid.size else float("nan")

    def summary(self) -> str:
        """A short human-readable report (validity, distances, sparsity, time).

        Returns
        -------
        str
        """
        changed = self.changed
        edited = self.edited if self.n_samples == 1 else self.edited[:, None, :]
        valid_steps = ~np.isnan(self.X if self.X.ndim == 2 else self.X[..., 0])
        if self.n_samples > 1:
            valid_steps = valid_steps[:, None, :]
        length = np.maximum(valid_steps.sum(-1), 1)
        sparsity = changed.sum(-1) / length
        outside = bool((changed & ~edited).any())
        total = self.valid.size
        dist_valid = self.distance[self.valid]
        lines = [
            f"CounterfactualResult(method={self.method!r}, {len(self.X)} series, "
            f"{self.n_samples} per series)",
            f"  valid: {int(self.valid.sum())}/{total} ({self.validity:.1%})",
            f"  {self.metric} distance (valid ones): "
            + (
                f"mean {dist_valid.mean():.4g}, median {np.median(dist_valid):.4g}"
                if dist_valid.size
                else "n/a"
            ),
            f"  steps changed: mean {sparsity.mean():.1%} of the series "
            f"(edited set: {self.edited.sum(-1).mean():.1f} steps per series)",
            f"  changes outside the edited steps: {'yes' if outside else 'none'}",
            f"  time: {self.time:.3g} s ({self.time / max(total, 1) * 1e3:.3g} ms per "
            "counterfactual)",
        ]
        if self.tolerance is not None:
            lines.insert(3, f"  tolerance: {self.tolerance:.4g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"CounterfactualResult(method={self.method!r}, n={len(self.X)}, "
            f"n_samples={self.n_samples}, validity={self.validity:.3f})"
        )
