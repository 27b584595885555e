"""Per-channel input standardisation carried inside the model.

Series of any magnitude (``1e6`` or ``1e-8``, large offsets, constant channels) reach the
attention scorer and the built-in heads at unit scale, so training is stable and the
sinusoidal positional encoding is neither drowned nor dominant. The statistics live in
buffers: they move with ``.to(device, dtype)``, are saved in the ``state_dict`` and apply to
every entry point (selection, prediction, influence, counterfactual search) without the caller
doing anything. A user predictor (``ModuleAdapter``) is *not* scaled: it receives the series in
its own units.

Standardisation alone fails on channels whose magnitude differs by orders of magnitude between
series (counts, amounts, prices): a few large series set the scale and every other series
reaches the network as a flat line near 0. Such channels are first compressed by
``asinh((x - center) / spread)`` (a signed logarithm that is linear near ``center`` and
defined at 0 and below), see :func:`compression_parameters`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "HEAVY_TAIL_RATIO",
    "SCALINGS",
    "InputScaler",
    "channel_statistics",
    "compress",
    "compression_parameters",
    "fit_input_scalers",
]

#: A channel whose standard deviation is below this fraction of its absolute mean is treated
#: as constant (float32 cannot resolve finer relative differences): it is centred, not scaled.
RELATIVE_TOLERANCE = 1e-6

#: How :func:`fit_input_scalers` treats each channel: ``"auto"`` compresses the heavy-tailed
#: ones (:data:`HEAVY_TAIL_RATIO`), ``"standard"`` none, ``"asinh"`` every non-constant one.
SCALINGS = ("auto", "standard", "asinh")

#: ``scaling="auto"`` compresses a channel in which the typical series (the median over
#: series) has a standard deviation below this fraction of the whole channel's: series whose
#: level differs by orders of magnitude, which standardisation would leave as flat lines.
#: 1.0 for series z-normalised one by one. Measured on aeon's data
#: (``benchmarks/results/accuracy_analysis.md``): 0.36-1.0 on every channel of eight
#: classification sets (the lowest, JapaneseVowels' and BasicMotions', where resting and
#: running series differ 50-fold) and of the synthetic generators; 0.009 on Covid3Month's
#: case counts (1 to 20,341 per series), 0.038 on CardanoSentiment's.
HEAVY_TAIL_RATIO = 0.1


def _valid_steps(x: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
    """The steps of ``x`` (n, T, D) that are not padded, ``(n, T)`` bool; an error if none."""
    if x.dim() != 3:
        raise ValueError(f"x must have shape (n, T, D), got {tuple(x.shape)}.")
    if padding_mask is None:
        valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    else:
        valid = ~padding_mask.to(device=x.device, dtype=torch.bool)
    if not bool(valid.any()):
        raise ValueError("x has no valid step to compute channel statistics from.")
    return valid


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
    values = x.detach().to(torch.float64)[_valid_steps(x, padding_mask)]  # (k, D)
    mean = values.mean(dim=0)
    std = values.std(dim=0, unbiased=False)
    constant = (std == 0) | (std <= RELATIVE_TOLERANCE * mean.abs()) | ~torch.isfinite(std)
    scale = torch.where(constant, torch.ones_like(std), std)
    return mean, scale


def compression_parameters(
    x: torch.Tensor, padding_mask: torch.Tensor | None = None, scaling: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Center and spread of the ``asinh`` compression of each channel (spread 0: none).

    A compressed channel becomes ``asinh((x - center) / spread)`` before it is standardised:
    linear within about one ``spread`` of ``center`` (the channel's median), logarithmic
    beyond. The spread is the standard deviation of the typical series (the median over
    series), so the typical series keeps its shape and only larger values are compressed
    (the channel's mean absolute deviation from its median where most series are constant);
    the result does not depend on the units of ``x``. ``scaling="auto"`` compresses a
    channel whose typical series has a standard deviation below :data:`HEAVY_TAIL_RATIO`
    times the channel's; ``"asinh"`` every channel that is not constant; ``"standard"``
    none.

    Parameters
    ----------
    x : torch.Tensor of shape (n, T, D)
        Training series; values at padded steps are ignored.
    padding_mask : torch.Tensor of shape (n, T), bool, optional
        True at padded steps.
    scaling : {"auto", "standard", "asinh"}, default="auto"

    Returns
    -------
    center : torch.Tensor of shape (D,), float64
        The median of each channel (0 where not compressed).
    spread : torch.Tensor of shape (D,), float64
        The typical series' standard deviation; 0 where the channel is not compressed.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}.")
    zeros = torch.zeros(x.shape[-1], dtype=torch.float64)
    if scaling == "standard":
        return zeros, zeros.clone()
    x = x.detach().to(torch.float64).cpu()
    valid = _valid_steps(x, padding_mask)
    values = x[valid]  # (k, D)
    center = values.median(dim=0).values
    weight = valid.unsqueeze(-1).to(x.dtype)
    steps = weight.sum(dim=1).clamp(min=1.0)  # (n, 1)
    series_mean = (x * weight).sum(dim=1) / steps
    series_var = ((x - series_mean.unsqueeze(1)) ** 2 * weight).sum(dim=1) / steps
    series = valid.sum(dim=1) >= 2  # a single step has no spread of its own
    judged = bool(series.any())
    typical = series_var[series].sqrt().median(dim=0).values if judged else zeros.clone()
    spread = torch.where(typical > 0, typical, (values - center).abs().mean(dim=0))
    compressed = spread > 0
    if scaling == "auto":  # needs series of several steps to judge
        compressed &= judged & (typical < HEAVY_TAIL_RATIO * values.std(dim=0, unbiased=False))
    return torch.where(compressed, center, zeros), torch.where(compressed, spread, zeros)


def compress(x: torch.Tensor, center: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """``asinh((x - center) / spread)`` on the channels with ``spread > 0``; others as they are.

    Parameters
    ----------
    x : torch.Tensor of shape (..., D)
    center, spread : torch.Tensor of shape (D,)
        As returned by :func:`compression_parameters`.

    Returns
    -------
    torch.Tensor of the shape and dtype of ``x``
    """
    active = spread > 0
    safe = torch.where(active, spread, torch.ones_like(spread)).to(x.dtype)
    return torch.where(active, torch.asinh((x - center.to(x.dtype)) / safe), x)


class InputScaler(nn.Module):
    """Standardise each channel: ``(x - mean) / scale``, padded steps kept at 0.

    Channels with ``spread > 0`` are first compressed (:func:`compress`). The identity
    (mean 0, scale 1, no compression) until :meth:`set_statistics` is called, so a module
    built without statistics behaves exactly as before.

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
    center, spread : torch.Tensor of shape (D,)
        Buffers: the compression of each channel (``spread`` 0: none).
    """

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        if input_dim < 1:
            raise ValueError(f"input_dim must be >= 1, got {input_dim}.")
        self.input_dim = input_dim
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("scale", torch.ones(input_dim))
        self.register_buffer("center", torch.zeros(input_dim))
        self.register_buffer("spread", torch.zeros(input_dim))

    def set_statistics(
        self,
        mean: torch.Tensor,
        scale: torch.Tensor,
        center: torch.Tensor | None = None,
        spread: torch.Tensor | None = None,
    ) -> None:
        """Store per-channel statistics (each of shape ``(D,)``).

        Parameters
        ----------
        mean, scale : torch.Tensor of shape (D,)
            Of the (compressed) channels; ``scale > 0``.
        center, spread : torch.Tensor of shape (D,), optional
            The compression (:func:`compression_parameters`); none if omitted.
        """
        zeros = torch.zeros(self.input_dim)
        stats = {
            "mean": mean,
            "scale": scale,
            "center": zeros if center is None else center,
            "spread": zeros if spread is None else spread,
        }
        stats = {name: torch.as_tensor(value).reshape(-1) for name, value in stats.items()}
        if any(value.shape != (self.input_dim,) for value in stats.values()):
            shapes = ", ".join(f"{n} {tuple(v.shape)}" for n, v in stats.items())
            raise ValueError(f"The statistics must have shape ({self.input_dim},), got {shapes}.")
        if not all(torch.isfinite(value).all() for value in stats.values()):
            raise ValueError("The statistics must be finite.")
        if not (stats["scale"] > 0).all() or (stats["spread"] < 0).any():
            raise ValueError("scale must be > 0 and spread >= 0.")
        for name, value in stats.items():
            getattr(self, name).copy_(value.to(getattr(self, name)))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Model files written before the compression existed (format version 4 and earlier)
        # have no center/spread: those models standardised without compressing.
        for name in ("center", "spread"):
            state_dict.setdefault(prefix + name, torch.zeros(self.input_dim))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Compress and standardise ``x`` of shape ``(n, T, D)``; padded steps become 0."""
        # Always through ``compress`` (the identity where ``spread`` is 0): a test of the
        # buffer in Python would wait for the device on every forward pass.
        x = compress(x, self.center, self.spread)
        mean = self.mean.to(x.dtype)
        scale = self.scale.to(x.dtype)
        out = (x - mean) / scale
        if padding_mask is not None:
            out = out.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        return out

    def extra_repr(self) -> str:
        return f"input_dim={self.input_dim}"


def fit_input_scalers(
    module: nn.Module,
    x: torch.Tensor,
    padding_mask: torch.Tensor | None = None,
    scaling: str = "auto",
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
    scaling : {"auto", "standard", "asinh"}, default="auto"
        Which channels are compressed first (:func:`compression_parameters`).

    Returns
    -------
    mean, scale : torch.Tensor of shape (D,), float64
        Of the channels after compression.
    """
    x = torch.as_tensor(x)
    if padding_mask is not None:
        padding_mask = torch.as_tensor(padding_mask, dtype=torch.bool)
    center, spread = compression_parameters(x, padding_mask, scaling)
    if bool((spread > 0).any()):
        x = compress(x.detach().to(torch.float64), center, spread)
    mean, scale = channel_statistics(x, padding_mask)
    for sub in module.modules():
        if isinstance(sub, InputScaler):
            sub.set_statistics(mean, scale, center, spread)
    return mean, scale
