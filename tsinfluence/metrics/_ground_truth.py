"""Metrics against ground truth: AUROC, AUPRC, AUP, AUR, precision@k and recall@k."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

__all__ = ["aup", "auprc", "aur", "auroc", "precision_at_k", "recall_at_k", "topk_mask"]

_EPS_TINT = 1e-5  # tint.metrics.white_box.base.EPS


def _check_scores(scores, padding_mask=None):
    """Return float scores (n, T[, D]) and a bool ``valid`` mask of the same shape."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim not in (2, 3):
        raise ValueError(f"`scores` must be 2D (n, T) or 3D (n, T, D), got shape {scores.shape}.")
    valid = np.ones(scores.shape[:2], dtype=bool)
    if padding_mask is not None:
        padding_mask = np.asarray(padding_mask)
        if padding_mask.shape != scores.shape[:2]:
            raise ValueError(
                f"`padding_mask` must have shape (n, T) = {scores.shape[:2]}, "
                f"got {padding_mask.shape}."
            )
        valid = ~padding_mask.astype(bool)
    if scores.ndim == 3:
        valid = np.broadcast_to(valid[:, :, None], scores.shape)
    if np.isnan(scores[valid]).any():
        raise ValueError("`scores` contains NaN at non-padded positions.")
    return scores, valid


def _check_truth(scores, truth, padding_mask):
    scores, valid = _check_scores(scores, padding_mask)
    truth = np.asarray(truth)
    if truth.shape != scores.shape:
        raise ValueError(
            f"`truth` must have the same shape as `scores` {scores.shape}, got {truth.shape}."
        )
    return scores, truth.astype(bool), valid


def _trapezoid(y, x) -> float:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def _nanmean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


def topk_mask(
    scores: ArrayLike, k: int | ArrayLike, padding_mask: ArrayLike | None = None
) -> np.ndarray:
    """Bool mask of the ``k`` highest scores of each sample.

    Parameters
    ----------
    scores : array-like of shape (n, T) or (n, T, D)
        Importance scores; for 3D input the top-k *cells* of each sample are selected.
    k : int or array-like of int of shape (n,)
        Number of elements to select per sample (capped at the number of non-padded elements).
    padding_mask : array-like of bool of shape (n, T), default=None
        True at padded steps, which are never selected.

    Returns
    -------
    mask : ndarray of bool, same shape as ``scores``
        Exactly ``min(k, n_valid)`` True per sample; ties are broken by the lower (flattened)
        index.
    """
    scores, valid = _check_scores(scores, padding_mask)
    n = scores.shape[0]
    flat = scores.reshape(n, -1)
    valid_flat = valid.reshape(n, -1)
    k_arr = np.asarray(k)
    if k_arr.ndim > 1 or (k_arr.ndim == 1 and k_arr.shape[0] != n):
        raise ValueError(
            f"`k` must be an int or an array of shape ({n},), got shape {k_arr.shape}."
        )
    if k_arr.dtype.kind not in "iu" or (k_arr < 0).any():
        raise ValueError(f"`k` must hold non-negative integers, got {k!r}.")
    k_arr = np.minimum(np.broadcast_to(k_arr, (n,)), valid_flat.sum(axis=1))
    index = np.broadcast_to(np.arange(flat.shape[1]), flat.shape)
    # primary key: valid first; then larger score; then lower index
    order = np.lexsort((index, -np.where(valid_flat, flat, 0.0), ~valid_flat), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, index, axis=1)
    return (ranks < k_arr[:, None]).reshape(scores.shape)


def _per_sample(scores, truth, valid, fn) -> float:
    out = []
    for s, t, v in zip(scores.reshape(len(scores), -1), truth.reshape(len(truth), -1), valid):
        t_valid = t[v.reshape(-1)]
        if t_valid.all() or not t_valid.any():
            continue
        out.append(fn(t_valid, s[v.reshape(-1)]))
    return _nanmean(out)


def auroc(scores: ArrayLike, truth: ArrayLike, padding_mask: ArrayLike | None = None) -> float:
    """Area under the ROC curve of ``scores`` against ``truth``, per sample then averaged.

    Samples whose (non-padded) truth is all True or all False have no ROC curve and are skipped;
    returns NaN (without warning) if every sample is skipped.

    Parameters
    ----------
    scores : array-like of shape (n, T) or (n, T, D)
        Importance scores (higher = more important).
    truth : array-like of bool, same shape as ``scores``
        Ground-truth mask.
    padding_mask : array-like of bool of shape (n, T), default=None
        True at padded steps, which are excluded.

    Returns
    -------
    float
    """
    scores, truth, valid = _check_truth(scores, truth, padding_mask)
    return _per_sample(scores, truth, valid, roc_auc_score)


def auprc(scores: ArrayLike, truth: ArrayLike, padding_mask: ArrayLike | None = None) -> float:
    """Area under the precision-recall curve (average precision), per sample then averaged.

    Same skipping rule and NaN convention as :func:`auroc`.

    Parameters
    ----------
    scores, truth, padding_mask
        As in :func:`auroc`.

    Returns
    -------
    float
    """
    scores, truth, valid = _check_truth(scores, truth, padding_mask)
    return _per_sample(scores, truth, valid, average_precision_score)


def _tint_curve(scores, truth, padding_mask, which: int) -> float:
    scores, truth, valid = _check_truth(scores, truth, padding_mask)
    n = len(scores)
    a = np.abs(scores).reshape(n, -1)
    v = valid.reshape(n, -1)
    low = np.where(v, a, np.inf).min(axis=1, keepdims=True)
    high = np.where(v, a, -np.inf).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        a = (a - low) / (high + _EPS_TINT)
    a, t = a[v], truth.reshape(n, -1)[v]
    if not t.any() or np.unique(a).size < 2:
        return float("nan") if not t.any() else 0.0
    curves = precision_recall_curve(t, a)
    return _trapezoid(curves[which][:-1], curves[2])


def aup(scores: ArrayLike, truth: ArrayLike, padding_mask: ArrayLike | None = None) -> float:
    """Area under the precision curve (AUP), as in time_interpret (``tint``) and ExtremalMask.

    Follows ``tint.metrics.white_box.aup`` so numbers compare: the absolute scores of each sample
    are rescaled as ``(|s| - min) / (max + 1e-5)`` (min and max over that sample's non-padded
    elements), all samples are flattened together, ``sklearn.metrics.precision_recall_curve`` is
    computed once, and AUP is the trapezoidal area under precision as a function of the threshold
    (``auc(thresholds, precision[:-1])``). Higher is better.

    The rescaling is that of time_interpret's repository (``max + 1e-5``); the released
    tint 0.3.0 on PyPI divides by ``max - min + 1e-5`` instead. The two agree when the
    minimum score is near 0 and differ a lot for scores with an offset (masks that stay near
    their initial value); ``benchmarks/faithfulness.py`` reports both.

    Parameters
    ----------
    scores, truth, padding_mask
        As in :func:`auroc`.

    Returns
    -------
    float
        NaN if no (non-padded) element is True in ``truth``; 0.0 if all rescaled scores are equal
        (a single threshold has no area).
    """
    return _tint_curve(scores, truth, padding_mask, 0)


def aur(scores: ArrayLike, truth: ArrayLike, padding_mask: ArrayLike | None = None) -> float:
    """Area under the recall curve (AUR), as in time_interpret (``tint``) and ExtremalMask.

    Same computation as :func:`aup` (following ``tint.metrics.white_box.aur``) with recall
    instead of precision: ``auc(thresholds, recall[:-1])``. Higher is better; NaN and 0.0 cases
    as in :func:`aup`.

    Parameters
    ----------
    scores, truth, padding_mask
        As in :func:`auroc`.

    Returns
    -------
    float
    """
    return _tint_curve(scores, truth, padding_mask, 1)


def _hits_at_k(scores, truth, k, padding_mask):
    scores, truth, valid = _check_truth(scores, truth, padding_mask)
    n = len(scores)
    n_true = (truth & valid).reshape(n, -1).sum(axis=1)
    if k is None:
        k = n_true
    elif isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise ValueError(f"`k` must be a positive integer or None, got {k!r}.")
    mask = topk_mask(scores, k, padding_mask)
    hits = (mask & truth).reshape(n, -1).sum(axis=1)
    return hits, mask.reshape(n, -1).sum(axis=1), n_true


def precision_at_k(
    scores: ArrayLike,
    truth: ArrayLike,
    k: int | None = None,
    padding_mask: ArrayLike | None = None,
) -> float:
    """Fraction of the top-``k`` elements of each sample that are true, averaged over samples.

    Parameters
    ----------
    scores, truth, padding_mask
        As in :func:`auroc`.
    k : int or None, default=None
        Number of top elements (capped at the number of non-padded elements). None uses
        ``k = |truth|`` of each sample (precision@|truth|, equal to recall@|truth|).

    Returns
    -------
    float
        Samples with no true element (for ``k=None``) are skipped; NaN if all are.
    """
    hits, size, _ = _hits_at_k(scores, truth, k, padding_mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _nanmean(np.where(size > 0, hits / np.maximum(size, 1), np.nan))


def recall_at_k(
    scores: ArrayLike, truth: ArrayLike, k: int, padding_mask: ArrayLike | None = None
) -> float:
    """Fraction of the true elements of each sample found in its top-``k``, averaged.

    Samples with no true element are skipped (NaN if all are).

    Parameters
    ----------
    scores, truth, padding_mask
        As in :func:`auroc`.
    k : int
        Number of top elements (capped at the number of non-padded elements).

    Returns
    -------
    float
    """
    if k is None:
        raise ValueError("`k` must be a positive integer for recall_at_k, got None.")
    hits, _, n_true = _hits_at_k(scores, truth, k, padding_mask)
    return _nanmean(np.where(n_true > 0, hits / np.maximum(n_true, 1), np.nan))
