"""Threshold selection: independent sigmoid gates with a target selection rate."""

from __future__ import annotations

import torch

from .base import SelectionStrategy, straight_through

__all__ = ["ThresholdSelection"]


class ThresholdSelection(SelectionStrategy):
    """Keep every step whose gate ``sigmoid(score / temperature)`` exceeds ``threshold``.

    The forward value is the hard 0/1 gate, the gradient that of the sigmoid
    (straight-through). The number of selected steps varies per series; :meth:`budget_loss`
    pulls the mean gate towards the target rate ``k / length`` (or ``k`` itself when it is a
    fraction). At least one step is always selected: a series with no gate above the
    threshold keeps its highest-scoring step.

    Parameters
    ----------
    k : int, float or None
        Target number (int) or fraction (float) of selected steps; ``None`` means no budget.
    temperature : float, default=1.0
        Sigmoid temperature.
    threshold : float, default=0.5
        Gate value above which a step is selected, in (0, 1).
    """

    def __init__(
        self, k: int | float | None = None, temperature: float = 1.0, threshold: float = 0.5
    ) -> None:
        super().__init__(k=k, temperature=temperature)
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}.")
        self.threshold = threshold

    def _gates(self, scores, padding_mask):
        valid = self.valid_steps(scores, padding_mask)
        gates = torch.sigmoid(scores.masked_fill(~valid, -1e4) / self.temperature)
        return gates * valid, valid

    def forward(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Keep the steps whose gate exceeds ``threshold``.

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step scores (logits); ``-inf`` marks a step that cannot be selected.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which are never selected.

        Returns
        -------
        torch.Tensor of shape (n, T)
            Float mask, exact 0/1 values (at least one selected step per series); the
            gradient is that of the sigmoid gates.
        """
        gates, valid = self._gates(scores, padding_mask)
        hard = (gates > self.threshold) & valid
        best = scores.masked_fill(~valid, float("-inf")).argmax(dim=1)
        empty = ~hard.any(dim=1)
        hard[empty, best[empty]] = True
        hard = hard.to(scores.dtype)
        return straight_through(hard, gates)

    def budget_loss(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Squared gap between each series' mean gate and its target rate, averaged.

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step scores (logits); ``-inf`` marks a step that cannot be selected.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, left out of the rate and the length.

        Returns
        -------
        torch.Tensor
            Scalar ``mean((rate - target) ** 2)`` over series, where ``rate`` is the mean
            gate over the valid steps and ``target`` is ``k / length`` (capped at 1) for an
            int ``k`` or ``k`` itself for a float; 0 when ``k`` is None.
        """
        if self.k is None:
            return scores.new_zeros(())
        gates, valid = self._gates(scores, padding_mask)
        lengths = valid.sum(dim=1).clamp(min=1).to(scores.dtype)
        if isinstance(self.k, float):
            target = torch.full_like(lengths, self.k)
        else:
            target = (self.k / lengths).clamp(max=1.0)
        rate = gates.sum(dim=1) / lengths
        return ((rate - target) ** 2).mean()

    def extra_repr(self) -> str:
        """The settings shown in the module's ``repr``.

        Returns
        -------
        str
            ``k``, ``temperature`` and ``threshold``.
        """
        return f"{super().extra_repr()}, threshold={self.threshold}"
