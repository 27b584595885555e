"""Removal metrics without ground truth: comprehensiveness, sufficiency, deletion/insertion."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._ground_truth import _check_scores, _trapezoid, topk_mask

__all__ = [
    "comprehensiveness",
    "deletion_auc",
    "deletion_curve",
    "insertion_auc",
    "insertion_curve",
    "sufficiency",
]


def _prepare(X, scores, baseline, reference, padding_mask):
    """Return X as 3D, the original shape, scores, padding (n, T), valid cells and baseline."""
    X = np.asarray(X, dtype=np.float64)
    shape = X.shape
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError(f"`X` must be 2D (n, T) or 3D (n, T, D), got shape {shape}.")
    scores, valid = _check_scores(scores, padding_mask)
    if scores.shape not in (X.shape[:2], X.shape):
        raise ValueError(
            f"`scores` must have shape (n, T) = {X.shape[:2]} or the shape of `X` {shape}, "
            f"got {scores.shape}."
        )
    padded = ~(valid if valid.ndim == 2 else valid[:, :, 0])
    if isinstance(baseline, str):
        if baseline == "zeros":
            base = np.zeros_like(X)
        elif baseline == "mean":
            ref = X if reference is None else np.asarray(reference, dtype=np.float64)
            ref = ref[:, :, None] if ref.ndim == 2 else ref
            if ref.ndim != 3 or ref.shape[1:] != X.shape[1:]:
                raise ValueError(
                    f"`reference` must have shape (m, {X.shape[1]}, {X.shape[2]}), got {ref.shape}."
                )
            base = np.broadcast_to(np.nanmean(ref, axis=0), X.shape)
        else:
            raise ValueError(f"`baseline` must be 'zeros', 'mean' or an array, got {baseline!r}.")
    else:
        b = np.asarray(baseline, dtype=np.float64)
        b = b[..., None] if len(shape) == 2 and b.ndim >= 1 else b
        try:
            base = np.broadcast_to(b, X.shape)
        except ValueError:
            raise ValueError(
                f"`baseline` must broadcast to the shape of `X` {shape}, got {b.shape}."
            ) from None
    return X, shape, scores, padded, base


def _predict(predict_fn, X3, shape):
    out = np.asarray(predict_fn(X3.reshape(shape)), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim not in (1, 2) or out.shape[0] != shape[0]:
        raise ValueError(
            f"`predict_fn` must return (n, C) probabilities or (n,) values with n={shape[0]}, "
            f"got shape {out.shape}."
        )
    return out


def _effects(predict_fn, X, scores, fractions, mode, baseline, reference, padding_mask):
    """Per-sample effect on the original input (n,) and on each masked input (n_fractions, n).

    The effect is the probability of the originally predicted class (classification) or
    ``-|f(x_masked) - f(x)|`` (regression). ``mode``: "remove_top" (top-f replaced by the
    baseline), "keep_top" (tint sufficiency: the lowest ``floor(N (1 - f))`` replaced) or
    "insert_top" (baseline everywhere but the top-f).
    """
    X, shape, scores, padded, base = _prepare(X, scores, baseline, reference, padding_mask)
    n = len(X)
    valid = np.broadcast_to(~padded[:, :, None], X.shape)
    n_valid = valid[..., : 1 if scores.ndim == 2 else None].reshape(n, -1).sum(axis=1)
    original = _predict(predict_fn, X, shape)
    if original.ndim == 2:
        target = original.argmax(axis=1)
        effect = lambda out: out[np.arange(n), target]  # noqa: E731
    else:
        effect = lambda out: -np.abs(out - original)  # noqa: E731
    effects = []
    for f in fractions:
        if mode == "keep_top":
            k = n_valid - np.floor(n_valid * (1.0 - f) + 1e-9).astype(int)
        else:
            k = np.floor(n_valid * f + 1e-9).astype(int)
        top = topk_mask(scores, k, padded)
        top = np.broadcast_to(top[:, :, None], X.shape) if top.ndim == 2 else top
        replace = top if mode == "remove_top" else valid & ~top
        effects.append(effect(_predict(predict_fn, np.where(replace, base, X), shape)))
    return effect(original), np.array(effects)


def _fractions(fractions, curve: bool) -> np.ndarray:
    f = np.asarray(np.linspace(0, 1, 11) if fractions is None else fractions, dtype=np.float64)
    low_ok = (f >= 0) if curve else (f > 0)
    if f.ndim != 1 or f.size == 0 or not (low_ok & (f <= 1)).all():
        bound = "[0, 1]" if curve else "(0, 1]"
        raise ValueError(
            f"`fractions` must be a non-empty 1D sequence in {bound}, got {fractions!r}."
        )
    if curve and (np.diff(f) <= 0).any():
        raise ValueError(f"`fractions` must be strictly increasing, got {fractions!r}.")
    return f


def comprehensiveness(
    predict_fn: Callable,
    X: ArrayLike,
    scores: ArrayLike,
    fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5),
    baseline: str | ArrayLike = "zeros",
    reference: ArrayLike | None = None,
    padding_mask: ArrayLike | None = None,
) -> float:
    """Drop of the prediction when the most important inputs are removed (higher is better).

    Follows ``tint.metrics.comprehensiveness`` (DeYoung et al. 2020, ERASER): for each fraction
    ``f`` the top ``floor(f * N)`` elements of each sample (``N`` = non-padded steps, or cells for
    3D scores) are replaced by the baseline, and the score is ``p(c | x) - p(c | x_masked)`` with
    ``c`` the originally predicted class, averaged over samples and then over ``fractions`` (an
    AOPC; ``fractions=(0.2,)`` is tint's default). Unlike tint, ``predict_fn`` must already
    return probabilities (no softmax is applied). For regression outputs ``(n,)`` the
    per-sample score is ``|f(x) - f(x_masked)|``.

    Parameters
    ----------
    predict_fn : callable
        Maps an array shaped like ``X`` to probabilities ``(n, C)`` or values ``(n,)``. Called
        once on ``X`` and once per fraction (never per sample).
    X : array-like of shape (n, T, D) or (n, T)
        Inputs.
    scores : array-like of shape (n, T) or the shape of ``X``
        Importance scores: whole steps are masked for ``(n, T)``, cells otherwise.
    fractions : sequence of float in (0, 1], default=(0.1, 0.2, 0.3, 0.4, 0.5)
        Fractions of elements to mask.
    baseline : {"zeros", "mean"} or array-like, default="zeros"
        Replacement values: zeros, the per-(t, d) mean over samples of ``reference`` (default:
        of ``X``), or an array broadcastable to ``X``.
    reference : array-like of shape (m, T, D), default=None
        Data (e.g. a training set) for the ``"mean"`` baseline.
    padding_mask : array-like of bool of shape (n, T), default=None
        True at padded steps: never ranked, never replaced.

    Returns
    -------
    float
    """
    fr = _fractions(fractions, curve=False)
    orig, eff = _effects(predict_fn, X, scores, fr, "remove_top", baseline, reference, padding_mask)
    return float(np.mean(orig - eff))


def sufficiency(
    predict_fn: Callable,
    X: ArrayLike,
    scores: ArrayLike,
    fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5),
    baseline: str | ArrayLike = "zeros",
    reference: ArrayLike | None = None,
    padding_mask: ArrayLike | None = None,
) -> float:
    """Drop of the prediction when *only* the most important inputs are kept (lower is better).

    Follows ``tint.metrics.sufficiency``: for each fraction ``f`` the lowest-ranked
    ``floor(N * (1 - f))`` elements are replaced by the baseline (so about the top ``f`` are
    kept) and the score is ``p(c | x) - p(c | x_masked)``, averaged over samples and fractions.
    The regression convention is that of :func:`comprehensiveness`.

    Parameters
    ----------
    predict_fn, X, scores, fractions, baseline, reference, padding_mask
        As in :func:`comprehensiveness`.

    Returns
    -------
    float
    """
    fr = _fractions(fractions, curve=False)
    orig, eff = _effects(predict_fn, X, scores, fr, "keep_top", baseline, reference, padding_mask)
    return float(np.mean(orig - eff))


def deletion_curve(
    predict_fn: Callable,
    X: ArrayLike,
    scores: ArrayLike,
    fractions: Sequence[float] | None = None,
    baseline: str | ArrayLike = "zeros",
    reference: ArrayLike | None = None,
    padding_mask: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Prediction as the most important inputs are progressively removed (a fast drop is good).

    For each fraction ``f`` the top ``floor(f * N)`` elements of each sample are replaced by the
    baseline. The value is the mean probability of the originally predicted class
    (classification) or the mean of ``-|f(x_masked) - f(x)|`` (regression, so that the curve
    reads the same way).

    Parameters
    ----------
    predict_fn, X, scores, baseline, reference, padding_mask
        As in :func:`comprehensiveness`.
    fractions : sequence of float, default=None
        Strictly increasing, in ``[0, 1]``; None means ``0, 0.1, ..., 1``.

    Returns
    -------
    fractions : ndarray of shape (n_fractions,)
    values : ndarray of shape (n_fractions,)
    """
    fr = _fractions(fractions, curve=True)
    _, eff = _effects(predict_fn, X, scores, fr, "remove_top", baseline, reference, padding_mask)
    return fr, eff.mean(axis=1)


def insertion_curve(
    predict_fn: Callable,
    X: ArrayLike,
    scores: ArrayLike,
    fractions: Sequence[float] | None = None,
    baseline: str | ArrayLike = "zeros",
    reference: ArrayLike | None = None,
    padding_mask: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Prediction as the most important inputs are inserted into the baseline (a fast rise is good).

    Starts from the baseline (padded steps untouched) and restores the top ``floor(f * N)``
    elements of each sample. Values as in :func:`deletion_curve`.

    Parameters
    ----------
    predict_fn, X, scores, fractions, baseline, reference, padding_mask
        As in :func:`deletion_curve`.

    Returns
    -------
    fractions : ndarray of shape (n_fractions,)
    values : ndarray of shape (n_fractions,)
    """
    fr = _fractions(fractions, curve=True)
    _, eff = _effects(predict_fn, X, scores, fr, "insert_top", baseline, reference, padding_mask)
    return fr, eff.mean(axis=1)


def deletion_auc(predict_fn: Callable, X: ArrayLike, scores: ArrayLike, **kwargs) -> float:
    """Trapezoidal area under :func:`deletion_curve`; lower is better.

    Parameters
    ----------
    predict_fn, X, scores
        As in :func:`deletion_curve`.
    **kwargs
        ``fractions``, ``baseline``, ``reference``, ``padding_mask`` of :func:`deletion_curve`.

    Returns
    -------
    float
    """
    fr, values = deletion_curve(predict_fn, X, scores, **kwargs)
    return _trapezoid(values, fr)


def insertion_auc(predict_fn: Callable, X: ArrayLike, scores: ArrayLike, **kwargs) -> float:
    """Trapezoidal area under :func:`insertion_curve`; higher is better.

    Parameters
    ----------
    predict_fn, X, scores
        As in :func:`insertion_curve`.
    **kwargs
        ``fractions``, ``baseline``, ``reference``, ``padding_mask`` of :func:`insertion_curve`.

    Returns
    -------
    float
    """
    fr, values = insertion_curve(predict_fn, X, scores, **kwargs)
    return _trapezoid(values, fr)
