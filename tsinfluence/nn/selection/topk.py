"""Deterministic top-k selection with a straight-through relaxed gradient."""

from __future__ import annotations

import torch

from .base import NEG_INF, SelectionStrategy, hard_topk, relaxed_topk, resolve_k, straight_through

__all__ = ["TopKSelection"]


class TopKSelection(SelectionStrategy):
    """Select the ``k`` highest-scoring steps of every series.

    The forward value is the exact k-hot mask; the backward pass uses the gradient of the
    deterministic successive-softmax relaxation of top-k (:func:`relaxed_topk`), so every
    valid step, selected or not, receives gradient (straight-through estimator).

    Parameters
    ----------
    k : int, float or None
        Steps to select; a float is a fraction of each series' valid length.
    temperature : float, default=1.0
        Temperature of the relaxation (smaller is sharper).
    """

    def forward(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Select the ``k`` highest (perturbed) scores of every series.

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step scores (logits); ``-inf`` marks a step that cannot be selected.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which are never selected.

        Returns
        -------
        torch.Tensor of shape (n, T)
            k-hot float mask (exact 0/1 values, ``k`` resolved per series by
            :func:`resolve_k` on its valid length); the gradient is that of
            :func:`relaxed_topk`.
        """
        valid = self.valid_steps(scores, padding_mask)
        logits = self.perturb(scores.masked_fill(~valid, NEG_INF))
        ks = resolve_k(self.k, valid)
        hard = hard_topk(logits.detach(), ks)
        soft = relaxed_topk(logits, ks, self.temperature)
        return straight_through(hard, soft)

    def perturb(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits the selection is taken from; unchanged for the deterministic top-k.

        Subclasses override this hook to sample (see :class:`GumbelTopKSelection`).

        Parameters
        ----------
        logits : torch.Tensor of shape (n, T)
            Scores with ``-inf`` at invalid steps.

        Returns
        -------
        torch.Tensor of shape (n, T)
            ``logits`` itself.
        """
        return logits
