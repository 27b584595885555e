"""InfluenceClassifier: classify time series from their most influential timestamps."""

from __future__ import annotations

import inspect
from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d
from torch import nn

from ._base import InfluenceBase
from ._docs import CLASS_WEIGHT_PARAMETER, estimator_parameters

__all__ = ["InfluenceClassifier"]


def _signature_with_class_weight() -> inspect.Signature:
    """The shared constructor's signature with ``class_weight`` added before ``**kwargs``."""
    shared = inspect.signature(InfluenceBase.__init__)
    *named, kwargs = shared.parameters.values()
    own = inspect.Parameter("class_weight", inspect.Parameter.KEYWORD_ONLY, default=None)
    return shared.replace(parameters=[*named, own, kwargs])


class InfluenceClassifier(ClassifierMixin, InfluenceBase):
    __doc__ = f"""Classifier that learns which timestamps drive its prediction.

    An attention scorer rates every timestamp, a selection strategy keeps the ``k`` most
    influential ones, and a predictor classifies from those steps alone. Trained through a
    private skorch net; behaves like any scikit-learn classifier and transformer.

    {estimator_parameters(CLASS_WEIGHT_PARAMETER)}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_weight_ : ndarray of shape (n_classes,)
        The weight of each class in ``classes_`` that ``class_weight`` resolved to (all 1
        with ``class_weight=None``).
    n_features_in_ : int
        Number of timestamps seen in ``fit`` (scikit-learn's rule for 3D input).
    n_channels_in_ : int
        Number of channels seen in ``fit``.
    feature_names_in_ : ndarray of str
        Timestamp names, when ``X`` was a wide DataFrame with string columns.
    influence_scores_ : ndarray of shape (n_timestamps,)
        Mean per-sample influence of each timestamp on the training data: how often the
        selector picks each position (mean inclusion probability).
    selected_timestamps_ : ndarray of int
        The ``k`` timestamps with the highest ``influence_scores_`` (sorted), used by the
        global ``transform``.
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is the :class:`~tsinfluence.nn.InfluenceFramework`.
    history_ : skorch.History
        Per-epoch training record: ``train_loss``, ``train_task``, ``train_diversity``,
        ``train_mi``, ``train_budget``, ``phase`` (and ``valid_*`` with early stopping).

    Examples
    --------
    >>> from tsinfluence import InfluenceClassifier
    >>> from tsinfluence.datasets import make_signal_event
    >>> X, y, truth = make_signal_event(n_samples=200, random_state=0)
    >>> clf = InfluenceClassifier(k=3, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    >>> clf.influence_scores(X[:2]).shape
    (2, 30)
    """

    _task = "classification"
    #: ``loss__alpha_deletion=None`` in black-box mode: the KL fidelity needs no deletion term.
    _black_box_deletion = 0.0

    def __init__(self, *, class_weight=None, **kwargs):
        super().__init__(**kwargs)
        self.class_weight = class_weight

    # scikit-learn reads the parameters from the signature: the shared ones, and class_weight.
    __init__.__signature__ = _signature_with_class_weight()

    def _prepare_targets(self, y, n_samples: int) -> np.ndarray:
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n_samples), y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {self.classes_[0]!r}."
            )
        self.class_weight_ = self._resolve_class_weight(y)
        return encoder.transform(y).astype(np.int64)

    def _resolve_class_weight(self, y: np.ndarray) -> np.ndarray:
        """The weight of each class of ``classes_`` that ``class_weight`` asks for."""
        weights = self.class_weight
        if weights is None or (isinstance(weights, str) and weights == "balanced"):
            return compute_class_weight(weights, classes=self.classes_, y=y)
        if not isinstance(weights, dict):
            raise ValueError(
                "class_weight must be None, 'balanced' or a dict {class label: weight}, got "
                f"{weights!r}."
            )
        classes = self.classes_.tolist()
        known = set(classes)
        unknown = [label for label in weights if label not in known]
        if unknown:
            raise ValueError(
                f"class_weight names labels that are not classes of y: {unknown!r}; the "
                f"classes are {classes!r}."
            )
        resolved = np.array([weights.get(label, 1.0) for label in classes])
        if not all(isinstance(w, Real) for w in resolved.tolist()) or not (
            np.all(np.isfinite(resolved)) and np.all(resolved >= 0) and resolved.sum() > 0
        ):
            raise ValueError(
                "class_weight must give every class a finite weight >= 0, and some class a "
                f"positive one; got {weights!r}."
            )
        return resolved.astype(np.float64)

    def _batch_weights(self) -> np.ndarray | None:
        return None if self.class_weight is None else self.class_weight_

    def _output_dim(self) -> int:
        return len(self.classes_)

    def _task_loss(self):
        return nn.CrossEntropyLoss()

    def _decode(self, raw: np.ndarray) -> np.ndarray:
        raw = raw - raw.max(axis=1, keepdims=True)
        proba = np.exp(raw)
        return proba / proba.sum(axis=1, keepdims=True)

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        index = np.clip(np.searchsorted(self.classes_, y), 0, len(self.classes_) - 1)
        if not np.all(self.classes_[index] == y):
            raise ValueError("y contains labels the estimator was not fitted on.")
        return index.astype(np.int64)

    def _decode_targets(self, y: np.ndarray) -> np.ndarray:
        return self.classes_[y]

    def _agreement(self, prediction: np.ndarray, reference: np.ndarray) -> float:
        """Share of series with the same most probable class."""
        return float(np.mean(prediction.argmax(axis=1) == reference.argmax(axis=1)))

    def _frozen_output_dim(self) -> int:
        return len(self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities from the selected timestamps (``prediction="full"``: all).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels]), DataFrame or list
            Series in any form ``fit`` accepts, with the fitted number of timestamps and
            channels (a model fitted on unequal lengths also takes other lengths).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Softmax of the model's outputs (the predictor's on the selected steps, or the
            full-series teacher's with ``prediction="full"``); columns follow ``classes_``, rows
            sum to 1.
        """
        return self._decode(self._raw_predict(X))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, from the selected timestamps (``prediction="full"``: all).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels]), DataFrame or list
            Series in any form ``fit`` accepts, with the fitted number of timestamps and
            channels (a model fitted on unequal lengths also takes other lengths).

        Returns
        -------
        ndarray of shape (n_samples,)
            The most probable class of each series (the argmax of :meth:`predict_proba`),
            with the labels and dtype of ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Selecting k < T steps of tabular check data discards information by design.
        tags.classifier_tags.poor_score = True
        tags.transformer_tags.preserves_dtype = (
            ["float64"] if self.precision == "float64" else ["float32"]
        )
        return tags
