"""InfluenceFramework (selector + predictor + loss) and the model-agnostic wrapper."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .generator import CounterfactualGenerator
from .heads import AttentionPoolingHead, MLPHead, ModuleAdapter, apply_mask
from .losses import CombinedLoss
from .selection import resolve_k
from .selection.base import hard_topk
from .selector import TimestampSelector

__all__ = [
    "PHASES",
    "InfluenceFramework",
    "ModelAgnosticWrapper",
    "create_simple_framework",
    "random_subset_masks",
]

#: Training phases of :class:`InfluenceFramework`.
#: ``"joint"`` trains selector and predictor together; ``"evaluator"`` trains the predictor
#: on random masks drawn independently of the data (REAL-X's evaluator); ``"selector"``
#: trains the selector against a frozen predictor.
PHASES = ("joint", "evaluator", "selector")


def random_subset_masks(
    valid: torch.Tensor, k: int | float | None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random selection masks independent of the data (for training an evaluator).

    Half of the rows get a size drawn uniformly from ``1..length`` (uniform cardinality),
    the other half a size drawn uniformly from ``1..min(2k, length)`` (sizes near the
    selection budget); the steps are then drawn uniformly among the valid ones.

    Parameters
    ----------
    valid : torch.Tensor of shape (n, T), bool
        True at real steps.
    k : int, float or None
        The selection budget (see :func:`resolve_k`).
    generator : torch.Generator, optional
        Random generator.

    Returns
    -------
    torch.Tensor of shape (n, T), float
    """
    n = valid.shape[0]
    device = valid.device
    lengths = valid.sum(1).clamp(min=1)
    budget = torch.minimum(2 * resolve_k(k, valid), lengths)
    upper = torch.where(torch.rand(n, generator=generator, device=device) < 0.5, lengths, budget)
    sizes = 1 + (torch.rand(n, generator=generator, device=device) * upper).long()
    sizes = torch.minimum(sizes, lengths)
    noise = torch.rand(valid.shape, generator=generator, device=device)
    return hard_topk(noise.masked_fill(~valid, float("-inf")), sizes)


def build_predictor(
    predictor: str | nn.Module,
    input_dim: int,
    output_dim: int,
    hidden_dim: int,
    dropout: float,
    positional_encoding: str | None,
    max_len: int,
    max_k: int,
) -> nn.Module:
    """Build a predictor head by name, or adapt a user ``nn.Module``."""
    if isinstance(predictor, nn.Module):
        if hasattr(predictor, "forward") and _takes_mask(predictor):
            return predictor
        return ModuleAdapter(predictor)
    if predictor == "attention":
        return AttentionPoolingHead(
            input_dim, output_dim, hidden_dim, dropout, positional_encoding, max_len
        )
    if predictor == "mlp":
        return MLPHead(input_dim, output_dim, max_k, hidden_dim, dropout)
    raise ValueError(
        f"predictor must be 'attention', 'mlp' or a torch.nn.Module, got {predictor!r}."
    )


def _takes_mask(module: nn.Module) -> bool:
    return isinstance(module, AttentionPoolingHead | MLPHead | ModuleAdapter)


class InfluenceFramework(nn.Module):
    """Selector, predictor and loss in one module.

    ``forward(x, padding_mask)`` returns ``(prediction, mask, scores)``: the predictor sees
    only the selected steps.

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    hidden_dim : int, default=128
        Width of scorer and predictor.
    selection_method : {"topk", "gumbel", "threshold"}, default="topk"
        Selection strategy.
    k : int, float or None, default=None
        Steps to select (``None``: a quarter of each series).
    task_loss_fn : callable, optional
        Task loss; ``MSELoss`` for regression, ``CrossEntropyLoss`` for classification.
    use_counterfactual : bool, default=True
        Attach a :class:`CounterfactualGenerator` as ``counterfactual_generator``.
    output_dim : int, default=1
        Predictor outputs (classes for classification).
    task : {"regression", "classification"}, default="regression"
        Chooses the default task loss.
    num_heads, num_layers, temperature, dropout, positional_encoding, causal, threshold
        Passed to :class:`TimestampSelector`.
    predictor : {"attention", "mlp"} or torch.nn.Module, default="attention"
        The predictor head; a user module receives the masked ``(n, T, D)`` series.
    alpha_diversity, alpha_mi, use_mi, sigma
        Passed to :class:`CombinedLoss`.
    max_len : int, default=4096
        Longest series (learned positional encodings, MLP head size).

    Attributes
    ----------
    phase : str
        One of :data:`PHASES`; ``"joint"`` by default.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 128,
        selection_method: str = "topk",
        k: int | float | None = None,
        task_loss_fn: Callable | None = None,
        use_counterfactual: bool = True,
        output_dim: int = 1,
        task: str = "regression",
        num_heads: int = 4,
        num_layers: int = 1,
        temperature: float = 1.0,
        dropout: float = 0.1,
        positional_encoding: str | None = "sinusoidal",
        causal: bool = False,
        threshold: float = 0.5,
        predictor: str | nn.Module = "attention",
        alpha_diversity: float = 0.1,
        alpha_mi: float = 0.05,
        use_mi: bool = False,
        sigma: float = 1.0,
        max_len: int = 4096,
    ) -> None:
        super().__init__()
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")
        self.task = task
        self.phase = "joint"
        self.selector = TimestampSelector(
            input_dim,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            selection_method=selection_method,
            k=k,
            temperature=temperature,
            dropout=dropout,
            num_layers=num_layers,
            positional_encoding=positional_encoding,
            causal=causal,
            threshold=threshold,
            max_len=max_len,
        )
        max_k = int(self.selector.k) if isinstance(self.selector.k, int) else max_len
        self.predictor = build_predictor(
            predictor,
            input_dim,
            output_dim,
            hidden_dim,
            dropout,
            positional_encoding,
            max_len,
            max(1, min(max_k, max_len)),
        )
        if task_loss_fn is None:
            task_loss_fn = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
        self.loss_fn = CombinedLoss(
            task_loss_fn,
            alpha_diversity=alpha_diversity,
            alpha_mi=alpha_mi,
            use_mi=use_mi,
            sigma=sigma,
            input_dim=input_dim,
        )
        self.counterfactual_generator = (
            CounterfactualGenerator(input_dim, hidden_dim) if use_counterfactual else None
        )

    def set_phase(self, phase: str) -> None:
        """Switch training phase; in ``"selector"`` the predictor is frozen and in eval mode."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}.")
        self.phase = phase
        for p in self.predictor.parameters():
            p.requires_grad_(phase != "selector")
        for p in self.selector.parameters():
            p.requires_grad_(phase != "evaluator")

    def train(self, mode: bool = True) -> InfluenceFramework:
        """Set train/eval mode; a frozen predictor stays in eval mode (no dropout)."""
        super().train(mode)
        if self.phase == "selector":
            self.predictor.eval()
        return self

    def predict_masked(
        self, x: torch.Tensor, mask: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the predictor on the steps ``mask`` keeps; ``(output, weights or None)``."""
        return self.predictor(x, mask, padding_mask)

    def forward(
        self, x: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Select, then predict from the selection.

        In training mode during the ``"evaluator"`` phase, the predictor sees random masks
        independent of the data instead of the selector's (the returned mask is that random
        mask).

        Returns
        -------
        prediction : torch.Tensor of shape (n, output_dim)
        mask : torch.Tensor of shape (n, T)
        scores : torch.Tensor of shape (n, T)
        """
        if self.training and self.phase == "evaluator":
            valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
            if padding_mask is not None:
                valid = ~padding_mask
            mask = random_subset_masks(valid, self.selector.k).to(x.dtype)
            scores = torch.zeros_like(mask).masked_fill(~valid, float("-inf"))
        else:
            mask, scores = self.selector(x, padding_mask, return_scores=True)
        prediction, _ = self.predict_masked(x, mask, padding_mask)
        return prediction, mask, scores

    def influence(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-step influence ``(n, T)``: softmax of the selector's scores over valid steps.

        Each row sums to one; padded steps are exactly zero.
        """
        scores = self.selector.scorer(x, padding_mask)
        return torch.softmax(scores, dim=1)

    def compute_loss(
        self,
        outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its components for the outputs of :meth:`forward`."""
        prediction, mask, scores = outputs
        if self.phase == "evaluator":
            return self.loss_fn(prediction, y)
        budget = self.selector.budget_loss(scores, padding_mask)
        return self.loss_fn(
            prediction, y, features=x, mask=mask, padding_mask=padding_mask, budget=budget
        )


class ModelAgnosticWrapper(nn.Module):
    """Put a :class:`InfluenceFramework`'s selector in front of any PyTorch model.

    Parameters
    ----------
    base_model : torch.nn.Module
        Maps ``(n, T, D)`` to predictions.
    framework : InfluenceFramework
        Provides the selector and the loss.
    use_selected_only : bool, default=True
        If True the model sees ``x * mask`` (unselected steps zeroed, gradient reaching the
        mask); if False it sees the full series (the selection is then only reported).
    """

    def __init__(
        self, base_model: nn.Module, framework: InfluenceFramework, use_selected_only: bool = True
    ) -> None:
        super().__init__()
        self.base_model = base_model
        self.framework = framework
        self.use_selected_only = use_selected_only

    def forward(
        self,
        x: torch.Tensor,
        return_selection: bool = False,
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predict; with ``return_selection`` also return ``mask (n, T)`` and ``x * mask``."""
        mask = self.framework.selector(x, padding_mask)
        selected = apply_mask(x, mask)
        prediction = self.base_model(selected if self.use_selected_only else x)
        if return_selection:
            return prediction, mask, selected
        return prediction

    def train_step(
        self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer
    ) -> dict[str, float]:
        """One optimisation step on ``(x, y)``; returns the loss components as floats."""
        self.train()
        optimizer.zero_grad()
        mask, scores = self.framework.selector(x, return_scores=True)
        prediction = self.base_model(apply_mask(x, mask) if self.use_selected_only else x)
        budget = self.framework.selector.budget_loss(scores)
        total, parts = self.framework.loss_fn(prediction, y, features=x, mask=mask, budget=budget)
        total.backward()
        optimizer.step()
        return {name: float(value) for name, value in parts.items()}


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
