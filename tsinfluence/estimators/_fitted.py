"""The one internal bridge from other packages to a fitted influence estimator."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ..nn.adapters import CallableAdapter
from ..nn.scaling import fit_input_scalers
from ._build import build_evaluator_net
from ._net import device_list

if TYPE_CHECKING:
    from ..nn.framework import InfluenceFramework
    from ._base import InfluenceBase

__all__ = ["FittedModel"]


class FittedModel:
    """What ``counterfactual/`` and ``metrics/`` may use of a fitted estimator.

    Built by :meth:`InfluenceBase._fitted_model`; the only door into a fitted estimator from
    outside ``estimators/`` (besides its public API), so that the estimator's private members
    can change without breaking other packages. It validates input, runs the fitted module
    (in chunks, without gradient, or differentiably for a search) and converts between the
    model's units and the user's.

    Parameters
    ----------
    estimator : InfluenceBase
        A fitted :class:`~tsinfluence.InfluenceClassifier` or
        :class:`~tsinfluence.InfluenceRegressor` (only read).

    Attributes
    ----------
    module : InfluenceFramework
        The fitted network (selector and predictor).
    task : {"classification", "regression"}
    classes : ndarray or None
        The classifier's ``classes_``.
    target_mean, target_scale : float
        A regressor's outputs are ``target_mean + target_scale * raw`` (0 and 1 for a
        classifier).
    full_series : bool
        True when the estimator predicts with the full-series model
        (``prediction="full"``), so what :meth:`predict_raw` and :meth:`forward` return is
        that model's output, not the predictor's on the selection.
    reference : dict or None
        The bounded sample of training series stored at fit for counterfactual search
        (``{"X": (m, T, D) with NaN padding, "y": (m,)}``).
    n_channels : int
    device : torch.device
    dtype : torch.dtype
    """

    def __init__(self, estimator: InfluenceBase) -> None:
        check_is_fitted(estimator, "net_")
        self._estimator = estimator
        self.module: InfluenceFramework = estimator.net_.module_
        parameter = next(self.module.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        self.task: str = estimator._task
        self.classes = getattr(estimator, "classes_", None)
        self.target_mean = float(getattr(estimator, "target_mean_", 0.0))
        self.target_scale = float(getattr(estimator, "target_scale_", 1.0))
        self.full_series = estimator.prediction == "full"
        self.reference = getattr(estimator, "_cf_reference_", None)
        self.n_channels = int(estimator.n_channels_in_)

    @classmethod
    def restore(
        cls,
        estimator: InfluenceBase,
        state: dict,
        phase: str | None,
        history,
        influence_temperature_scale: float = 1.0,
    ) -> FittedModel:
        """Rebuild the network of an estimator read from a model file and load its weights.

        Parameters
        ----------
        estimator : InfluenceBase
            Its parameters and fitted attributes (``n_features_in_``, ``n_channels_in_``,
            ``classes_``, ...) already set; gains ``net_`` and ``history_``.
        state : dict
            The network's ``state_dict``.
        phase : str or None
            The training phase the module ended in.
        history : skorch.history.History
            The training history.
        influence_temperature_scale : float, default=1.0
            The module's :attr:`~tsinfluence.nn.InfluenceFramework.influence_temperature_scale`.

        Returns
        -------
        FittedModel

        Raises
        ------
        ValueError
            If the weights do not fit the network the parameters describe.
        """
        device = estimator._torch_device()
        module = estimator._build_module(
            int(estimator.n_features_in_), int(estimator.n_channels_in_)
        )
        net = estimator._build_net(module, 0, device, 1).initialize()
        if any(key.startswith("teacher.") for key in state):  # fitted with prediction="full"
            net.module_.keep_teacher()
        try:
            net.module_.load_state_dict(state)
        except RuntimeError as exc:
            message = " ".join(str(exc).split())
            raise ValueError(f"The model file's weights do not fit the network: {message}") from exc
        if phase is not None and hasattr(net.module_, "set_phase"):
            net.module_.set_phase(phase)
            for p in net.module_.parameters():
                p.requires_grad_(True)
        net.module_.influence_temperature_scale = float(influence_temperature_scale)
        net.module_.to(device)
        net.module_.eval()
        net.history = history
        estimator.net_, estimator.history_ = net, net.history
        return cls(estimator)

    def validate(self, X) -> tuple[np.ndarray, np.ndarray]:
        """``(X (n, T, D), padding_mask (n, T))``: ``X`` checked as :meth:`predict` checks it.

        Parameters
        ----------
        X : array-like, DataFrame or list of series

        Returns
        -------
        tuple of ndarray
        """
        return self._estimator._validate_X(X)

    def predict_raw(
        self, X: np.ndarray, padding_mask: np.ndarray, what: str = "predict"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw outputs and selections of validated series, in chunks, without gradient.

        Parameters
        ----------
        X : ndarray of shape (n, T, D)
        padding_mask : ndarray of shape (n, T), bool
        what : {"predict", "selected", "full"}, default="predict"
            ``"predict"``: the output :meth:`predict` decodes; ``"selected"``: the predictor
            on the selected steps; ``"full"``: the full-series model.

        Returns
        -------
        raw : ndarray of shape (n, n_outputs)
            Logits, or standardised regression outputs.
        mask : ndarray of shape (n, T), bool
            The selected steps.
        """
        return self._estimator._forward(X, padding_mask, what)

    def forward(
        self,
        x: torch.Tensor,
        padding_mask: torch.Tensor,
        through_selector: bool = True,
        full: bool | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward pass of what :meth:`predict` decodes, differentiable in ``x``.

        The one select-then-predict step of a fitted estimator: searches call it with
        gradient, the estimator's batched inference without.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
        padding_mask : torch.Tensor of shape (n, T), bool
        through_selector : bool, default=True
            Let the gradient reach ``x`` through the selector's relaxed mask too (else the
            mask is a constant of ``x``).
        full : bool, optional
            The full-series model's output (True) or the predictor's on the selection
            (False); default :attr:`full_series`, what :meth:`predict` returns.

        Returns
        -------
        raw : torch.Tensor of shape (n, n_outputs)
            The predictor's output on the selection (through the selector's relaxed mask),
            or the full-series model's output.
        mask : torch.Tensor of shape (n, T)
            The selection.
        """
        mask, _ = self.module.selector(x, padding_mask, return_scores=True)
        if not through_selector:
            mask = mask.detach()
        if self.full_series if full is None else full:
            return self.module.series_prediction(x, padding_mask), mask
        return self.module.predict_masked(x, mask, padding_mask)[0], mask

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` or values ``(n,)`` in the user's units.

        Parameters
        ----------
        raw : ndarray of shape (n, n_outputs)

        Returns
        -------
        ndarray
        """
        return self._estimator._decode(raw)

    def labels(self, raw: np.ndarray) -> np.ndarray:
        """Predicted class labels, or values, of ``raw`` outputs.

        Parameters
        ----------
        raw : ndarray of shape (n, n_outputs)

        Returns
        -------
        ndarray of shape (n,)
        """
        decoded = self.decode(raw)
        if self.task == "classification":
            return self.classes[decoded.argmax(1)]
        return decoded

    def fresh_module(self, X: np.ndarray, padding_mask: np.ndarray) -> InfluenceFramework:
        """A new module of the fitted architecture: untrained predictor, scalers fit on ``X``.

        For a frozen model without torch parameters (a scikit-learn estimator or a
        callable), which cannot be re-initialised, the predictor is the built-in attention
        head. Draws its initialisation from torch's global generator.

        Parameters
        ----------
        X : ndarray of shape (n, T, D)
            Validated training series (sets the length and the input scalers).
        padding_mask : ndarray of shape (n, T), bool

        Returns
        -------
        InfluenceFramework
            In the fitted model's dtype, on the CPU.
        """
        source = self._estimator
        if isinstance(self.module.predictor, CallableAdapter):
            source = clone(source).set_params(predictor="attention", freeze_predictor=False)
            for name in ("classes_", "target_mean_", "target_scale_"):
                if hasattr(self._estimator, name):
                    setattr(source, name, getattr(self._estimator, name))
        module = source._build_module(X.shape[1], X.shape[2], X)
        for sub in module.predictor.modules():  # a user's torch module arrives trained
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()
        fit_input_scalers(module, X, padding_mask, source.scaling)
        return module.to(self.dtype)

    def encode_targets(self, y) -> np.ndarray:
        """Targets in the user's labels or units, encoded as the network is trained on them.

        Parameters
        ----------
        y : array-like of shape (n,)

        Returns
        -------
        ndarray of shape (n,)
            Class indices (int64) or standardised values (the model's float dtype).

        Raises
        ------
        ValueError
            If ``y`` holds a label the classifier was not fitted on.
        """
        return self._estimator._encode_targets(np.asarray(y))

    def train_evaluator(
        self, X: np.ndarray, padding_mask: np.ndarray, y: np.ndarray, max_epochs: int, seed: int
    ) -> InfluenceFramework:
        """A fresh module (:meth:`fresh_module`) whose predictor is trained as an evaluator.

        Trained on random subsets of steps drawn independently of the data, with the task
        loss and the estimator's optimiser, learning rate, batch size, gradient clipping
        and device (``_build.build_evaluator_net``); seeded by ``seed`` without touching the
        caller's global torch generator.

        Parameters
        ----------
        X : ndarray of shape (n, T, D)
            Validated training series.
        padding_mask : ndarray of shape (n, T), bool
        y : ndarray of shape (n,)
            Encoded targets (:meth:`encode_targets`).
        max_epochs : int
        seed : int

        Returns
        -------
        InfluenceFramework
            In eval mode, on the fitted model's device.
        """
        estimator = self._estimator
        with torch.random.fork_rng(devices=device_list(self.device)):
            torch.manual_seed(seed)
            module = self.fresh_module(X, padding_mask)
            net = build_evaluator_net(estimator, module, self.device, max_epochs).initialize()
            net.partial_fit({"x": X, "padding_mask": padding_mask}, y)
        return net.module_.eval()
