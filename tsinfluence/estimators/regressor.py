"""InfluenceRegressor: regress on the most influential timestamps of a series."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d
from torch import nn

from ._base import InfluenceBase
from ._docs import estimator_parameters

__all__ = ["InfluenceRegressor"]


class GaussianLikelihoodLoss(nn.Module):
    """Gaussian negative log-likelihood of ``(mean, log_variance)`` outputs.

    A learned variance makes the selector's reward "do the selected steps *determine* y",
    not "does the prediction happen to land on y" (see the user guide on faithfulness).
    Outputs with a single column (user predictors) fall back to the squared error.
    """

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.reshape(-1).to(prediction.dtype)
        mean = prediction[:, 0]
        if prediction.shape[1] == 1:
            return ((mean - target) ** 2).mean()
        log_var = prediction[:, 1].clamp(-10.0, 10.0)
        return 0.5 * (log_var + (target - mean) ** 2 * torch.exp(-log_var)).mean()


class InfluenceRegressor(RegressorMixin, InfluenceBase):
    __doc__ = f"""Regressor that learns which timestamps drive its prediction.

    An attention scorer rates every timestamp, a selection strategy keeps the ``k`` most
    influential ones, and a predictor estimates the target's mean and variance from those
    steps alone (trained by Gaussian likelihood on standardised targets).

    {estimator_parameters()}

    Attributes
    ----------
    n_features_in_ : int
        Number of timestamps seen in ``fit``.
    n_channels_in_ : int
        Number of channels seen in ``fit``.
    feature_names_in_ : ndarray of str
        Timestamp names, when ``X`` was a wide DataFrame with string columns.
    influence_scores_ : ndarray of shape (n_timestamps,)
        Mean per-sample influence of each timestamp on the training data: how often the
        selector picks each position (mean inclusion probability).
    selected_timestamps_ : ndarray of int
        The ``k`` timestamps with the highest ``influence_scores_`` (sorted).
    target_mean_, target_scale_ : float
        Standardisation of the training targets.
    net_ : skorch.NeuralNet
        The trained net.
    history_ : skorch.History
        Per-epoch training record.

    Examples
    --------
    >>> from tsinfluence import InfluenceRegressor
    >>> from tsinfluence.datasets import make_marked_sum
    >>> X, y, truth = make_marked_sum(n_samples=200, random_state=0)
    >>> reg = InfluenceRegressor(k=4, max_epochs=5, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _task = "regression"
    #: ``loss__alpha_deletion=None`` in black-box mode: the squared-error fidelity alone is led
    #: astray by subsets whose values happen to cancel (``docs/faithfulness_notes.md``).
    _black_box_deletion = 1.0

    def _prepare_targets(self, y, n_samples: int) -> np.ndarray:
        y = check_array(y, ensure_2d=False, dtype="numeric", input_name="y")
        y = column_or_1d(y, warn=True).astype(np.float64)
        check_consistent_length(np.empty(n_samples), y)
        if self.freeze_predictor:  # the frozen model already predicts in the units of y
            self.target_mean_, self.target_scale_ = 0.0, 1.0
        else:
            self.target_mean_ = float(y.mean())
            scale = float(y.std())
            self.target_scale_ = scale if scale > 0 else 1.0
        return self._encode_targets(y)

    def _output_dim(self) -> int:
        return 2

    def _task_loss(self):
        return GaussianLikelihoodLoss()

    def _decode(self, raw: np.ndarray) -> np.ndarray:
        return raw[:, 0] * self.target_scale_ + self.target_mean_

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        scaled = (y.astype(np.float64) - self.target_mean_) / self.target_scale_
        return scaled.astype(self._np_dtype_)

    def _decode_targets(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float64) * self.target_scale_ + self.target_mean_

    def _agreement(self, prediction: np.ndarray, reference: np.ndarray) -> float:
        """R² of the predictions against the reference predictions (1 if both constant)."""
        residual = np.sum((prediction - reference) ** 2)
        total = np.sum((reference - reference.mean()) ** 2)
        return float(1.0 - residual / total) if total > 0 else float(residual == 0)

    def _frozen_output_dim(self) -> int:
        return 1

    def predict(self, X) -> np.ndarray:
        """Predicted values, from the selected timestamps (``prediction="full"``: all).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels]), DataFrame or list
            Series in any form ``fit`` accepts, with the fitted number of timestamps and
            channels (a model fitted on unequal lengths also takes other lengths).

        Returns
        -------
        ndarray of shape (n_samples,), float64
            The predicted mean, in the units of the training targets.
        """
        return self._decode(self._raw_predict(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Selecting k < T steps of tabular check data discards information by design.
        tags.regressor_tags.poor_score = True
        tags.transformer_tags.preserves_dtype = (
            ["float64"] if self.precision == "float64" else ["float32"]
        )
        return tags
