"""Metrics for counterfactual series.

Series are arrays ``(n, T)`` or ``(n, T, D)``; trailing NaN marks padding, which never
counts as a change. The metrics follow the time-series counterfactual literature
(Delaney et al. 2021, Native Guide; the 2024 benchmark arXiv:2408.12666): validity,
proximity, sparsity, contiguity (number of changed segments), plausibility (an outlier
detector fitted on reference series), diversity and generation time.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "changed_steps",
    "contiguity",
    "diversity",
    "evaluate_counterfactuals",
    "outlier_scores",
    "plausibility",
    "proximity",
    "sparsity",
    "time_per_counterfactual",
    "validity",
]


def _pair(X: ArrayLike, X_cf: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    X_cf = np.asarray(X_cf, dtype=np.float64)
    if X.ndim == 2:
        X = X[..., None]
    if X_cf.ndim == 2:
        X_cf = X_cf[..., None]
    if X.ndim != 3 or X.shape != X_cf.shape:
        raise ValueError(
            "X and X_cf must have the same shape (n, T) or (n, T, D); got "
            f"{np.shape(X)} and {np.shape(X_cf)}."
        )
    return X, X_cf


def changed_steps(X: ArrayLike, X_cf: ArrayLike, atol: float = 1e-8) -> np.ndarray:
    """The steps where any channel differs by more than ``atol``.

    Parameters
    ----------
    X : array-like of shape (n, T) or (n, T, D)
        The original series; a step whose channels are all NaN is padding.
    X_cf : array-like of the same shape as ``X``
        The counterfactuals, one per series.
    atol : float, default=1e-8
        A cell has changed when it differs by more than ``atol`` (NaN is read as 0).

    Returns
    -------
    ndarray of shape (n, T), bool
        True at changed steps; never at a padded step.
    """
    X, X_cf = _pair(X, X_cf)
    diff = np.abs(np.nan_to_num(X_cf) - np.nan_to_num(X)) > atol
    return diff.any(axis=2) & ~np.isnan(X).all(axis=2)


def validity(valid_or_result) -> float:
    """Share of valid counterfactuals (from a bool array or a ``CounterfactualResult``).

    Parameters
    ----------
    valid_or_result : array-like of bool or CounterfactualResult
        Validity flags of any shape, or a result whose ``valid`` attribute is used.

    Returns
    -------
    float
        Mean of the flags, in ``[0, 1]``; NaN when there is none.
    """
    valid = np.asarray(getattr(valid_or_result, "valid", valid_or_result), dtype=bool)
    return float(valid.mean()) if valid.size else float("nan")


def proximity(X: ArrayLike, X_cf: ArrayLike, metric: str = "l1") -> np.ndarray:
    """Per-series distance ``(n,)`` between series and counterfactuals (padding ignored).

    Parameters
    ----------
    X : array-like of shape (n, T) or (n, T, D)
        The original series (NaN padding).
    X_cf : array-like of the same shape as ``X``
        The counterfactuals, one per series.
    metric : {"l1", "l2", "linf"}, default="l1"
        Norm of the difference over every cell.

    Returns
    -------
    ndarray of shape (n,), float64
        Distance of each counterfactual to its series; NaN differences (padding) count
        as 0.
    """
    X, X_cf = _pair(X, X_cf)
    diff = np.nan_to_num(X_cf - X)
    if metric == "l1":
        return np.abs(diff).sum((1, 2))
    if metric == "l2":
        return np.sqrt((diff**2).sum((1, 2)))
    if metric == "linf":
        return np.abs(diff).max((1, 2))
    raise ValueError(f"metric must be 'l1', 'l2' or 'linf', got {metric!r}.")


def sparsity(X: ArrayLike, X_cf: ArrayLike, atol: float = 1e-8) -> np.ndarray:
    """Share of each series' valid steps that changed (lower is sparser).

    Parameters
    ----------
    X : array-like of shape (n, T) or (n, T, D)
        The original series; a step whose channels are all NaN is padding.
    X_cf : array-like of the same shape as ``X``
        The counterfactuals, one per series.
    atol : float, default=1e-8
        A cell has changed when it differs by more than ``atol`` (NaN is read as 0).

    Returns
    -------
    ndarray of shape (n,), float64
        Changed steps (:func:`changed_steps`) over valid steps, in ``[0, 1]``.
    """
    X, X_cf = _pair(X, X_cf)
    changed = changed_steps(X, X_cf, atol)
    length = np.maximum((~np.isnan(X).all(axis=2)).sum(1), 1)
    return changed.sum(1) / length


def contiguity(X: ArrayLike, X_cf: ArrayLike, atol: float = 1e-8) -> np.ndarray:
    """Number of contiguous segments of changed steps per series.

    Parameters
    ----------
    X : array-like of shape (n, T) or (n, T, D)
        The original series; a step whose channels are all NaN is padding.
    X_cf : array-like of the same shape as ``X``
        The counterfactuals, one per series.
    atol : float, default=1e-8
        A cell has changed when it differs by more than ``atol`` (NaN is read as 0).

    Returns
    -------
    ndarray of shape (n,), int
        Runs of consecutive changed steps (:func:`changed_steps`); 0 when nothing changed.
    """
    changed = changed_steps(X, X_cf, atol).astype(np.int8)
    starts = np.diff(np.pad(changed, ((0, 0), (1, 0))), axis=1) == 1
    return starts.sum(1)


def diversity(X_cf: ArrayLike) -> np.ndarray:
    """Mean pairwise L2 distance between the samples of each series.

    Parameters
    ----------
    X_cf : array-like of shape (n, n_samples, T[, D])

    Returns
    -------
    ndarray of shape (n,)
        0 when all samples of a series coincide.
    """
    X_cf = np.asarray(X_cf, dtype=np.float64)
    if X_cf.ndim not in (3, 4) or X_cf.shape[1] < 2:
        raise ValueError(
            f"X_cf must have shape (n, n_samples, T[, D]) with n_samples >= 2, got {X_cf.shape}."
        )
    flat = np.nan_to_num(X_cf.reshape(X_cf.shape[0], X_cf.shape[1], -1))
    d = np.sqrt(((flat[:, :, None] - flat[:, None]) ** 2).sum(-1))
    S = flat.shape[1]
    return d.sum((1, 2)) / (S * (S - 1))


def _flatten(X: ArrayLike) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return np.nan_to_num(X.reshape(len(X), -1))


def outlier_scores(
    X_cf: ArrayLike,
    X_reference: ArrayLike,
    method: str = "isolation_forest",
    random_state: int | None = 0,
) -> np.ndarray:
    """Outlier detector scores of counterfactuals against reference series.

    A detector is fitted on the flattened reference series (padding as 0) and applied to
    the flattened counterfactuals: ``decision_function``, positive for inliers.

    Parameters
    ----------
    X_cf : array-like of shape (n, T[, D])
    X_reference : array-like of shape (m, T[, D])
        Series representative of the training data.
    method : {"isolation_forest", "lof"}, default="isolation_forest"
        :class:`~sklearn.ensemble.IsolationForest` or
        :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``.
    random_state : int or None, default=0
        Seed of the isolation forest.

    Returns
    -------
    ndarray of shape (n,)
    """
    ref, cf = _flatten(X_reference), _flatten(X_cf)
    if ref.shape[1] != cf.shape[1]:
        raise ValueError(
            f"X_cf and X_reference must have the same series shape; got {np.shape(X_cf)[1:]} "
            f"and {np.shape(X_reference)[1:]}."
        )
    if method == "isolation_forest":
        from sklearn.ensemble import IsolationForest

        detector = IsolationForest(random_state=random_state).fit(ref)
    elif method == "lof":
        from sklearn.neighbors import LocalOutlierFactor

        detector = LocalOutlierFactor(n_neighbors=min(20, len(ref) - 1), novelty=True).fit(ref)
    else:
        raise ValueError(f"method must be 'isolation_forest' or 'lof', got {method!r}.")
    return detector.decision_function(cf)


def plausibility(
    X_cf: ArrayLike,
    X_reference: ArrayLike,
    method: str = "isolation_forest",
    random_state: int | None = 0,
) -> float:
    """Share of counterfactuals an outlier detector fitted on the reference calls inliers.

    Compare with the same share for the original series: a plausible method keeps it
    about as high.

    Parameters
    ----------
    X_cf : array-like of shape (n, T[, D])
        The counterfactuals.
    X_reference : array-like of shape (m, T[, D])
        Series representative of the training data.
    method : {"isolation_forest", "lof"}, default="isolation_forest"
        The outlier detector (see :func:`outlier_scores`).
    random_state : int or None, default=0
        Seed of the isolation forest.

    Returns
    -------
    float
        Share of counterfactuals with a positive :func:`outlier_scores`, in ``[0, 1]``.
    """
    return float(np.mean(outlier_scores(X_cf, X_reference, method, random_state) > 0))


def time_per_counterfactual(result) -> float:
    """Seconds per counterfactual of a ``CounterfactualResult``.

    Parameters
    ----------
    result : CounterfactualResult
        A result of :func:`~tsinfluence.counterfactual.generate_counterfactuals`.

    Returns
    -------
    float
        ``result.time`` divided by the number of counterfactuals (series times samples).
    """
    return float(result.time) / max(int(np.size(result.valid)), 1)


def evaluate_counterfactuals(
    result, X_reference: ArrayLike | None = None, method: str = "isolation_forest"
) -> dict[str, float]:
    """All metrics of a ``CounterfactualResult``, averaged over its counterfactuals.

    Parameters
    ----------
    result : CounterfactualResult
    X_reference : array-like of shape (m, T[, D]), optional
        Reference series for ``plausibility`` (skipped when omitted).
    method : {"isolation_forest", "lof"}, default="isolation_forest"
        Outlier detector of ``plausibility``.

    Returns
    -------
    dict
        ``validity``, ``proximity_l1``, ``proximity_l2`` (over valid counterfactuals; NaN
        if none), ``sparsity``, ``contiguity``, ``plausibility`` (if a reference is given;
        over valid counterfactuals), ``diversity`` (``n_samples > 1``), ``time``
        (seconds per counterfactual).
    """
    S = result.n_samples
    X = result.X if S == 1 else np.repeat(result.X, S, axis=0)
    X_cf = result.X_cf.reshape(X.shape)
    valid = np.asarray(result.valid).reshape(-1)
    out = {"validity": validity(valid)}
    for metric in ("l1", "l2"):
        d = proximity(X, X_cf, metric)[valid]
        out[f"proximity_{metric}"] = float(d.mean()) if d.size else float("nan")
    out["sparsity"] = float(sparsity(X, X_cf).mean())
    out["contiguity"] = float(contiguity(X, X_cf).mean())
    if X_reference is not None:
        out["plausibility"] = (
            plausibility(X_cf[valid], X_reference, method) if valid.any() else float("nan")
        )
    if S > 1:
        out["diversity"] = float(diversity(result.X_cf).mean())
    out["time"] = time_per_counterfactual(result)
    return out
