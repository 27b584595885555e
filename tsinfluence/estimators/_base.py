"""Shared implementation of InfluenceClassifier and InfluenceRegressor.

sklearn semantics over a private skorch net (composition, not inheritance): the estimator
validates, seeds and translates; the torch module does the work.
"""

from __future__ import annotations

import copy
import numbers
from abc import ABCMeta, abstractmethod

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from torch import nn

from ..nn.framework import InfluenceFramework
from ..nn.scaling import fit_input_scalers
from ..nn.selection import resolve_k
from ._blackbox import make_black_box, predictor_kind
from ._build import build_module, build_net, check_frozen_output
from ._explain import ExplainMixin
from ._inputs import SeriesInputMixin
from ._net import InfluenceNet, device_list
from ._params import check_params, grouped, torch_device

__all__ = ["InfluenceBase"]


def _check_wide_frame_rows(X, y) -> None:
    """Name the likely mistake when a wide DataFrame has more rows than ``y`` has targets."""
    if not isinstance(X, pd.DataFrame) or isinstance(X.index, pd.MultiIndex):
        return
    n_targets = len(y) if hasattr(y, "__len__") else len(X)  # else: y's own check speaks
    if len(X) > n_targets:
        raise ValueError(
            f"X is a DataFrame of {len(X)} rows but y has {n_targets} targets. A DataFrame "
            "with a plain index is read wide, one series per row and one timestamp per "
            "column; a long-format table (one row per series and step) needs an (instance, "
            "time) MultiIndex, e.g. X.set_index(['id', 'time']), or "
            "tsinfluence.datasets.load_long_format."
        )


class InfluenceBase(ExplainMixin, SeriesInputMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class; use :class:`InfluenceClassifier` or :class:`InfluenceRegressor`.

    The parameters are documented on the two estimators. This class validates and fits; the
    series are checked by :class:`~tsinfluence.estimators._inputs.SeriesInputMixin`, and what
    a fitted estimator answers (predictions, selections, influence, transform,
    counterfactuals) is in :class:`~tsinfluence.estimators._explain.ExplainMixin`.
    """

    _task: str  # "classification" or "regression", set by the leaf classes

    def __init__(
        self,
        *,
        k=0.25,
        selection_method="topk",
        scorer="cnn",
        predictor="cnn",
        freeze_predictor=False,
        training_scheme="two_stage",
        selector_gradient="score_function",
        baseline="mean",
        prediction="selected",
        scaling="auto",
        max_epochs=None,
        lr=1e-3,
        batch_size=32,
        optimizer="adam",
        gradient_clip=1.0,
        early_stopping=False,
        callbacks=None,
        transform_mode="global",
        transform_shape="2d",
        precision="float32",
        device="cpu",
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.k = k
        self.selection_method = selection_method
        self.scorer = scorer
        self.predictor = predictor
        self.freeze_predictor = freeze_predictor
        self.training_scheme = training_scheme
        self.selector_gradient = selector_gradient
        self.baseline = baseline
        self.prediction = prediction
        self.scaling = scaling
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.gradient_clip = gradient_clip
        self.early_stopping = early_stopping
        self.callbacks = callbacks
        self.transform_mode = transform_mode
        self.transform_shape = transform_shape
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._component_settings = dict(kwargs)

    def get_params(self, deep: bool = True) -> dict:
        """Parameters of this estimator, with the component settings that were set.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of a ``predictor`` that is an estimator.

        Returns
        -------
        dict
            The constructor's parameters and every ``<group>__<name>`` setting that was
            passed (the others are at their defaults, see ``GROUPED_PARAMETERS``).
        """
        params = super().get_params(deep=deep)
        params.update(self._component_settings)
        return params

    def set_params(self, **params):
        """Set parameters, including component settings ``<group>__<name>``.

        Parameters
        ----------
        **params : dict
            Constructor parameters, ``<group>__<name>`` settings, or ``predictor__<name>``
            for a ``predictor`` that is an estimator.

        Returns
        -------
        self
        """
        named = {name: value for name, value in params.items() if self._routes_to_sklearn(name)}
        self._component_settings.update(
            (name, value) for name, value in params.items() if name not in named
        )
        return super().set_params(**named) if named else self

    def _routes_to_sklearn(self, name: str) -> bool:
        """Whether ``set_params`` hands ``name`` to scikit-learn (else: a component setting).

        The constructor's named parameters and ``predictor__<name>`` (a ``predictor`` that
        is an estimator) go to scikit-learn; every other name is stored as a component
        setting and checked by ``fit``, so that ``set_params`` never raises for it
        (scikit-learn's rule).
        """
        if "__" in name:
            return name.split("__", 1)[0] == "predictor"
        return name in self._get_param_names()

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        """Validate every hyper-parameter (sklearn: in ``fit``, not ``__init__``)."""
        check_params(self)

    def _torch_device(self) -> torch.device:
        """The torch device of ``device``, checked to exist on this machine."""
        return torch_device(self.device)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Train the selector and the predictor.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels]), DataFrame or list
            Training series (see :func:`tsinfluence._validation.check_time_series`).
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        self
        """
        self._check_params()
        device = self._torch_device()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        X_user = X
        _check_wide_frame_rows(X, y)
        X, padding_mask = self._validate_X(X, reset=True)
        self._np_dtype_ = X.dtype
        y = self._prepare_targets(y, len(X))
        black_box = None
        kind = predictor_kind(self.predictor)
        if kind in ("sklearn", "callable"):
            # An estimator is copied (refitting the user's object later leaves this fit
            # alone, as for a torch module); a plain callable is used as it is.
            model = copy.deepcopy(self.predictor) if kind == "sklearn" else self.predictor
            classes = getattr(self, "classes_", None)  # a classifier's, set just above
            black_box = make_black_box(model, self._task, classes, X_user, X)
        self.n_channels_in_ = X.shape[2]
        self.variable_length_ = bool(padding_mask.any())
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        with torch.random.fork_rng(devices=device_list(device)):
            torch.manual_seed(seed)
            module = self._build_module(X.shape[1], X.shape[2], X, black_box)
            fit_input_scalers(module, X, padding_mask, self.scaling)
            if self.freeze_predictor:
                self._check_frozen_output(module, X)
            net = self._build_net(module, seed, device, len(X)).initialize()
            schedule = dict(net.callbacks_)["phase"]
            if self._needs_teacher() and "teacher" not in schedule.phase_bounds(net.max_epochs):
                raise ValueError(
                    "prediction='full' predicts with the full-series teacher of the first "
                    f"training phase, but max_epochs={net.max_epochs} is too short to give it "
                    "an epoch; use a larger max_epochs (or None for the default budget)."
                )
            # partial_fit: the net is initialised once (fit would initialise it again).
            net.partial_fit({"x": X, "padding_mask": padding_mask}, y)
        net.module_.eval()
        self.net_ = net
        self.history_ = net.history
        self.influence_scores_ = self._influence(X, padding_mask).mean(axis=0)
        k = int(resolve_k(self._k_param(), torch.ones(1, X.shape[1], dtype=torch.bool))[0])
        order = np.argsort(-self.influence_scores_, kind="stable")
        self.selected_timestamps_ = np.sort(order[:k])
        self._cf_reference_ = self._reference_set(X, padding_mask, y, seed)
        return self

    def _reference_set(self, X, padding_mask, y, seed: int) -> dict:
        """A bounded random sample of the training data for counterfactual search.

        At most 500 series and about two million values; padding is restored as NaN and
        targets are in the user's units (class labels or values).
        """
        size = min(len(X), 500, max(50, 2_000_000 // (X.shape[1] * X.shape[2])))
        keep = np.sort(np.random.default_rng(seed).choice(len(X), size=size, replace=False))
        X_ref = np.where(padding_mask[keep, :, None], np.nan, X[keep])
        return {"X": X_ref, "y": self._decode_targets(y[keep])}

    def _user_predictor(self):
        """The user's predictor module (a fitted skorch net gives its ``module_``), or None."""
        predictor = self.predictor
        if isinstance(predictor, nn.Module):
            return predictor
        module = getattr(predictor, "module_", None)
        return module if isinstance(module, nn.Module) else None

    def __sklearn_clone__(self):
        """``clone`` that keeps a fitted non-torch ``predictor`` (the model to explain) as is.

        scikit-learn would re-create an unfitted copy of an estimator parameter; a frozen
        model must stay fitted (as ``sklearn.frozen.FrozenEstimator`` does). Every other
        parameter is cloned as usual.
        """
        if predictor_kind(self.predictor) != "sklearn":
            return super().__sklearn_clone__()
        params = {
            name: value if name == "predictor" else clone(value, safe=False)
            for name, value in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    def _check_frozen_output(self, module: InfluenceFramework, X: np.ndarray) -> None:
        """Check that the frozen model maps ``(n, T, D)`` to the outputs this task needs."""
        check_frozen_output(self, module, X)

    def _alpha_deletion(self) -> float:
        """``loss__alpha_deletion``, ``None`` resolved (see :attr:`_black_box_deletion`)."""
        alpha = grouped(self, "loss__alpha_deletion")
        if alpha is not None:
            return float(alpha)
        return self._black_box_deletion if self.freeze_predictor else 0.0

    def _k_param(self):
        return int(self.k) if isinstance(self.k, numbers.Integral) else float(self.k)

    def _build_module(
        self, n_timestamps: int, n_channels: int, X: np.ndarray | None = None, black_box=None
    ) -> InfluenceFramework:
        """The untrained module for series of this shape (``_build.build_module``)."""
        return build_module(self, n_timestamps, n_channels, X, black_box)

    def _build_net(self, module, seed: int, device: torch.device, n_samples: int) -> InfluenceNet:
        """The skorch net that trains ``module`` (``_build.build_net``)."""
        return build_net(self, module, seed, device, n_samples)

    def _sink(self, message: str) -> None:
        if self.verbose > 0:
            print(message)

    # ------------------------------------------------------------------ hooks
    def _batch_weights(self) -> np.ndarray | None:
        """Per-class weights of drawing a training series into a batch, or None (shuffle)."""
        return None

    @abstractmethod
    def _prepare_targets(self, y, n_samples: int) -> np.ndarray:
        """Validate ``y``, set the target attributes, return the encoded training targets."""

    @abstractmethod
    def _output_dim(self) -> int:
        """Number of outputs of the built-in predictor heads."""

    @abstractmethod
    def _task_loss(self):
        """The task loss ``(raw outputs, encoded targets) -> scalar``."""

    @abstractmethod
    def _decode(self, raw: np.ndarray) -> np.ndarray:
        """Raw outputs to probabilities ``(n, n_classes)`` or values ``(n,)``."""

    @abstractmethod
    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        """Targets in the user's labels or units, as the network is trained on them."""

    @abstractmethod
    def _decode_targets(self, y: np.ndarray) -> np.ndarray:
        """Encoded training targets back to the user's labels or units."""

    @abstractmethod
    def _agreement(self, prediction: np.ndarray, reference: np.ndarray) -> float:
        """How well decoded predictions agree with decoded reference predictions."""

    @abstractmethod
    def _frozen_output_dim(self) -> int:
        """Outputs per series a frozen (black-box) model must return."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
