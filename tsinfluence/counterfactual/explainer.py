"""CounterfactualExplainer: intervention effects and occlusion attributions, batched."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..nn.generator import INTERVENTION_TYPES, CounterfactualGenerator
from ._search import eval_mode

__all__ = ["CounterfactualExplainer"]


class CounterfactualExplainer:
    """Explain predictions by intervening on selected timestamps.

    Two ways to build it:

    - seed style, ``CounterfactualExplainer(generator, model)``: a
      :class:`~tsinfluence.nn.CounterfactualGenerator` makes the interventions and
      ``model`` is any ``torch.nn.Module`` (or callable) mapping ``x (n, T, D)`` to
      predictions ``(n, C)`` (classification: logits or probabilities) or ``(n,)`` /
      ``(n, 1)`` (regression); inputs and outputs are tensors;
    - ``CounterfactualExplainer(estimator)``: a fitted ``InfluenceClassifier`` or
      ``InfluenceRegressor``; the model is its whole inference path (the selector re-selects
      on every edited series), inputs are array-like like ``estimator.predict``'s, outputs
      are NumPy arrays, and ``mask`` defaults to ``estimator.select(x)``. ``modify_*``
      interventions use a seeded perturbation generator, ``remove_*`` the channel means.
      For edits searched against the model use :meth:`counterfactual`.

    Parameters
    ----------
    generator_or_estimator : CounterfactualGenerator or fitted estimator
        See above.
    model : torch.nn.Module or callable, optional
        Required with a generator; must be omitted with an estimator.
    task : {"auto", "classification", "regression"}, default="auto"
        How outputs are read; ``"auto"``: the estimator's task, else classification when
        the model returns two or more columns.
    batch_size : int, default=512
        Series per forward pass (occlusion copies are chunked to this size).
    random_state : int, default=0
        Seed of the perturbation generator built in estimator mode.

    Examples
    --------
    >>> import torch
    >>> from tsinfluence.counterfactual import CounterfactualExplainer, CounterfactualGenerator
    >>> generator = CounterfactualGenerator(input_dim=3, generation_method="removal")
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8 * 3, 2))
    >>> x, mask = torch.randn(4, 8, 3), torch.zeros(4, 8)
    >>> mask[:, :2] = 1
    >>> explainer = CounterfactualExplainer(generator, model)
    >>> explanation = explainer.explain_prediction(x, mask, ["modify_selected", "remove_selected"])
    >>> explainer.compute_attribution_scores(x, mask).shape
    torch.Size([4, 8])
    """

    def __init__(
        self,
        generator_or_estimator,
        model: nn.Module | None = None,
        task: str = "auto",
        batch_size: int = 512,
        random_state: int = 0,
    ) -> None:
        if task not in ("auto", "classification", "regression"):
            raise ValueError(
                f"task must be 'auto', 'classification' or 'regression', got {task!r}."
            )
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
        self.task = task
        self.batch_size = batch_size
        self.estimator = self.fitted = None
        if hasattr(generator_or_estimator, "_fitted_model"):  # a tsinfluence estimator
            if model is not None:
                raise ValueError("Pass model only with a generator, not with an estimator.")
            est = generator_or_estimator
            if not hasattr(est, "net_"):
                raise ValueError(f"The {type(est).__name__} is not fitted yet; call fit first.")
            self.estimator, self.fitted = est, est._fitted_model()
            self.task = self.fitted.task if task == "auto" else task
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(random_state)
                generator = CounterfactualGenerator(
                    self.fitted.n_channels,
                    generation_method="perturbation",
                    perturbation_scale=1.0,
                ).to(self.fitted.dtype)
            self.generator = generator
            self.model = self.fitted.module
        else:
            if not isinstance(generator_or_estimator, CounterfactualGenerator):
                raise TypeError(
                    "generator_or_estimator must be a CounterfactualGenerator or a fitted "
                    f"tsinfluence estimator, got {type(generator_or_estimator).__name__}."
                )
            if model is None or not callable(model):
                raise TypeError("model must be a torch.nn.Module (or callable) x -> prediction.")
            self.generator = generator_or_estimator
            self.model = model

    # ------------------------------------------------------------------ plumbing
    def _inputs(self, x, mask, padding_mask):
        """Return ``(x tensor, mask tensor or None, padding tensor or None, as_numpy)``."""
        if self.fitted is not None:
            X, pad = self.fitted.validate(x)
            tensor = {"dtype": self.fitted.dtype, "device": self.fitted.device}
            xt = torch.as_tensor(X, **tensor)
            padt = torch.as_tensor(pad, device=self.fitted.device)
            if mask is None:
                mask = self.fitted.predict_raw(X, pad)[1]
            mt = torch.as_tensor(np.asarray(mask), **tensor)
            if mt.shape != padt.shape:
                raise ValueError(
                    f"mask must have shape {tuple(padt.shape)}, got {tuple(mt.shape)}."
                )
            return xt, mt * ~padt, padt, True
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            raise ValueError("x must be a torch.Tensor of shape (n, T, D).")
        if mask is not None:
            mask = torch.as_tensor(mask, dtype=x.dtype, device=x.device)
            if mask.shape != x.shape[:2]:
                raise ValueError(
                    f"mask must have shape {tuple(x.shape[:2])}, got {tuple(mask.shape)}."
                )
            if padding_mask is not None:
                mask = mask * ~padding_mask
        return x, mask, padding_mask, False

    def _outputs(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        """Probabilities ``(N, C)`` or values ``(N,)`` of a batch, chunked, without grad."""
        parts = []
        with torch.no_grad():
            for lo in range(0, len(x), self.batch_size):
                xb = x[lo : lo + self.batch_size]
                pb = None if pad is None else pad[lo : lo + self.batch_size]
                if self.fitted is not None:
                    out, _ = self.fitted.forward(xb, pb)
                else:
                    out = self.model(xb)
                    out = out[0] if isinstance(out, tuple) else out
                parts.append(out)
        out = torch.cat(parts)
        task = self.task
        if task == "auto":
            task = "classification" if out.dim() == 2 and out.shape[1] >= 2 else "regression"
            self.task = task
        if task == "regression":
            values = out.reshape(len(out), -1)[:, 0]
            if self.fitted is not None:
                values = values * self.fitted.target_scale + self.fitted.target_mean
            return values
        is_proba = bool((out >= 0).all() and torch.allclose(out.sum(1), torch.ones_like(out[:, 0])))
        return out if is_proba else torch.softmax(out, dim=1)

    def _run(self, x, pad):
        if isinstance(self.model, nn.Module):
            with eval_mode(self.model):
                return self._outputs(x, pad)
        return self._outputs(x, pad)

    # ------------------------------------------------------------------ public API
    def explain_prediction(
        self,
        x,
        mask=None,
        intervention_types: Sequence[str] = ("modify_selected", "remove_selected"),
        padding_mask: torch.Tensor | None = None,
    ) -> dict:
        """Effect of each intervention on the prediction.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D), or array-like in estimator mode
        mask : (n, T) selection mask
            The steps an intervention acts on (``*_selected``) or spares
            (``*_unselected``). Optional in estimator mode (its own selection).
        intervention_types : sequence of str
            Any of ``modify_selected``, ``modify_unselected``, ``remove_selected``,
            ``remove_unselected``.
        padding_mask : torch.Tensor of shape (n, T), optional
            Generator mode only (in estimator mode padding comes from NaN in ``x``).

        Returns
        -------
        dict
            ``"original"``: ``{"output", "prediction"}``; then one entry per intervention
            type with ``"counterfactual"`` (n, T, D), ``"output"`` (probabilities (n, C) or
            values (n,)), ``"prediction"`` (class index or value), ``"effect"`` (n,) (drop
            of the originally predicted class' probability; change of the value for
            regression), ``"changed"`` (n,) bool (the predicted class changed; for
            regression ``|effect| > 1e-3 (1 + |value|)``), ``"distance"`` (n,) (L2) and
            ``"edited"`` (n, T) bool.
        """
        if isinstance(intervention_types, str):
            intervention_types = [intervention_types]
        for kind in intervention_types:
            if kind not in INTERVENTION_TYPES:
                raise ValueError(
                    f"intervention_types must hold values of {INTERVENTION_TYPES}, got {kind!r}."
                )
        xt, mt, pad, as_numpy = self._inputs(x, mask, padding_mask)
        if mt is None:
            raise ValueError("mask is required with a generator (the selection to intervene on).")
        base = self._run(xt, pad)
        classify = base.dim() == 2
        pred = base.argmax(1) if classify else base
        out = {"original": {"output": base, "prediction": pred}}
        with torch.no_grad():
            for kind in intervention_types:
                cf = self.generator(xt, mt, kind, pad)
                o = self._run(cf, pad)
                if classify:
                    p_cf = o.argmax(1)
                    effect = base.gather(1, pred[:, None]).squeeze(1) - o.gather(
                        1, pred[:, None]
                    ).squeeze(1)
                    changed = p_cf != pred
                else:
                    p_cf, effect = o, o - base
                    changed = effect.abs() > 1e-3 * (1 + base.abs())
                edited = self.generator.edited_steps(mt, kind) > 0.5
                if pad is not None:
                    edited = edited & ~pad
                out[kind] = {
                    "counterfactual": cf,
                    "output": o,
                    "prediction": p_cf,
                    "effect": effect,
                    "changed": changed,
                    "distance": (cf - xt).flatten(1).norm(dim=1),
                    "edited": edited,
                }
        return _to_numpy(out) if as_numpy else out

    def compute_attribution_scores(
        self,
        x,
        mask=None,
        padding_mask: torch.Tensor | None = None,
        baseline: str | torch.Tensor = "mean",
    ):
        """Occlusion attribution of every (masked) timestamp, in batched passes.

        For each scored step ``t`` the series is copied with step ``t`` replaced by the
        baseline; all copies of a chunk go through the model in one forward pass. The score
        is ``f(x) - f(x with t occluded)`` where ``f`` is the probability of the originally
        predicted class (classification) or the predicted value (regression).

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D), or array-like in estimator mode
        mask : (n, T), optional
            Steps to score (others get 0); all valid steps by default.
        padding_mask : torch.Tensor of shape (n, T), optional
            Generator mode only; padded steps get 0.
        baseline : {"mean", "zero"} or torch.Tensor, default="mean"
            Replacement value: the series' per-channel mean over its valid steps, zero, or
            a tensor broadcastable to ``(n, T, D)``.

        Returns
        -------
        torch.Tensor or ndarray of shape (n, T)
        """
        xt, mt, pad, as_numpy = self._inputs(x, mask, padding_mask)
        n, T, D = xt.shape
        if isinstance(baseline, torch.Tensor):
            fill = baseline.to(xt).expand_as(xt)
        elif baseline == "zero":
            fill = torch.zeros_like(xt)
        elif baseline == "mean":
            mean, _ = CounterfactualGenerator._stats(xt, pad)
            fill = mean.expand_as(xt)
        else:
            raise ValueError(f"baseline must be 'mean', 'zero' or a tensor, got {baseline!r}.")
        score_steps = torch.ones(n, T, dtype=torch.bool, device=xt.device)
        if mt is not None:
            score_steps &= mt > 0.5
        if pad is not None:
            score_steps &= ~pad
        base = self._run(xt, pad)
        classify = base.dim() == 2
        cls = base.argmax(1) if classify else None
        ref = base.gather(1, cls[:, None]).squeeze(1) if classify else base
        rows, steps = score_steps.nonzero(as_tuple=True)
        attribution = torch.zeros(n, T, dtype=xt.dtype, device=xt.device)
        for lo in range(0, len(rows), self.batch_size):
            r, t = rows[lo : lo + self.batch_size], steps[lo : lo + self.batch_size]
            copies = xt[r].clone()
            idx = torch.arange(len(r), device=xt.device)
            copies[idx, t] = fill[r, t]
            o = self._run(copies, None if pad is None else pad[r])
            value = o.gather(1, cls[r][:, None]).squeeze(1) if classify else o
            attribution[r, t] = ref[r] - value
        return attribution.cpu().numpy() if as_numpy else attribution

    def counterfactual(self, X, **kwargs):
        """Counterfactuals searched against the estimator (estimator mode only).

        Delegates to :func:`tsinfluence.counterfactual.generate_counterfactuals`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timestamps[, n_channels])
            Series to explain, in any form the estimator accepts.
        **kwargs
            Options of :func:`~tsinfluence.counterfactual.generate_counterfactuals`
            (``target``, ``method``, ``n_samples``, ...).

        Returns
        -------
        CounterfactualResult
            The counterfactual series, their predictions, validity and edited steps.

        Raises
        ------
        ValueError
            If the explainer was built from a torch model rather than a fitted estimator.
        """
        if self.estimator is None:
            raise ValueError("counterfactual() needs an explainer built from a fitted estimator.")
        from .generate import generate_counterfactuals

        return generate_counterfactuals(self.estimator, X, **kwargs)


def _to_numpy(tree):
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    return tree.detach().cpu().numpy() if isinstance(tree, torch.Tensor) else tree
