"""Exact-k stochastic subset selection: Gumbel top-k with a relaxed gradient."""

from __future__ import annotations

import torch

from .topk import TopKSelection

__all__ = ["GumbelTopKSelection"]


class GumbelTopKSelection(TopKSelection):
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
        """Change the relaxation temperature (for annealing schedules).

        Parameters
        ----------
        temperature : float
            New temperature, > 0.

        Raises
        ------
        ValueError
            If ``temperature <= 0``.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}.")
        self.temperature = float(temperature)

    def perturb(self, logits: torch.Tensor) -> torch.Tensor:
        """Add Gumbel noise in training (a subset sample); none in eval (the top-k).

        Parameters
        ----------
        logits : torch.Tensor of shape (n, T)
            Scores with ``-inf`` at invalid steps (they stay ``-inf``).

        Returns
        -------
        torch.Tensor of shape (n, T)
            In training mode, ``logits + g`` with ``g`` i.i.d. standard Gumbel noise, so the
            top-k of the result is a sample of a subset without replacement; in eval mode,
            ``logits`` unchanged.
        """
        if not self.training:
            return logits
        u = torch.rand_like(logits).clamp(1e-10, 1.0 - 1e-10)
        return logits - torch.log(-torch.log(u))
