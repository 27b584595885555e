"""Per-channel input standardisation carried inside the model.

Series of any magnitude (``1e6`` or ``1e-8``, large offsets, constant channels) reach the
attention scorer and the built-in heads at unit scale, so training is stable and the
sinusoidal positional encoding is neither drowned nor dominant. The statistics live in
buffers: they move with ``.to(device, dtype)``, are saved in the ``state_dict`` and apply to
every entry point (selection, prediction, influence, counterfactual search) without the caller
doing anything. A user predictor (``ModuleAdapter``) is *not* scaled: it receives the series in
its own units.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["InputScaler", "channel_statistics", "fit_input_scalers"]

#: A channel whose standard deviation is below this fraction of its absolute mean is treated
#: as constant (float32 cannot resolve finer relative differences): it is centred, not scaled.
RELATIVE_TOLERANCE = 1e-6


def channel_statistics(
    x: torch.Tensor, padding_mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and scale of each channel over the valid (not padded) steps.

    Computed in float64. A constant channel (standard deviation 0, or below
    :data:`RELATIVE_TOLERANCE` times its absolute mean) gets scale 1, as in scikit-learn's
    ``StandardScaler``.

    Parameters
    ----------
    x : torch.Tensor of shape (n, T, D)
        Training series; values at padded steps are ignored.
    padding_mask : torch.Tensor of shape (n, T), bool, optional
        True at padded steps.

    Returns
    -------
    mean : torch.Tensor of shape (D,), float64
    scale : torch.Tensor of shape (D,), float64
        Strictly positive.
    """
    if x.dim() != 3:
        raise ValueError(f"x must have shape (n, T, D), got {tuple(x.shape)}.")
    values = x.detach().to(torch.float64).reshape(-1, x.shape[-1])
    if padding_mask is not None:
        values = values[~padding_mask.reshape(-1).to(torch.bool)]
    if values.shape[0] == 0:
        raise ValueError("x has no valid step to compute channel statistics from.")
    mean = values.mean(dim=0)
    std = values.std(dim=0, unbiased=False)
    constant = (std == 0) | (std <= RELATIVE_TOLERANCE * mean.abs()) | ~torch.isfinite(std)
    scale = torch.where(constant, torch.ones_like(std), std)
    return mean, scale


class InputScaler(nn.Module):
    """Standardise each channel: ``(x - mean) / scale``, padded steps kept at 0.

    The identity (mean 0, scale 1) until :meth:`set_statistics` is called, so a module built
    without statistics behaves exactly as before.

    Parameters
    ----------
    input_dim : int
        Number of channels ``D``.

    Attributes
    ----------
    mean : torch.Tensor of shape (D,)
        Buffer.
    scale : torch.Tensor of shape (D,)
        Buffer, strictly positive.
    """

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}.")
        self.input_dim = input_dim
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("scale", torch.ones(input_dim))

    def set_statistics(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Store per-channel ``mean`` and ``scale`` (shape ``(D,)``, ``scale > 0``)."""
        mean = torch.as_tensor(mean).reshape(-1)
        scale = torch.as_tensor(scale).reshape(-1)
        if mean.shape != (self.input_dim,) or scale.shape != (self.input_dim,):
            raise ValueError(
                f"mean and scale must have shape ({self.input_dim},), got {tuple(mean.shape)} "
                f"and {tuple(scale.shape)}."
            )
        if not (torch.isfinite(mean).all() and torch.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("mean must be finite and scale finite and > 0.")
        self.mean.copy_(mean.to(self.mean))
        self.scale.copy_(scale.to(self.scale))

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Standardise ``x`` of shape ``(n, T, D)``; padded steps become exactly 0."""
        mean = self.mean.to(x.dtype)
        scale = self.scale.to(x.dtype)
        out = (x - mean) / scale
        if padding_mask is not None:
            out = out.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        return out

    def extra_repr(self) -> str:
        return f"input_dim={self.input_dim}"


def fit_input_scalers(
    module: nn.Module, x: torch.Tensor, padding_mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Compute channel statistics of ``x`` and set them on every :class:`InputScaler` inside.

    Parameters
    ----------
    module : torch.nn.Module
        Typically an :class:`~tsinfluence.nn.InfluenceFramework`.
    x : torch.Tensor or array of shape (n, T, D)
        Training series.
    padding_mask : torch.Tensor or array of shape (n, T), bool, optional
        True at padded steps.

    Returns
    -------
    mean, scale : torch.Tensor of shape (D,), float64
    """
    x = torch.as_tensor(x)
    if padding_mask is not None:
        padding_mask = torch.as_tensor(padding_mask, dtype=torch.bool)
    mean, scale = channel_statistics(x, padding_mask)
    for sub in module.modules():
        if isinstance(sub, InputScaler):
            sub.set_statistics(mean, scale)
    return mean, scale
