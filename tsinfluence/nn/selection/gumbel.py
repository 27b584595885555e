"""Exact-k stochastic subset selection: Gumbel top-k with a relaxed gradient."""

from __future__ import annotations

import torch

from .base import NEG_INF, SelectionStrategy, hard_topk, relaxed_topk, resolve_k, straight_through

__all__ = ["GumbelTopKSelection"]


class GumbelTopKSelection(SelectionStrategy):
    """Sample a subset of exactly ``k`` steps (Gumbel top-k), relaxed by successive softmax.

    In training mode the scores are perturbed with Gumbel noise; the forward value is the
    exact k-hot mask of the perturbed scores and the gradient is that of the relaxed subset
    sample of Xie & Ermon (2019). In eval mode no noise is added, so the selection is the
    deterministic top-k. The temperature can be annealed with :meth:`set_temperature`.

    Parameters
    ----------
    k : int, float or None
        Steps to select.
    temperature : float, default=1.0
        Relaxation temperature.
    """

    def set_temperature(self, temperature: float) -> None:
        """Change the relaxation temperature (for annealing schedules)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}.")
        self.temperature = float(temperature)

    def forward(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return a k-hot mask ``(n, T)`` sampled in training, deterministic in eval."""
        valid = self.valid_steps(scores, padding_mask)
        logits = scores.masked_fill(~valid, NEG_INF)
        ks = resolve_k(self.k, valid)
        if self.training:
            u = torch.rand_like(logits).clamp(1e-10, 1.0 - 1e-10)
            logits = logits - torch.log(-torch.log(u))
        hard = hard_topk(logits.detach(), ks)
        soft = relaxed_topk(logits, ks, self.temperature)
        return straight_through(hard, soft)
