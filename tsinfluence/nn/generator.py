"""CounterfactualGenerator: edit selected (or unselected) timestamps of a series.

This is the seed's torch module. Its edits are model-free (they do not look at any
predictor); :mod:`tsinfluence.counterfactual` searches for edits that actually change a
prediction.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["INTERVENTION_TYPES", "CounterfactualGenerator"]

INTERVENTION_TYPES = (
    "modify_selected",
    "modify_unselected",
    "remove_selected",
    "remove_unselected",
)
GENERATION_METHODS = ("perturbation", "replacement", "removal")


class CounterfactualGenerator(nn.Module):
    """Generate counterfactual series by intervening on a set of timestamps.

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    hidden_dim : int, default=128
        Width of the network proposing replacement values / perturbation directions.
    generation_method : {"perturbation", "replacement", "removal"}, default="perturbation"
        ``"perturbation"`` adds ``perturbation_scale`` times the per-channel standard
        deviation times a direction (network output plus noise); ``"replacement"`` replaces
        the edited steps by the network's proposal; ``"removal"`` replaces them by the
        series' per-channel mean over its valid steps.
    perturbation_scale : float, default=0.1
        Size of perturbations relative to each channel's standard deviation.

    Notes
    -----
    The proposal network is untrained unless you train it; with an untrained network,
    ``"perturbation"`` and ``"replacement"`` are random edits. Use
    ``est.counterfactual(...)`` for edits searched against a predictor.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 128,
        generation_method: str = "perturbation",
        perturbation_scale: float = 0.1,
    ) -> None:
        super().__init__()
        if generation_method not in GENERATION_METHODS:
            raise ValueError(
                f"generation_method must be one of {GENERATION_METHODS}, got {generation_method!r}."
            )
        if perturbation_scale < 0:
            raise ValueError(f"perturbation_scale must be >= 0, got {perturbation_scale}.")
        self.generation_method = generation_method
        self.perturbation_scale = perturbation_scale
        self.proposal = nn.Sequential(
            nn.Linear(2 * input_dim + 1, hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, input_dim),
        )

    @staticmethod
    def edited_steps(mask: torch.Tensor, intervention_type: str) -> torch.Tensor:
        """The ``(n, T)`` float mask of steps an intervention changes."""
        if intervention_type not in INTERVENTION_TYPES:
            raise ValueError(
                f"intervention_type must be one of {INTERVENTION_TYPES}, got {intervention_type!r}."
            )
        hard = (mask > 0.5).to(mask.dtype)
        return hard if intervention_type.endswith("_selected") else 1.0 - hard

    @staticmethod
    def _stats(x: torch.Tensor, padding_mask: torch.Tensor | None):
        valid = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
        if padding_mask is not None:
            valid = valid * (~padding_mask)
        w = valid.unsqueeze(-1)
        count = w.sum(1, keepdim=True).clamp(min=1)
        mean = (x * w).sum(1, keepdim=True) / count
        std = (((x - mean) ** 2 * w).sum(1, keepdim=True) / count).sqrt()
        return mean, std.clamp(min=1e-6)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        intervention_type: str = "modify_selected",
        padding_mask: torch.Tensor | None = None,
        noise_scale: float = 0.0,
    ) -> torch.Tensor:
        """Return a counterfactual of ``x`` (same shape) edited on the intervention's steps.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
        mask : torch.Tensor of shape (n, T)
            Selection mask (values above 0.5 count as selected).
        intervention_type : str, default="modify_selected"
            One of ``modify_selected``, ``modify_unselected``, ``remove_selected``,
            ``remove_unselected``; ``remove_*`` always uses removal.
        padding_mask : torch.Tensor of shape (n, T), optional
            True marks padding, which is never edited.
        noise_scale : float, default=0.0
            Extra Gaussian noise (relative to channel std) for sampling several
            counterfactuals.
        """
        edited = self.edited_steps(mask, intervention_type)
        if padding_mask is not None:
            edited = edited * (~padding_mask)
        mean, std = self._stats(x, padding_mask)
        method = "removal" if intervention_type.startswith("remove") else self.generation_method
        if method == "removal":
            new = mean.expand_as(x)
        else:
            context = torch.cat([x, mean.expand_as(x), edited.unsqueeze(-1)], dim=-1)
            proposal = self.proposal(context)
            if method == "perturbation":
                direction = torch.tanh(proposal) + noise_scale * torch.randn_like(x)
                new = x + self.perturbation_scale * std * direction
            else:
                new = mean + std * proposal + noise_scale * std * torch.randn_like(x)
        e = edited.unsqueeze(-1)
        return x * (1 - e) + new * e

    def generate_multiple_counterfactuals(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        num_samples: int = 5,
        noise_scale: float = 0.1,
        intervention_type: str = "modify_selected",
        padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample ``num_samples`` counterfactuals; returns ``(num_samples, n, T, D)``."""
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}.")
        return torch.stack(
            [
                self(x, mask, intervention_type, padding_mask, noise_scale=noise_scale)
                for _ in range(num_samples)
            ]
        )

    @staticmethod
    def compute_counterfactual_distance(
        x: torch.Tensor,
        cf: torch.Tensor,
        mask: torch.Tensor | None = None,
        metric: str = "l2",
    ) -> torch.Tensor:
        """Distance ``(n,)`` between series and counterfactuals, optionally on masked steps.

        Parameters
        ----------
        x, cf : torch.Tensor of shape (n, T, D)
        mask : torch.Tensor of shape (n, T), optional
            Only these steps count.
        metric : {"l1", "l2", "cosine", "dtw"}, default="l2"
            ``"dtw"`` is dynamic time warping with Euclidean step cost (O(T^2) per series).
        """
        if mask is not None:
            m = mask.unsqueeze(-1).to(x.dtype)
            x, cf = x * m, cf * m
        diff = (x - cf).flatten(1)
        if metric == "l1":
            return diff.abs().sum(1)
        if metric == "l2":
            return diff.pow(2).sum(1).sqrt()
        if metric == "cosine":
            return 1.0 - torch.nn.functional.cosine_similarity(x.flatten(1), cf.flatten(1), dim=1)
        if metric == "dtw":
            return _dtw(x, cf)
        raise ValueError(f"metric must be 'l1', 'l2', 'cosine' or 'dtw', got {metric!r}.")


def _dtw(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched dynamic time warping distance between ``(n, T, D)`` tensors."""
    cost = torch.cdist(a, b)  # (n, T, T)
    n, length, _ = cost.shape
    inf = torch.full((n,), float("inf"), dtype=cost.dtype, device=cost.device)
    prev = torch.cumsum(cost[:, 0, :], dim=1)
    for i in range(1, length):
        row = [prev[:, 0] + cost[:, i, 0]]
        for j in range(1, length):
            best = torch.minimum(torch.minimum(prev[:, j], prev[:, j - 1]), row[-1])
            row.append(best + cost[:, i, j])
        prev = torch.stack(row, dim=1)
    return torch.where(torch.isfinite(prev[:, -1]), prev[:, -1], inf)
