"""What a fitted influence estimator answers: predictions, selections, influence, edits.

A mixin of :class:`~tsinfluence.estimators._base.InfluenceBase` (which fits): the batched
inference over the fitted module, and the public methods built on it.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import TransformerMixin

from ._fitted import FittedModel
from ._transform import apply_transform, feature_names_out

__all__ = ["INFERENCE_STEPS", "ExplainMixin"]

#: Most timestamps (series x length) processed at once at inference: bounds memory, and
#: is independent of ``batch_size``, so short series run many at a time (100 series of 40
#: steps in one chunk instead of four of ``batch_size=32``: ``influence_scores`` 2.1x faster).
INFERENCE_STEPS = 2**16


class ExplainMixin(TransformerMixin):
    """Inference and explanation methods of a fitted influence estimator.

    ``TransformerMixin`` is a base of this class because scikit-learn wraps ``transform``
    for ``set_output`` only in the class that defines it.
    """

    # ------------------------------------------------------------------ inference
    def _forward(self, X: np.ndarray, padding_mask: np.ndarray, what: str = "predict"):
        """Batched no-grad inference; returns numpy ``(output, mask)`` or influence.

        ``what``: ``"predict"`` (the output :meth:`predict` decodes: ``"selected"``, or
        ``"full"`` with ``prediction="full"``), ``"selected"`` (the predictor on the
        selected steps), ``"full"`` (the full-series model: the kept teacher, else the
        predictor on every valid step; see
        :meth:`~tsinfluence.nn.InfluenceFramework.series_prediction`) or ``"influence"``.
        Series are processed in chunks of at most :data:`INFERENCE_STEPS` timestamps in
        all (at least one series), so memory stays bounded for long series.
        Every series is computed independently of the others (eval mode, no batch
        statistics), so the chunking changes the result by float rounding only. Only reads
        the fitted module: safe to call from several threads at once.
        """
        fitted = self._fitted_model()
        module = fitted.module
        full = what == "full" or (what == "predict" and self.prediction == "full")
        if full and self._needs_teacher() and module.teacher is None:
            raise ValueError(
                "prediction='full' predicts with the full-series teacher, but this model was "
                "fitted with prediction='selected' and did not keep it; refit with "
                "prediction='full'."
            )
        outputs, masks = [], []
        step = max(1, INFERENCE_STEPS // max(X.shape[1], 1))
        with torch.no_grad():
            for start in range(0, len(X), step):
                x = torch.as_tensor(
                    X[start : start + step], dtype=fitted.dtype, device=fitted.device
                )
                pad = torch.as_tensor(padding_mask[start : start + step], device=fitted.device)
                if what == "influence":
                    outputs.append(module.influence(x, pad).cpu().numpy())
                    continue
                pred, mask = fitted.forward(x, pad, full=full)
                outputs.append(pred.cpu().numpy())
                masks.append(mask.cpu().numpy() > 0.5)
        if what == "influence":
            return np.concatenate(outputs).astype(np.float64)
        return np.concatenate(outputs).astype(np.float64), np.concatenate(masks)

    def _needs_teacher(self) -> bool:
        """Whether predict uses the full-series teacher (a frozen model is its own)."""
        return self.prediction == "full" and not self.freeze_predictor

    def _fitted_model(self) -> FittedModel:
        """The internal bridge other packages use to reach this fitted estimator."""
        return FittedModel(self)

    def _influence(self, X, padding_mask):
        """Influence ``(n, T)`` of validated ``X``: inclusion probabilities, 0 at padding."""
        influence = self._forward(X, padding_mask, what="influence")
        influence[padding_mask] = 0.0
        return influence

    def _raw_predict(self, X):
        X, padding_mask = self._validate_X(X)
        return self._forward(X, padding_mask)[0]

    def influence_scores(self, X) -> np.ndarray:
        """Per-sample influence of every timestamp.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels])

        Returns
        -------
        ndarray of shape (n_samples, n_timestamps)
            The probability that the selector selects each step, in ``[0, 1]``; padded steps
            are 0. For ``"topk"`` and ``"gumbel"``, the inclusion probability under Gumbel
            top-k sampling of ``k`` steps from the standardised scores divided by the
            temperature the selector was last trained at (a quarter of
            ``module__temperature`` after score-function training; one deterministic pass,
            no sampling), so each row sums to ``k``
            (the series' budget) over its valid steps; for ``"threshold"``, the gate
            probability, summing to the expected number of selected steps. An increasing
            function of the scorer's logits within a series, so rankings are the logits';
            see the user guide, "What an influence score means".
        """
        X, padding_mask = self._validate_X(X)
        return self._influence(X, padding_mask)

    def select(self, X) -> np.ndarray:
        """The timestamps selected for each series.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels]), DataFrame or list
            Series in any form ``fit`` accepts, with the fitted number of timestamps and
            channels (a model fitted on unequal lengths also takes other lengths).

        Returns
        -------
        ndarray of shape (n_samples, n_timestamps), bool
            True at the steps the predictor sees; padded steps are never selected.
        """
        X, padding_mask = self._validate_X(X)
        return self._forward(X, padding_mask)[1]

    def fidelity(self, X) -> float:
        """Agreement of the prediction from the selected steps with the full-series one.

        Two predictions are compared: the predictor's on the selected steps only (what
        :meth:`predict` returns with ``prediction="selected"``) and the full-series
        model's on every step (the predictor itself; the frozen model in black-box mode;
        the kept full-series teacher with ``prediction="full"``, so that there it measures
        how well the selection explains what :meth:`predict` returns). Classifier: the
        fraction of series whose predicted class is the same. Regressor: the R² of the
        selected-step predictions against the full-series predictions. 1.0 means the
        selection alone reproduces what the model does with the whole series; unlike
        :meth:`score`, ``y`` is not involved.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels])

        Returns
        -------
        float
        """
        X, padding_mask = self._validate_X(X)
        selected = self._decode(self._forward(X, padding_mask, what="selected")[0])
        full = self._decode(self._forward(X, padding_mask, what="full")[0])
        return self._agreement(selected, full)

    # ------------------------------------------------------------------ transform
    def transform(self, X):
        """Keep the influential timestamps.

        ``transform_mode="global"`` keeps the same ``selected_timestamps_`` for every series
        (stable columns, like ``SelectKBest`` over time); ``"per_sample"`` keeps each
        series' own selection and zeroes the other steps. ``transform_shape="2d"`` flattens
        to ``(n_samples, n_steps * n_channels)`` so any scikit-learn estimator can follow;
        ``"3d"`` returns ``(n_samples, n_steps, n_channels)``.

        The 2D output follows :meth:`set_output` (``"pandas"``, ``"polars"``), with the
        columns named by :meth:`get_feature_names_out`. A DataFrame cannot hold 3D values,
        so ``transform_shape="3d"`` with a container other than ``"default"`` raises a
        ``ValueError`` rather than silently returning an ndarray.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels]), DataFrame or list
            Series, in any layout :meth:`fit` accepts.

        Returns
        -------
        ndarray or DataFrame
            2D (default) or 3D; dtype follows ``precision``.
        """
        return apply_transform(self, X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the columns of 2D :meth:`transform` output, by timestamp and channel.

        Timestamps are named by ``feature_names_in_`` when the model was fitted on a wide
        DataFrame, else ``t<index>``; with several channels ``_c<channel>`` is appended.

        Parameters
        ----------
        input_features : array-like of str, optional
            One name per fitted timestamp, used instead of ``feature_names_in_`` /
            ``t<index>``; a list of another length raises ``ValueError``.

        Returns
        -------
        ndarray of str objects
            ``transform_mode="global"``: the names of ``selected_timestamps_``;
            ``"per_sample"``: the names of every timestamp. With several channels, one name
            per timestamp and channel, channels varying fastest.
        """
        return feature_names_out(self, input_features)

    # ------------------------------------------------------------------ explanation
    def counterfactual(self, X, target=None, method="optimize", n_samples=1, **kwargs):
        """Search the smallest edit of the influential steps that changes the prediction.

        See :func:`tsinfluence.counterfactual.generate_counterfactuals` for the methods and
        options; the fitted estimator is never changed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels])
            Series to explain (trailing-NaN padding allowed, never edited).
        target : label, value, array of shape (n_samples,) or None, default=None
            Classifier: the class to reach (default: each series' most likely other class).
            Regressor: the value to reach (default: see ``shift`` in
            :func:`~tsinfluence.counterfactual.generate_counterfactuals`).
        method : {"optimize", "nearest", "perturbation", "replacement", "removal"}, \
default="optimize"
            The search; see :func:`~tsinfluence.counterfactual.generate_counterfactuals`.
        n_samples : int, default=1
            Counterfactuals per series.
        **kwargs
            Keyword options of
            :func:`~tsinfluence.counterfactual.generate_counterfactuals` (``shift``,
            ``tolerance``, ``edit``, ``bounds``, ``metric``, ``max_iter``,
            ``random_state``, ...).

        Returns
        -------
        CounterfactualResult
            The counterfactual series, their predictions, validity and edited steps.
        """
        from ..counterfactual import generate_counterfactuals

        return generate_counterfactuals(
            self, X, target=target, method=method, n_samples=n_samples, **kwargs
        )
