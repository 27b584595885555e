"""Metrics for timestamp / cell importance scores.

*With ground truth* (:func:`auroc`, :func:`auprc`, :func:`aup`, :func:`aur`,
:func:`precision_at_k`, :func:`recall_at_k`): ``scores`` is ``(n, T)`` (one score per step) or
``(n, T, D)`` (one per cell) and ``truth`` a bool array of the same shape. ``padding_mask`` is an
optional bool ``(n, T)`` array, True where a step is *padding*: padded steps (all their cells)
are excluded everywhere.

*Without ground truth* (:func:`comprehensiveness`, :func:`sufficiency`, the deletion / insertion
curves): ``predict_fn`` maps an array shaped like ``X`` to class probabilities ``(n, C)`` or to
regression values ``(n,)``. Inputs are masked by whole timestamps when ``scores`` is ``(n, T)``
and by cells when it is ``(n, T, D)``; masked values are replaced by a baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

# fmt: off
__all__ = [
    "topk_mask", "auroc", "auprc", "aup", "aur", "precision_at_k", "recall_at_k",
    "comprehensiveness", "sufficiency", "deletion_curve", "insertion_curve", "deletion_auc",
    "insertion_auc"
]
# fmt: on

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


# --------------------------------------------------------------------------- masking metrics


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


# --------------------------------------------------------------------------- encoding_gap
# Reserved for ``encoding_gap`` (written by another contributor): append it below this line.

__all__ += ["EncodingGap", "encoding_gap"]


class EncodingGap(dict):
    """Result of :func:`encoding_gap`: a dict with attribute access.

    Keys: ``own_score`` (the estimator's own score on its selections), ``independent_score``
    (an independently trained evaluator scoring the same selections), ``gap``
    (``own_score - independent_score``), ``random_score`` (the independent evaluator on
    random selections of the same size: what a selection that carries no information
    scores), ``metric`` (``"accuracy"`` or ``"r2"``).
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def _reset_parameters(module) -> None:
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()


def encoding_gap(
    estimator,
    X: ArrayLike,
    y: ArrayLike,
    X_train: ArrayLike | None = None,
    y_train: ArrayLike | None = None,
    max_epochs: int | None = None,
    random_state: int = 12345,
) -> EncodingGap:
    """EVAL-X check of a fitted :class:`~tsinfluence.InfluenceClassifier` / regressor.

    A fresh predictor of the same architecture (new initialisation, seed
    ``random_state``) is trained as an *evaluator* on random subsets of steps drawn
    independently of the data (Jethani et al. 2021), so it estimates ``p(y | x_S)`` and
    cannot read a code hidden in *which* steps were selected. It then scores the
    estimator's own selections of ``X``. If the estimator's score on its selections
    (``own_score``) is much higher than the evaluator's (``independent_score``), its
    predictor reads the selection pattern rather than the selected values: the
    explanation encodes the prediction and should not be trusted. A gap near 0 is
    necessary, not sufficient, for a faithful selection (EVAL-X is a weak detector).

    Parameters
    ----------
    estimator : fitted InfluenceClassifier or InfluenceRegressor
    X : array-like of shape (n_samples, n_timestamps[, n_channels])
        Series to explain and score (held-out data is best).
    y : array-like of shape (n_samples,)
        Their targets.
    X_train, y_train : array-like, optional
        Data to train the evaluator on; ``X, y`` by default.
    max_epochs : int, optional
        Evaluator epochs; the estimator's ``max_epochs`` by default (a well-trained
        evaluator: an under-trained one scores true selections low and inflates the gap).
    random_state : int, default=12345
        Seed of the evaluator (use a seed other than the estimator's).

    Returns
    -------
    EncodingGap
        ``own_score``, ``independent_score``, ``gap``, ``random_score``, ``metric``:
        accuracy for a classifier, R² for a regressor.
    """
    import torch

    from .nn.scaling import fit_input_scalers
    from .nn.selection.base import hard_topk

    if not hasattr(estimator, "net_"):
        raise ValueError("encoding_gap needs a fitted InfluenceClassifier or InfluenceRegressor.")
    if isinstance(random_state, bool) or not isinstance(random_state, Integral):
        raise TypeError(f"random_state must be an int, got {random_state!r}.")
    if max_epochs is not None and (
        isinstance(max_epochs, bool) or not isinstance(max_epochs, Integral) or max_epochs < 1
    ):
        raise ValueError(f"max_epochs must be a positive int or None, got {max_epochs!r}.")
    classification = estimator._task == "classification"
    X3, pad = estimator._validate_X(X)
    y = np.asarray(y)
    if len(y) != len(X3):
        raise ValueError(f"X has {len(X3)} samples but y has {len(y)}.")
    if X_train is None:
        Xt3, pad_t, yt = X3, pad, y
    else:
        if y_train is None:
            raise ValueError("y_train is required when X_train is given.")
        Xt3, pad_t = estimator._validate_X(X_train)
        yt = np.asarray(y_train)

    def encode(values):
        if classification:
            idx = np.searchsorted(estimator.classes_, values)
            idx = np.clip(idx, 0, len(estimator.classes_) - 1)
            if not np.all(estimator.classes_[idx] == values):
                raise ValueError("y contains labels the estimator was not fitted on.")
            return torch.as_tensor(idx, dtype=torch.long)
        scaled = (np.asarray(values, dtype=np.float64) - estimator.target_mean_) / (
            estimator.target_scale_
        )
        return torch.as_tensor(scaled, dtype=torch.float32)

    epochs = max_epochs
    if epochs is None:
        epochs = int(estimator.max_epochs)
    dtype = next(estimator.net_.module_.parameters()).dtype
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        module = estimator._build_module(Xt3.shape[1], Xt3.shape[2], Xt3)
        _reset_parameters(module.predictor)
        fit_input_scalers(module, Xt3, pad_t)
        module = module.to(dtype)
        module.set_phase("evaluator")
        module.objective = "task"
        module.train()
        params = [p for p in module.predictor.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=float(estimator.lr))
        xt = torch.as_tensor(Xt3, dtype=dtype)
        pt = torch.as_tensor(pad_t)
        targets = encode(yt)
        batch = max(int(estimator.batch_size), 1)
        for _ in range(int(epochs)):
            order = torch.randperm(len(xt))
            for start in range(0, len(xt), batch):
                idx = order[start : start + batch]
                out = module(xt[idx], pt[idx])
                loss, _ = module.compute_loss(out, xt[idx], targets[idx], pt[idx])
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
        module.eval()
        x = torch.as_tensor(X3, dtype=dtype)
        p = torch.as_tensor(pad)
        selected = torch.as_tensor(estimator.select(X), dtype=dtype)
        sizes = selected.sum(dim=1).long()
        noise = torch.rand(selected.shape).masked_fill(p, float("-inf"))
        random_mask = hard_topk(noise, sizes).to(dtype)
        with torch.no_grad():
            on_selected = module.predict_masked(x, selected, p)[0].double().numpy()
            on_random = module.predict_masked(x, random_mask, p)[0].double().numpy()

    def score(raw):
        if classification:
            return float(np.mean(estimator.classes_[raw.argmax(axis=1)] == y))
        pred = raw[:, 0] * estimator.target_scale_ + estimator.target_mean_
        total = np.sum((y - y.mean()) ** 2)
        return float(1.0 - np.sum((y - pred) ** 2) / total) if total > 0 else float("nan")

    own = float(estimator.score(X, y))
    independent = score(on_selected)
    return EncodingGap(
        own_score=own,
        independent_score=independent,
        gap=own - independent,
        random_score=score(on_random),
        metric="accuracy" if classification else "r2",
    )
