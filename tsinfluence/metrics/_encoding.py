"""The encoding check: is an explanation readable only by the model that produced it?"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["EncodingGap", "encoding_gap"]


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
    ``random_state``; for a frozen model without torch parameters -- a scikit-learn
    estimator or a callable -- the built-in attention head) is trained as an *evaluator*
    on random subsets of steps drawn independently of the data (Jethani et al. 2021), so
    it estimates ``p(y | x_S)`` and cannot read a code hidden in *which* steps were
    selected. It then scores the
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

    from ..nn.selection.base import hard_topk

    if not hasattr(estimator, "net_"):
        raise ValueError("encoding_gap needs a fitted InfluenceClassifier or InfluenceRegressor.")
    if isinstance(random_state, bool) or not isinstance(random_state, Integral):
        raise TypeError(f"random_state must be an int, got {random_state!r}.")
    if max_epochs is not None and (
        isinstance(max_epochs, bool) or not isinstance(max_epochs, Integral) or max_epochs < 1
    ):
        raise ValueError(f"max_epochs must be a positive int or None, got {max_epochs!r}.")
    fitted = estimator._fitted_model()  # the estimator's bridge for other packages
    classification = fitted.task == "classification"
    X3, pad = fitted.validate(X)
    y = np.asarray(y)
    if len(y) != len(X3):
        raise ValueError(f"X has {len(X3)} samples but y has {len(y)}.")
    if X_train is None:
        Xt3, pad_t, yt = X3, pad, y
    else:
        if y_train is None:
            raise ValueError("y_train is required when X_train is given.")
        Xt3, pad_t = fitted.validate(X_train)
        yt = np.asarray(y_train)
        if len(yt) != len(Xt3):
            raise ValueError(f"X_train has {len(Xt3)} samples but y_train has {len(yt)}.")

    epochs = len(estimator.history_) if max_epochs is None else int(max_epochs)
    module = fitted.train_evaluator(Xt3, pad_t, fitted.encode_targets(yt), epochs, random_state)
    device, dtype = fitted.device, fitted.dtype
    x = torch.as_tensor(X3, dtype=dtype, device=device)
    p = torch.as_tensor(pad, device=device)
    selected = torch.as_tensor(estimator.select(X), dtype=dtype, device=device)
    sizes = selected.sum(dim=1).long()
    generator = torch.Generator().manual_seed(random_state)
    noise = torch.rand(selected.shape, generator=generator).to(device)
    random_mask = hard_topk(noise.masked_fill(p, float("-inf")), sizes).to(dtype)
    with torch.no_grad():
        on_selected = module.predict_masked(x, selected, p)[0].double().cpu().numpy()
        on_random = module.predict_masked(x, random_mask, p)[0].double().cpu().numpy()

    def score(raw):
        pred = fitted.labels(raw)
        if classification:
            return float(np.mean(pred == y))
        total = np.sum((y - y.mean()) ** 2)
        return float(1.0 - np.sum((y - pred) ** 2) / total) if total > 0 else float("nan")

    # the predictor on its own selections (with prediction="full", not what predict returns)
    own = score(fitted.predict_raw(X3, pad, "selected")[0])
    independent = score(on_selected)
    return EncodingGap(
        own_score=own,
        independent_score=independent,
        gap=own - independent,
        random_score=score(on_random),
        metric="accuracy" if classification else "r2",
    )
