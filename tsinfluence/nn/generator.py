"""CounterfactualGenerator: edit selected (or unselected) timestamps of a series.

This is the seed's torch module. Its edits are model-free (they do not look at any
predictor); :mod:`tsinfluence.counterfactual` searches for edits that actually change a
prediction.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GENERATION_METHODS", "INTERVENTION_TYPES", "CounterfactualGenerator", "dtw_distance"]

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
        """The steps an intervention changes, as a float mask.

        Parameters
        ----------
        mask : torch.Tensor of shape (n, T)
            Selection mask; values above 0.5 count as selected.
        intervention_type : str
            One of :data:`INTERVENTION_TYPES`; ``*_selected`` edits the selected steps,
            ``*_unselected`` the others.

        Returns
        -------
        torch.Tensor of shape (n, T)
            1.0 at the edited steps, 0.0 elsewhere, in the dtype of ``mask``. Padding is not
            taken into account here (``forward`` never edits padded steps).

        Raises
        ------
        ValueError
            If ``intervention_type`` is not one of :data:`INTERVENTION_TYPES`.
        """
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
        generator: torch.Generator | None = None,
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
        generator : torch.Generator, optional
            Source of the noise (the global torch RNG when omitted).

        Returns
        -------
        torch.Tensor of shape (n, T, D)
            Equal to ``x`` outside the edited steps (exactly: padding is never changed).
        """
        _check_inputs(x, mask, padding_mask)
        if noise_scale < 0:
            raise ValueError(f"noise_scale must be >= 0, got {noise_scale}.")
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
            noise = _noise(x, noise_scale, generator)
            if method == "perturbation":
                direction = torch.tanh(proposal) + noise
                new = x + self.perturbation_scale * std * direction
            else:
                new = mean + std * proposal + std * noise
        return torch.where(edited.unsqueeze(-1) > 0, new, x)

    def generate_multiple_counterfactuals(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        num_samples: int = 5,
        noise_scale: float = 0.1,
        intervention_type: str = "modify_selected",
        padding_mask: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample ``num_samples`` counterfactuals in one batched pass.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
        mask : torch.Tensor of shape (n, T)
        num_samples : int, default=5
            Counterfactuals per series.
        noise_scale : float, default=0.1
            Gaussian noise (relative to channel std) that makes the samples differ.
        intervention_type : str, default="modify_selected"
            See :meth:`forward`.
        padding_mask : torch.Tensor of shape (n, T), optional
            True marks padding.
        generator : torch.Generator, optional
            Source of the noise.

        Returns
        -------
        torch.Tensor of shape (num_samples, n, T, D)
        """
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}.")
        _check_inputs(x, mask, padding_mask)
        n = x.shape[0]
        rep = x.repeat(num_samples, 1, 1)
        out = self(
            rep,
            mask.repeat(num_samples, 1),
            intervention_type,
            None if padding_mask is None else padding_mask.repeat(num_samples, 1),
            noise_scale=noise_scale,
            generator=generator,
        )
        return out.reshape(num_samples, n, *x.shape[1:])

    @staticmethod
    def compute_counterfactual_distance(
        x: torch.Tensor,
        cf: torch.Tensor,
        mask: torch.Tensor | None = None,
        metric: str = "l2",
        window: int | None = None,
    ) -> torch.Tensor:
        """Distance ``(n,)`` between series and counterfactuals, optionally on masked steps.

        Parameters
        ----------
        x, cf : torch.Tensor of shape (n, T, D)
        mask : torch.Tensor of shape (n, T), optional
            Only these steps count (for ``"dtw"``: the other steps are set to zero in both
            series before warping).
        metric : {"l1", "l2", "cosine", "dtw"}, default="l2"
            ``"dtw"`` is dynamic time warping with Euclidean step cost, computed by
            anti-diagonal sweeps (``2T - 1`` vectorised steps, ``O(n T^2)`` memory).
        window : int, optional
            Sakoe-Chiba band for ``"dtw"``: steps more than ``window`` apart are never
            matched.

        Returns
        -------
        torch.Tensor of shape (n,)
        """
        if x.shape != cf.shape:
            raise ValueError(
                f"x and cf must have the same shape, got {tuple(x.shape)} and {tuple(cf.shape)}."
            )
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
            return dtw_distance(x, cf, window=window)
        raise ValueError(f"metric must be 'l1', 'l2', 'cosine' or 'dtw', got {metric!r}.")


def _check_inputs(x: torch.Tensor, mask: torch.Tensor, padding_mask: torch.Tensor | None) -> None:
    if x.dim() != 3:
        raise ValueError(f"x must have shape (n, T, D), got {tuple(x.shape)}.")
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"mask must have shape (n, T) = {tuple(x.shape[:2])}, got {tuple(mask.shape)}."
        )
    if padding_mask is not None and tuple(padding_mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"padding_mask must have shape {tuple(x.shape[:2])}, got {tuple(padding_mask.shape)}."
        )


def _noise(x: torch.Tensor, scale: float, generator: torch.Generator | None) -> torch.Tensor:
    if scale == 0:
        return torch.zeros_like(x)
    return scale * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def dtw_distance(a: torch.Tensor, b: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """Batched dynamic time warping distance between ``(n, T, D)`` tensors.

    The cumulative cost matrix is filled one anti-diagonal at a time (every cell of an
    anti-diagonal depends only on the two previous ones), so the Python loop has ``2T - 1``
    iterations instead of ``T^2``.

    Parameters
    ----------
    a, b : torch.Tensor of shape (n, T, D)
    window : int, optional
        Sakoe-Chiba band half-width.

    Returns
    -------
    torch.Tensor of shape (n,)
    """
    cost = torch.cdist(a, b)  # (n, T, T)
    n, length, _ = cost.shape
    inf = torch.tensor(float("inf"), dtype=cost.dtype, device=cost.device)
    idx = torch.arange(length, device=cost.device)
    if window is not None:
        if window < 0:
            raise ValueError(f"window must be >= 0, got {window}.")
        band = (idx[:, None] - idx[None, :]).abs() > window
        cost = cost.masked_fill(band, float("inf"))
    # acc[d][:, i] holds the cumulative cost of cell (i, d - i); invalid cells are inf.
    prev2 = torch.full((n, length), float("inf"), dtype=cost.dtype, device=cost.device)
    prev1 = prev2.clone()
    prev1[:, 0] = cost[:, 0, 0]
    for d in range(1, 2 * length - 1):
        j = d - idx
        inside = (j >= 0) & (j < length)
        jc = j.clamp(0, length - 1)
        c = cost[:, idx, jc]  # (n, T): cost of (i, d - i)
        up = torch.cat([prev1.new_full((n, 1), float("inf")), prev1[:, :-1]], 1)  # (i-1, j)
        left = prev1  # (i, j - 1)
        diag = torch.cat([prev2.new_full((n, 1), float("inf")), prev2[:, :-1]], 1)
        best = torch.minimum(torch.minimum(up, left), diag)
        cur = torch.where(inside, c + best, inf)
        prev2, prev1 = prev1, cur
    return prev1[:, length - 1]
