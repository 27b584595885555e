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

    def encode(values):
        if classification:
            idx = np.searchsorted(fitted.classes, values)
            idx = np.clip(idx, 0, len(fitted.classes) - 1)
            if not np.all(fitted.classes[idx] == values):
                raise ValueError("y contains labels the estimator was not fitted on.")
            return torch.as_tensor(idx, dtype=torch.long)
        scaled = (np.asarray(values, dtype=np.float64) - fitted.target_mean) / fitted.target_scale
        return torch.as_tensor(scaled, dtype=torch.float32)

    epochs = max_epochs
    if epochs is None:
        epochs = len(estimator.history_)
    dtype = fitted.dtype
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        module = fitted.fresh_module(Xt3, pad_t)
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
