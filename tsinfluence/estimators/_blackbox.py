"""Fitted models without gradient (scikit-learn estimators, plain callables) as predictors.

Black-box mode (``freeze_predictor=True``) explains a model it never changes. A torch module
runs inside the torch graph; anything else becomes a :class:`BlackBoxModel`: a picklable
callable ``ndarray (n, T, D) -> logits or values (n, n_outputs)`` that the nn layer runs on
the masked series (:class:`tsinfluence.nn.adapters.CallableAdapter`).

How a model is called
    With the series in the layout the user passed to ``fit``: ``(n, T)`` when ``X`` was
    2D (a univariate array or a wide DataFrame), ``(n, T, D)`` channels last otherwise,
    as float64. A channels-first model (aeon, sktime) is handed over with
    :class:`tsinfluence.utils.ChannelsFirst`; a model on flattened multivariate series with
    a callable, e.g. ``lambda X: model.predict_proba(X.reshape(len(X), -1))``.

What is read from a classifier (first available)
    ``decision_function``: margins, used as logits (binary: ``[0, margin]``, whose softmax
    is the logistic of the margin): subsets that keep the class are ranked by how firmly
    they keep it. A model that also has ``predict_proba`` (a logistic regression, gradient
    boosting) is taken to return log-odds, used as they are. A model without it (a ridge
    classifier, a linear SVM) returns margins on the scale of its fitting targets (ridge:
    +-1), which, used as logits, make every subset nearly equally likely; they are multiplied
    by :attr:`BlackBoxModel.margin_scale`, set in ``fit`` so that the median margin of the
    training series is as confident as the agreement reward below (log-odds
    :data:`MARGIN_CONFIDENCE`). ``predict_proba``: log of the
    probabilities smoothed by :data:`PROBA_SMOOTHING`, so a hard 0/1 model gives a reward
    of agreement with the full-series class. ``predict``: the class, as a smoothed one-hot
    vector (agreement). A regressor's ``predict`` gives the values.
"""

from __future__ import annotations

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = [
    "MARGIN_CONFIDENCE",
    "PROBA_SMOOTHING",
    "BlackBoxModel",
    "make_black_box",
    "predictor_kind",
]

#: ``p -> (p + eps) / (1 + n_classes * eps)`` before the log: a hard 0/1 output stays finite.
PROBA_SMOOTHING = 1e-3

#: Log-odds of the smoothed hard agreement, ``log((1 + eps) / eps)``: what the median margin
#: of a model without probabilities is scaled to (see :attr:`BlackBoxModel.margin_scale`).
MARGIN_CONFIDENCE = float(np.log((1.0 + PROBA_SMOOTHING) / PROBA_SMOOTHING))

_METHODS = ("decision_function", "predict_proba", "predict")


def predictor_kind(predictor) -> str | None:
    """``"torch"``, ``"sklearn"``, ``"callable"`` or ``None`` (a built-in head's name).

    A fitted skorch net counts as ``"torch"`` (its ``module_`` is used).
    """
    if isinstance(predictor, nn.Module) or isinstance(
        getattr(predictor, "module_", None), nn.Module
    ):
        return "torch"
    if isinstance(predictor, str):
        return None
    if any(callable(getattr(predictor, m, None)) for m in _METHODS):
        return "sklearn"
    if callable(predictor):
        return "callable"
    return None


def _input_ndim(X) -> int:
    """2 if the user's ``X`` is a 2D (univariate) array or wide frame, else 3."""
    index = getattr(X, "index", None)
    if index is not None and getattr(index, "nlevels", 1) > 1:  # long-format frame
        return 3
    ndim = getattr(X, "ndim", None)
    if ndim is None and isinstance(X, list | tuple) and len(X):
        ndim = np.ndim(X[0]) + 1
    return 2 if ndim == 2 else 3


class BlackBoxModel:
    """A fitted model as ``ndarray (n, T, D) -> logits (n, n_classes) or values (n, 1)``.

    Picklable when the model is. The model is only called, never refit or changed.

    Parameters
    ----------
    model : object
        A fitted scikit-learn-compatible estimator, or a callable.
    task : {"classification", "regression"}
    classes : ndarray, optional
        The estimator's ``classes_`` (classification): output columns follow this order.
    ndim : {2, 3}
        Layout the model is called with: ``(n, T)`` or ``(n, T, D)``.
    method : str, optional
        Method of ``model`` to call (see the module docstring); ``None`` calls ``model``.

    Attributes
    ----------
    margin_scale : float
        Factor applied to ``decision_function`` margins of a model without
        ``predict_proba`` (1 otherwise), set by :meth:`configure`.
    """

    def __init__(self, model, task: str, classes=None, ndim: int = 3, method=None) -> None:
        self.model = model
        self.task = task
        self.classes = None if classes is None else np.asarray(classes)
        self.ndim = ndim
        self.method = method
        self.output = None  # set by :meth:`configure`
        self.columns = None
        self.margin_scale = 1.0

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The model's own output for ``X`` ``(n, T, D)``."""
        if self.ndim == 2:
            X = X[:, :, 0]
        fn = self.model if self.method is None else getattr(self.model, self.method)
        return np.asarray(fn(X))

    def configure(self, X: np.ndarray) -> None:
        """Check the model on ``X`` and fix how its output is read (called once, in ``fit``).

        Raises
        ------
        ValueError
            If the model fails on ``X`` or its output does not fit the task.
        """
        what = "predictor" if self.method is None else f"predictor.{self.method}"
        layout = "(n_samples, n_timestamps)" if self.ndim == 2 else "(n, T, D) channels last"
        shape = X.shape[:2] if self.ndim == 2 else X.shape
        try:
            out = self.raw(X)
        except Exception as exc:  # the user's model rejected the input
            raise ValueError(
                f"The frozen {what} failed on input of shape {shape} {layout}, the layout "
                f"of the X passed to fit: {exc}. A channels-first (aeon/sktime) model is "
                "handed over as tsinfluence.utils.ChannelsFirst(model)."
            ) from exc
        n = len(X)
        if out.ndim not in (1, 2) or out.shape[0] != n:
            raise ValueError(
                f"The frozen {what} returned an array of shape {out.shape} for {n} series; "
                f"expected one row per series, ({n},) or ({n}, n_outputs)."
            )
        if self.task == "regression":
            if out.shape not in ((n,), (n, 1)) or out.dtype.kind not in "biuf":
                raise ValueError(
                    f"The frozen {what} must return one number per series, shape ({n},); "
                    f"got {out.shape} ({out.dtype})."
                )
            self.output = "values"
            return
        n_classes = len(self.classes)
        self.columns = self._columns(what)
        if self.method == "predict":
            if out.shape not in ((n,), (n, 1)):
                raise ValueError(
                    f"The frozen {what} must return one label per series; got {out.shape}."
                )
            self.output = "labels"
            return
        if out.dtype.kind not in "biuf":
            raise ValueError(f"The frozen {what} must return numbers; got dtype {out.dtype}.")
        if out.ndim == 1 or out.shape[1:] == (1,):
            if n_classes != 2:
                raise ValueError(
                    f"The frozen {what} returned one number per series, shape {out.shape}, "
                    f"but y has {n_classes} classes; expected ({n}, {n_classes})."
                )
            is_proba = self.method == "predict_proba" or (
                self.method is None and np.all((out >= 0) & (out <= 1))
            )
            self.output = "proba_1d" if is_proba else "margin_1d"
            self._scale_margins(out)
            return
        if out.shape != (n, n_classes):
            raise ValueError(
                f"The frozen {what} must return {n_classes} columns (one per class of y) per "
                f"series, shape ({n}, {n_classes}); got {out.shape}."
            )
        is_proba = self.method == "predict_proba" or (
            self.method is None
            and np.all((out >= 0) & (out <= 1))
            and np.allclose(out.sum(axis=1), 1.0, atol=1e-4)
        )
        self.output = "proba" if is_proba else "logits"
        self._scale_margins(out)

    def _scale_margins(self, out: np.ndarray) -> None:
        """Set :attr:`margin_scale` from the model's output ``out`` (see the module docstring)."""
        self.margin_scale = 1.0  # read the gap below from unscaled margins, on every call
        if self.output not in ("margin_1d", "logits") or self.method != "decision_function":
            return
        if callable(getattr(self.model, "predict_proba", None)):
            return  # log-odds, used as they are
        logits = np.sort(self._logits(out), axis=1)
        gap = float(np.median(logits[:, -1] - logits[:, -2]))
        if np.isfinite(gap) and gap > 0:
            self.margin_scale = MARGIN_CONFIDENCE / gap

    def _columns(self, what: str) -> np.ndarray:
        """Index of each of ``classes`` among the model's ``classes_`` (identity without)."""
        model_classes = getattr(self.model, "classes_", None)
        if model_classes is None or self.method is None:
            return np.arange(len(self.classes))
        model_classes = np.asarray(model_classes)
        if len(model_classes) != len(self.classes) or not np.all(
            np.isin(self.classes, model_classes)
        ):
            raise ValueError(
                f"The classes of y {self.classes.tolist()} differ from the classes of the "
                f"frozen model {model_classes.tolist()}; pass y with the model's labels."
            )
        return np.array([int(np.flatnonzero(model_classes == c)[0]) for c in self.classes])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Logits ``(n, n_classes)`` or values ``(n, 1)`` for ``X`` ``(n, T, D)``."""
        return self._logits(self.raw(X))

    def _logits(self, out: np.ndarray) -> np.ndarray:
        """The model's output ``out`` (from :meth:`raw`) read as logits or values."""
        if self.output == "values":
            return out.reshape(len(out), 1).astype(np.float64)
        n_classes = len(self.classes)
        if self.output == "labels":
            model_classes = getattr(self.model, "classes_", self.classes)
            proba = (out.reshape(-1, 1) == np.asarray(model_classes)[None, :]).astype(float)
            return self._log_proba(proba[:, self.columns], n_classes)
        out = out.astype(np.float64)
        if self.output in ("margin_1d", "proba_1d"):
            out = out.reshape(-1)
            if self.output == "proba_1d":
                out = np.stack([1.0 - out, out], axis=1)
                return self._log_proba(out[:, self.columns], n_classes)
            out = np.stack([np.zeros_like(out), out], axis=1)
            return self.margin_scale * out[:, self.columns]
        if self.output == "proba":
            return self._log_proba(out[:, self.columns], n_classes)
        return self.margin_scale * out[:, self.columns]

    @staticmethod
    def _log_proba(proba: np.ndarray, n_classes: int) -> np.ndarray:
        eps = PROBA_SMOOTHING
        return np.log((np.clip(proba, 0.0, 1.0) + eps) / (1.0 + n_classes * eps))


def _choose_method(model, task: str) -> str:
    order = _METHODS if task == "classification" else ("predict",)
    for method in order:
        if callable(getattr(model, method, None)):
            return method
    raise TypeError(
        f"The frozen predictor {type(model).__name__} has no "
        + ("decision_function, predict_proba or predict" if task == "classification" else "predict")
        + " method; pass a fitted scikit-learn-compatible estimator, a torch.nn.Module or a "
        "callable X -> " + ("probabilities" if task == "classification" else "values") + "."
    )


def make_black_box(model, task: str, classes, X_user, X: np.ndarray) -> BlackBoxModel:
    """The configured :class:`BlackBoxModel` of a fitted estimator or callable ``model``.

    Parameters
    ----------
    model : object
        A fitted scikit-learn-compatible estimator or a callable (used as it is).
    task : {"classification", "regression"}
    classes : ndarray or None
        ``classes_`` of the influence estimator.
    X_user : object
        ``X`` as the user passed it to ``fit`` (only its layout is read).
    X : ndarray of shape (n, T, D)
        The validated training series; a few are passed through the model.

    Raises
    ------
    ValueError, TypeError
        If the model is not fitted, has no usable method, fails or returns the wrong shape.
    """
    method = None
    if predictor_kind(model) == "sklearn":
        method = _choose_method(model, task)
        if callable(getattr(model, "fit", None)):
            try:
                check_is_fitted(model)
            except NotFittedError as exc:
                raise ValueError(
                    f"The frozen predictor {type(model).__name__} is not fitted: black-box "
                    "mode explains a fitted model and never fits it."
                ) from exc
    ndim = _input_ndim(X_user)
    if ndim == 2 and X.shape[2] != 1:
        ndim = 3
    black_box = BlackBoxModel(model, task, classes, ndim, method)
    black_box.configure(X[: min(len(X), 64)])
    return black_box
