"""A convolutional predictor over the masked series (the default head for real data).

A fully convolutional network (Wang et al. 2017, "Time series classification from scratch
with deep neural networks": three convolution blocks and global average pooling) is a strong
full-series baseline on small real datasets. :class:`ConvHead` runs it on the selected values
with the unselected steps filled (with 0, or by interpolating between the selected values) and
the mask itself as an extra channel, so the network can tell a selected value from a filled
one. The output is differentiable in the mask at every step (through the fill and the mask
channel), so a straight-through selector can learn to add a step, not only to drop one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .scaling import InputScaler

__all__ = [
    "COARSE_FACTOR",
    "DILATIONS",
    "POSITION_FREQUENCIES",
    "ConvHead",
    "ConvScorer",
    "interpolate_unselected",
    "relative_positions",
]

#: Kernel sizes of the three convolution blocks (odd, so 'same' padding needs no copy).
KERNELS = (7, 5, 3)

#: Dilations of :class:`ConvHead`'s three blocks: a receptive field of
#: ``1 + sum((kernel - 1) * dilation)`` = 23 steps instead of 13 undilated, at the same cost.
#: Measured on real data (``benchmarks/results/accuracy_analysis.md``, 5 seeds): the wider
#: field lifted the default's accuracy on ArrowHead from 0.675 to 0.749 and its full-series
#: teacher from 0.773 to 0.833; ``(1, 4, 8)`` was better on ArrowHead but worse on OSULeaf
#: and GunPoint (single seeds).
DILATIONS = (1, 2, 4)

#: :class:`ConvHead` runs a second copy of its blocks on the series averaged over windows of
#: this many steps (a receptive field of 92 steps instead of 23), so it sees a long shape
#: (a gesture, an outline) as well as the detail. Measured on real data
#: (``benchmarks/results/accuracy_analysis.md``, 5 seeds): on PickupGestureWiimoteZ
#: (gestures of 29 to 361 steps) the default k = 25 % rose from 0.636 to 0.772 and the
#: full-series teacher from 0.704 to 0.832; the other sets moved within their seed spread.
COARSE_FACTOR = 4

#: How :class:`ConvHead` fills unselected steps: ``"zeros"`` (the standardised mean) or
#: ``"interpolate"`` (:func:`interpolate_unselected`).
FILLS = ("zeros", "interpolate")

#: Sine/cosine pairs of :func:`relative_positions` given to :class:`ConvScorer`: with one pair
#: the scorer cannot place a selection at fixed positions (measured on a white box explained
#: in black-box mode, ``benchmarks/RESULTS.md``, precision and recall).
POSITION_FREQUENCIES = 6

#: Longest sequence :class:`ConvHead` convolves at full resolution; a longer one is first
#: averaged over windows of ``ceil(T / MAX_RESOLUTION)`` steps (bounded cost per series).
#: At 256, ACSF1 (T = 1460, windows of 6 steps) lost its detail: 512 (windows of 3), with
#: the dilations (which alone did not help it), lifted the default's accuracy there from
#: 0.572 to 0.794 and its teacher's from 0.676 to 0.868 (5 seeds,
#: ``benchmarks/results/accuracy_analysis.md``), at 1.5x the fit time.
MAX_RESOLUTION = 512


def interpolate_unselected(x: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Fill every unselected step by linear interpolation between the selected ones.

    Before the first selected step the first selected value is repeated, after the last one
    the last; a series with no selected step becomes 0. The result depends only on the
    selected values and their positions.

    Parameters
    ----------
    x : torch.Tensor of shape (n, T, D)
        Values (only those at selected steps are read).
    selected : torch.Tensor of shape (n, T), bool
        The selected steps.

    Returns
    -------
    torch.Tensor of shape (n, T, D)
        ``x`` at selected steps, interpolated elsewhere.
    """
    n, length, dim = x.shape
    steps = torch.arange(length, device=x.device).expand(n, length)
    before = torch.where(selected, steps, -1).cummax(dim=1).values
    after = torch.where(selected, steps, length).flip(1).cummin(dim=1).values.flip(1)
    left = x.gather(1, before.clamp(min=0).unsqueeze(-1).expand(n, length, dim))
    right = x.gather(1, after.clamp(max=length - 1).unsqueeze(-1).expand(n, length, dim))
    span = (after - before).clamp(min=1).to(x.dtype)
    weight = ((steps - before).to(x.dtype) / span).unsqueeze(-1)
    inside = ((before >= 0) & (after < length)).unsqueeze(-1)
    outside = torch.where((before >= 0).unsqueeze(-1), left, right)
    filled = torch.where(inside, left + weight * (right - left), outside)
    return filled.masked_fill(~selected.any(dim=1)[:, None, None], 0.0)


class _ConvBlock(nn.Module):
    """Convolution ('same' length), batch normalisation, ReLU; padded steps kept at 0."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            in_channels, out_channels, kernel_size, padding="same", dilation=dilation
        )
        self.norm = nn.BatchNorm1d(out_channels)

    def forward(self, h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(h))) * valid


class ConvHead(nn.Module):
    """Predict from the selected steps with a fully convolutional network.

    ``[x', m]`` (the standardised channels with the unselected steps filled, see ``fill``,
    plus the mask) goes through three convolution blocks (``hidden_dim``, ``2 * hidden_dim``,
    ``hidden_dim`` filters; kernels 7, 5 and 3 with dilations :data:`DILATIONS`, a
    receptive field of 23 steps) and an average over the valid steps; a second, separately
    trained copy of the blocks does the same on ``[x', m]`` averaged over windows of
    ``coarse_factor`` steps (a receptive field of ``23 * coarse_factor`` steps); a
    two-layer MLP on both averages gives the output (a linear layer on pooled features
    cannot represent an interaction such as the XOR of two events). Padded steps are zero
    at every layer and excluded from the averages, so padding never influences the output,
    and the head accepts series of any length. Series longer than
    :data:`MAX_RESOLUTION` steps are first averaged over windows of
    ``ceil(T / MAX_RESOLUTION)`` steps (the values and the mask alike, so an unselected
    value still never enters), which bounds the cost per series.

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    output_dim : int
        Outputs (logits or regression values).
    hidden_dim : int, default=64
        Filters of the first and last convolution blocks.
    dropout : float, default=0.1
        Dropout before the output layer.
    fill : {"zeros", "interpolate"}, default="zeros"
        What ``x'`` holds at unselected steps. ``"zeros"``: ``x' = x * m``, the standardised
        channels times the mask (0, the training mean, where nothing is selected).
        ``"interpolate"``: ``x' = m x + (1 - m) interp(x)``, where ``interp`` draws straight
        lines between the selected values (:func:`interpolate_unselected`), so a subset
        spread over the series still shows its overall shape; it is computed from the
        selected values only. Either way the mask is an input channel, so the network can
        tell a selected value from a filled one, and ``x'`` is differentiable in the mask
        at every valid step.
    coarse_factor : int or None, default=COARSE_FACTOR
        Window of the coarse copy of the blocks; ``None`` for the blocks at the series'
        resolution only (the network of model files of format 5 and earlier, which load
        as such: see :meth:`_load_from_state_dict`).
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        hidden_dim: int = 64,
        dropout: float = 0.1,
        fill: str = "zeros",
        coarse_factor: int | None = COARSE_FACTOR,
    ) -> None:
        super().__init__()
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {fill!r}.")
        if coarse_factor is not None and coarse_factor < 2:
            raise ValueError(f"coarse_factor must be None or >= 2, got {coarse_factor!r}.")
        self.fill = fill
        self.hidden_dim = hidden_dim
        self.input_scaler = InputScaler(input_dim)
        self.blocks = self._blocks(input_dim, hidden_dim)
        self.coarse_factor = coarse_factor
        self.coarse_blocks = None if coarse_factor is None else self._blocks(input_dim, hidden_dim)
        pooled = hidden_dim if coarse_factor is None else 2 * hidden_dim
        self.out = nn.Sequential(
            nn.Linear(pooled, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, output_dim),
        )

    @staticmethod
    def _blocks(input_dim: int, hidden_dim: int) -> nn.ModuleList:
        widths = (input_dim + 1, hidden_dim, 2 * hidden_dim, hidden_dim)
        return nn.ModuleList(
            _ConvBlock(widths[i], widths[i + 1], kernel, dilation)
            for i, (kernel, dilation) in enumerate(zip(KERNELS, DILATIONS))
        )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Model files of format 5 and earlier hold the network without the coarse copy of
        # the blocks: load them as that network (the children are loaded after this call).
        if self.coarse_blocks is not None and not any(
            name.startswith(prefix + "coarse_blocks.") for name in state_dict
        ):
            self.coarse_factor = None
            self.coarse_blocks = None
            first = self.out[0]
            self.out[0] = nn.Linear(
                self.hidden_dim,
                first.out_features,
                device=first.weight.device,
                dtype=first.weight.dtype,
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, None]:
        """Predict from the selected steps.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        mask : torch.Tensor of shape (n, T)
            Selection mask in [0, 1] (hard 0/1 at inference, straight-through in training);
            unselected steps cannot reach the output.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps: zero at every layer and left out of the average.

        Returns
        -------
        output : torch.Tensor of shape (n, output_dim)
            Logits or regression values.
        weights : None
            This head has no influence map.
        """
        valid = torch.ones_like(mask) if padding_mask is None else (~padding_mask).to(mask.dtype)
        mask = mask * valid
        x = self.input_scaler(x, padding_mask)
        m = mask.unsqueeze(-1)
        if self.fill == "zeros":
            x = x * m
        else:
            with torch.no_grad():
                filled = interpolate_unselected(x, (mask > 0.5) & (valid > 0))
            x = (m * x + (1.0 - m) * filled) * valid.unsqueeze(-1)
        h = torch.cat([x, mask.unsqueeze(-1)], dim=-1).transpose(1, 2)  # (n, D + 1, T)
        v = valid.unsqueeze(1)
        h, v = _average_windows(h, v, math.ceil(h.shape[2] / MAX_RESOLUTION))
        pooled = _pooled(self.blocks, h, v)
        if self.coarse_blocks is not None:
            coarse = _pooled(self.coarse_blocks, *_average_windows(h, v, self.coarse_factor))
            pooled = torch.cat([pooled, coarse], dim=1)
        return self.out(pooled), None


def _average_windows(
    h: torch.Tensor, v: torch.Tensor, factor: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``h`` (n, C, T) averaged over windows of ``factor`` steps; ``v`` (n, 1, T): any valid."""
    if factor <= 1:
        return h, v
    return F.avg_pool1d(h, factor, ceil_mode=True), F.max_pool1d(v, factor, ceil_mode=True)


def _pooled(blocks: nn.ModuleList, h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``blocks`` on ``h`` (n, C, T), then the average over the valid steps ``v`` (n, 1, T)."""
    for block in blocks:
        h = block(h, v)
    return h.sum(dim=2) / v.sum(dim=2).clamp(min=1.0)


def relative_positions(
    valid: torch.Tensor, n_frequencies: int = POSITION_FREQUENCIES
) -> torch.Tensor:
    """``(n, 2 F, T)`` position channels ``sin(2^i pi r), cos(2^i pi r)``, ``i < F``.

    ``r`` = step / (length - 1), relative to each series' valid length, so the channels mean
    the same on series of any length; 0 at padded steps. The first pair is a coarse position,
    the last resolves about ``1 / 2^F`` of the series.

    Parameters
    ----------
    valid : torch.Tensor of shape (n, T)
        1 at real steps, 0 at padded ones.
    n_frequencies : int, default=POSITION_FREQUENCIES
        ``F``, the number of sine/cosine pairs.

    Returns
    -------
    torch.Tensor of shape (n, 2 * n_frequencies, T)
    """
    lengths = valid.sum(dim=1, keepdim=True).clamp(min=2)
    steps = torch.arange(valid.shape[1], device=valid.device, dtype=valid.dtype)[None, :]
    r = torch.pi * steps / (lengths - 1)
    pairs = [f(r * 2**i) for i in range(n_frequencies) for f in (torch.sin, torch.cos)]
    return torch.stack(pairs, dim=1) * valid.unsqueeze(1)


class ConvScorer(nn.Module):
    """Score every timestamp with a small fully convolutional network.

    The standardised channels and ``2 * POSITION_FREQUENCIES`` relative-position channels
    (:func:`relative_positions`, so a position prior can be learned on aligned data) go
    through three convolution blocks of ``hidden_dim`` filters (kernels 7, 5, 3: a receptive
    field of 13 steps) and a 1x1 convolution that gives one logit per step; padded steps get
    ``-inf``. Its cost is linear in ``T``; that of self-attention (:class:`AttentionScorer`)
    is quadratic.

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    hidden_dim : int, default=32
        Filters per block.
    """

    def __init__(self, input_dim: int, hidden_dim: int = 32) -> None:
        super().__init__()
        self.input_scaler = InputScaler(input_dim)
        widths = (input_dim + 2 * POSITION_FREQUENCIES, hidden_dim, hidden_dim, hidden_dim)
        self.blocks = nn.ModuleList(
            _ConvBlock(widths[i], widths[i + 1], kernel) for i, kernel in enumerate(KERNELS)
        )
        self.head = nn.Conv1d(hidden_dim, 1, 1)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Score every timestamp.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps: they are 0 after standardisation, in the relative
            positions and in every block, and get a logit of ``-inf``.

        Returns
        -------
        torch.Tensor of shape (n, T)
            One logit per step, in the dtype of ``x``; ``-inf`` at padded steps.
        """
        if padding_mask is None:
            valid = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
        else:
            valid = (~padding_mask).to(x.dtype)
        h = self.input_scaler(x, padding_mask).transpose(1, 2)
        h = torch.cat([h, relative_positions(valid)], dim=1)
        v = valid.unsqueeze(1)
        for block in self.blocks:
            h = block(h, v)
        logits = self.head(h).squeeze(1)
        if padding_mask is not None:
            logits = logits.masked_fill(padding_mask, float("-inf"))
        return logits
