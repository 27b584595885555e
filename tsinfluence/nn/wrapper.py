"""The seed's model-agnostic API: a selector in front of any PyTorch model."""

from __future__ import annotations

import torch
from torch import nn

from .adapters import MaskBaseline, apply_mask
from .framework import InfluenceFramework
from .objectives import fidelity_loss

__all__ = ["ModelAgnosticWrapper", "create_simple_framework"]


class ModelAgnosticWrapper(nn.Module):
    """Put a :class:`InfluenceFramework`'s selector in front of any PyTorch model.

    Parameters
    ----------
    base_model : torch.nn.Module
        Maps ``(n, T, D)`` to predictions.
    framework : InfluenceFramework
        Provides the selector and the loss.
    use_selected_only : bool, default=True
        If True the model sees the selected steps (the others replaced by ``baseline``,
        gradient reaching the mask); if False it sees the full series (the selection is
        then only reported).
    freeze_base_model : bool, default=False
        Black-box mode: :meth:`train_step` trains only the selector (and a learned
        ``baseline``), so that the model's output on the selected steps matches its output
        on the full series (:func:`fidelity_loss`; ``y`` is not used). The model's
        parameters, ``requires_grad`` flags and train/eval mode are left as they were;
        pass an optimizer over ``wrapper.trainable_parameters()``.
    baseline : MaskBaseline or torch.Tensor, optional
        Fill of the unselected steps; zeros by default.
    """

    def __init__(
        self,
        base_model: nn.Module,
        framework: InfluenceFramework,
        use_selected_only: bool = True,
        freeze_base_model: bool = False,
        baseline: MaskBaseline | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.base_model = base_model
        self.framework = framework
        self.use_selected_only = use_selected_only
        self.freeze_base_model = freeze_base_model
        self.baseline = baseline

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters :meth:`train_step` updates, to give to its optimizer.

        Returns
        -------
        list of torch.nn.Parameter
            With ``freeze_base_model``: the selector's parameters and those of a learned
            ``baseline`` module; otherwise every parameter of the wrapper (base model and
            framework).
        """
        if not self.freeze_base_model:
            return list(self.parameters())
        params = list(self.framework.selector.parameters())
        if isinstance(self.baseline, nn.Module):
            params += list(self.baseline.parameters())
        return params

    def forward(
        self,
        x: torch.Tensor,
        return_selection: bool = False,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Select steps with the framework's selector, then predict with the base model.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series.
        return_selection : bool, default=False
            Also return the mask and the masked input.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which are never selected.

        Returns
        -------
        prediction : torch.Tensor
            The base model's output on the masked input (``use_selected_only=True``) or on
            ``x`` itself.
        mask : torch.Tensor of shape (n, T)
            The selection; only when ``return_selection=True``.
        selected : torch.Tensor of shape (n, T, D)
            ``x`` on the selected steps, ``baseline`` (default 0) elsewhere; only when
            ``return_selection=True``.
        """
        mask = self.framework.selector(x, padding_mask)
        selected = apply_mask(x, mask, self.baseline)
        prediction = self.base_model(selected if self.use_selected_only else x)
        if return_selection:
            return prediction, mask, selected
        return prediction

    def train_step(
        self, x: torch.Tensor, y: torch.Tensor | None, optimizer: torch.optim.Optimizer
    ) -> dict[str, float]:
        """One optimisation step on ``(x, y)``; returns the loss components as floats.

        In black-box mode ``y`` may be None and the base model is not updated (its
        gradients are not even computed).

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            A batch of series (no padding).
        y : torch.Tensor of shape (n,) or None
            Targets for the framework's task loss; not used (may be None) with
            ``freeze_base_model``, where the loss is :func:`fidelity_loss` to the model's
            full-series output.
        optimizer : torch.optim.Optimizer
            Optimizer over :meth:`trainable_parameters` (or a subset of them).

        Returns
        -------
        dict of str to float
            ``task``, ``diversity``, ``mi``, ``budget`` and ``total`` (black-box mode:
            ``task``, ``budget`` and ``total``).
        """
        if not self.freeze_base_model:
            self.train()
            optimizer.zero_grad()
            mask, scores = self.framework.selector(x, return_scores=True)
            selected = apply_mask(x, mask, self.baseline)
            prediction = self.base_model(selected if self.use_selected_only else x)
            budget = self.framework.selector.budget_loss(scores)
            total, parts = self.framework.loss_fn(
                prediction, y, features=x, mask=mask, budget=budget
            )
            total.backward()
            optimizer.step()
            return {name: float(value) for name, value in parts.items()}
        was_training = self.base_model.training
        flags = [p.requires_grad for p in self.base_model.parameters()]
        try:
            self.base_model.eval()
            for p in self.base_model.parameters():
                p.requires_grad_(False)
            self.framework.selector.train()
            if isinstance(self.baseline, nn.Module):
                self.baseline.train()
            optimizer.zero_grad()
            with torch.no_grad():
                reference = _as_2d(self.base_model(x))
            dense = self.framework.dense_fraction > 0
            mask, scores = self.framework._select(x, None, dense)
            prediction = _as_2d(self.base_model(apply_mask(x, mask, self.baseline)))
            task = fidelity_loss(prediction, reference, self.framework.task)
            budget = self.framework.selector.budget_loss(scores)
            total = task + budget
            total.backward()
            optimizer.step()
        finally:
            for p, flag in zip(self.base_model.parameters(), flags, strict=True):
                p.requires_grad_(flag)
            self.base_model.train(was_training)
        parts = {"task": task, "budget": budget, "total": total}
        return {name: float(value.detach()) for name, value in parts.items()}


def _as_2d(out: torch.Tensor | tuple) -> torch.Tensor:
    if isinstance(out, tuple):
        out = out[0]
    return out.unsqueeze(-1) if out.dim() == 1 else out


def create_simple_framework(
    input_dim: int,
    k: int | float | None = 10,
    hidden_dim: int = 64,
    task: str = "regression",
    num_classes: int = 2,
    selection_method: str = "topk",
) -> InfluenceFramework:
    """A ready-made :class:`InfluenceFramework` with sensible defaults.

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    k : int, float or None, default=10
        Steps to select.
    hidden_dim : int, default=64
        Width of scorer and predictor.
    task : {"regression", "classification"}, default="regression"
        Task (sets the loss and the number of outputs).
    num_classes : int, default=2
        Outputs for classification.
    selection_method : {"topk", "gumbel", "threshold"}, default="topk"
        Selection strategy.

    Returns
    -------
    InfluenceFramework
        Untrained, with the attention scorer and predictor, ``output_dim`` 1 (regression)
        or ``num_classes``, and 4 attention heads (1 when ``hidden_dim`` is not a multiple
        of 4).
    """
    return InfluenceFramework(
        input_dim,
        hidden_dim=hidden_dim,
        selection_method=selection_method,
        k=k,
        task=task,
        output_dim=num_classes if task == "classification" else 1,
        num_heads=4 if hidden_dim % 4 == 0 else 1,
    )
