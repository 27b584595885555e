"""Running a model that reads the whole series on a selection: fills and adapters.

A user's model (a torch module, or any numpy callable without gradient) sees every step, so
the unselected ones must be replaced: :class:`MaskBaseline` says with what,
:func:`apply_mask` does it, and :class:`ModuleAdapter` / :class:`CallableAdapter` give the
model the predictor-head signature ``(x, mask, padding_mask) -> (output, None)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .conv import interpolate_unselected

__all__ = ["BASELINES", "CallableAdapter", "MaskBaseline", "ModuleAdapter", "apply_mask"]

#: Fills for unselected steps of a model that reads the whole masked series.
BASELINES = ("zeros", "mean", "noise", "sample", "learned", "interpolate")


def apply_mask(
    x: torch.Tensor, mask: torch.Tensor, baseline: torch.Tensor | nn.Module | None = None
) -> torch.Tensor:
    """Keep the selected steps of ``x`` and replace the others by ``baseline`` (default 0).

    Parameters
    ----------
    x : torch.Tensor of shape (n, T, D)
    mask : torch.Tensor of shape (n, T)
    baseline : torch.Tensor broadcastable to (n, T, D), MaskBaseline or None
        A module is called as ``baseline(x, mask)`` for the fill (see :class:`MaskBaseline`).

    Returns
    -------
    torch.Tensor of shape (n, T, D)
    """
    if isinstance(baseline, nn.Module):
        baseline = baseline(x, mask)
    m = mask.unsqueeze(-1)
    if baseline is None:
        return x * m
    return x * m + baseline * (1.0 - m)


class MaskBaseline(nn.Module):
    """What replaces the unselected steps before a model that reads the whole series.

    Parameters
    ----------
    kind : {"zeros", "mean", "noise", "sample", "learned", "interpolate"}, default="zeros"
        ``"zeros"``: 0. ``"mean"``: the training mean of each (step, channel).
        ``"noise"``: Gaussian draws with the training mean and standard deviation of each
        (step, channel). ``"sample"``: draws from the training data -- each unselected step
        takes the values (all channels) of that same step in a training series drawn at
        random, independently for every step, so the fill follows the data's own
        distribution at each step (spikes, skew, discrete values) without copying a whole
        training series and its label. ``"noise"`` and ``"sample"`` draw afresh in training
        mode and use one fixed draw in eval mode, so predictions are deterministic.
        ``"learned"``: a parameter of shape ``(T, D)`` initialised at the training mean and
        trained with the selector (only through a gradient: it stays at the mean with
        score-function training); it does not depend on the series, so it cannot carry
        information about it. ``"interpolate"``: straight lines between the series' own
        selected values (:func:`~tsinfluence.nn.conv.interpolate_unselected`), so a subset
        spread over the series keeps its overall shape; it depends on the selected values
        only, and needs the mask (``forward(x, mask)``).
    n_timestamps, n_channels : int
        Shape ``(T, D)`` of one series.
    mean, std : torch.Tensor of shape (T, D), optional
        Training statistics (zeros and ones by default).
    data : torch.Tensor of shape (n, T, D), optional
        Training series for ``"sample"`` (required there; at most a few hundred are needed).
    """

    def __init__(
        self,
        kind: str = "zeros",
        n_timestamps: int = 1,
        n_channels: int = 1,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
        data: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if kind not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}.")
        self.kind = kind
        shape = (n_timestamps, n_channels)
        mean = torch.zeros(shape) if mean is None else torch.as_tensor(mean).reshape(shape)
        std = torch.ones(shape) if std is None else torch.as_tensor(std).reshape(shape)
        std = std.clamp(min=1e-6)
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("mean", mean.clone().float())
        self.register_buffer("std", std.clone().float())
        self.register_buffer("fixed_noise", mean + std * torch.randn(shape, generator=gen))
        self.learned = nn.Parameter(mean.clone().float()) if kind == "learned" else None
        bank = None
        if kind == "sample":
            if data is None or data.dim() != 3 or tuple(data.shape[1:]) != shape or not len(data):
                raise ValueError(
                    f"baseline='sample' needs training series of shape (n, {n_timestamps}, "
                    f"{n_channels}) to draw from."
                )
            bank = torch.as_tensor(data).clone().float()
            draw = torch.randint(len(bank), (n_timestamps,), generator=gen)
            self.register_buffer("fixed_sample", bank[draw, torch.arange(n_timestamps)])
        self.register_buffer("bank", bank)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The fill of the unselected steps of ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series.
        mask : torch.Tensor of shape (n, T), optional
            The selection (steps above 0.5 are selected); required by ``"interpolate"``,
            not read by the other kinds.

        Returns
        -------
        torch.Tensor
            Broadcastable to ``x``.

        Raises
        ------
        ValueError
            For ``"interpolate"`` without ``mask``.
        """
        length = x.shape[1]
        if self.kind == "interpolate":
            if mask is None:
                raise ValueError("baseline='interpolate' needs the selection mask.")
            return interpolate_unselected(x, mask > 0.5)
        if self.kind == "zeros":
            return torch.zeros_like(x[:1])
        if self.kind == "learned":
            base = self.learned
        elif self.kind == "mean":
            base = self.mean
        elif self.kind == "sample":
            if self.training:
                rows = torch.randint(len(self.bank), (x.shape[0], length), device=x.device)
                steps = torch.arange(length, device=x.device).expand(x.shape[0], length)
                return self.bank.to(x.device)[rows, steps].to(x.dtype)
            base = self.fixed_sample
        elif self.training:
            noise = torch.randn(x.shape, dtype=x.dtype, device=x.device)
            return self.mean[:length].to(x.dtype) + self.std[:length].to(x.dtype) * noise
        else:
            base = self.fixed_noise
        return base[:length].to(x.dtype).unsqueeze(0)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"


class _FilledInput(nn.Module):
    """Base of the adapters: a model that reads the whole series, unselected steps filled.

    A :class:`MaskBaseline` fill is kept as the submodule ``fill`` (so it moves, trains and
    saves with the adapter); a tensor fill as the buffer ``baseline``.
    """

    def __init__(self, baseline: torch.Tensor | MaskBaseline | None) -> None:
        super().__init__()
        if isinstance(baseline, nn.Module):
            self.fill = baseline
            self.register_buffer("baseline", None)
        else:
            self.fill = None
            self.register_buffer("baseline", baseline)

    def _baseline(self) -> torch.Tensor | MaskBaseline | None:
        """What :func:`apply_mask` fills the unselected steps with."""
        return self.fill if self.fill is not None else self.baseline


class ModuleAdapter(_FilledInput):
    """Run any user ``nn.Module`` on the masked series (model-agnostic predictor).

    The module receives ``x * mask + baseline * (1 - mask)`` of shape ``(n, T, D)`` and must
    return ``(n, output_dim)`` (or ``(n,)``, which is reshaped).

    Parameters
    ----------
    module : torch.nn.Module
        The user's predictor.
    baseline : torch.Tensor or MaskBaseline, optional
        Fill for unselected steps: a tensor broadcastable to ``(n, T, D)`` or a
        :class:`MaskBaseline`; zeros by default.
    """

    def __init__(
        self, module: nn.Module, baseline: torch.Tensor | MaskBaseline | None = None
    ) -> None:
        super().__init__(baseline)
        self.module = module

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, None]:
        """Predict with the wrapped module on the masked input.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series.
        mask : torch.Tensor of shape (n, T)
            Selection mask in [0, 1]; the module sees ``x * mask + baseline * (1 - mask)``.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            Accepted for the common head signature and not used: padded steps are never
            selected, so they receive the baseline like any unselected step.

        Returns
        -------
        output : torch.Tensor of shape (n, output_dim)
            The module's output; a 1D output becomes one column, a tuple gives its first
            element.
        weights : None
            This head has no influence map.
        """
        out = self.module(apply_mask(x, mask, self._baseline()))
        if isinstance(out, tuple):
            out = out[0]
        if out.dim() == 1:
            out = out.unsqueeze(-1)
        return out, None


class CallableAdapter(_FilledInput):
    """Run a model that has no gradient -- any numpy callable -- on the masked series.

    The filled series ``x * mask + baseline * (1 - mask)`` (as :class:`ModuleAdapter`)
    is converted to a float64 numpy array of shape ``(n, T, D)`` and passed to ``fn`` in
    chunks of at most ``max_batch`` series, under ``torch.no_grad``. ``fn`` must return
    ``(n, output_dim)`` (or ``(n,)``) numbers -- logits for a classifier, values for a
    regressor; converting probabilities, margins or labels into logits is the caller's
    job. The output carries no gradient, so a selector can only be trained against it
    with score-function gradients.

    Parameters
    ----------
    fn : callable
        ``ndarray (n, T, D) -> array-like (n, output_dim) or (n,)``. Never modified.
    baseline : torch.Tensor or MaskBaseline, optional
        Fill for unselected steps (zeros by default).
    max_batch : int, default=4096
        Most series per call of ``fn``.
    """

    has_gradient = False

    def __init__(
        self,
        fn,
        baseline: torch.Tensor | MaskBaseline | None = None,
        max_batch: int = 4096,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
        super().__init__(baseline)
        self.fn = fn
        self.max_batch = int(max_batch)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, None]:
        """Call ``fn`` on the masked input; return ``(output (n, out), None)``."""
        if not len(x):
            return x.new_zeros((0, 1)), None
        with torch.no_grad():
            filled = apply_mask(x, mask, self._baseline()).detach().cpu().numpy().astype(np.float64)
            parts = []
            for start in range(0, len(filled), self.max_batch):
                chunk = filled[start : start + self.max_batch]
                out = np.asarray(self.fn(chunk), dtype=np.float64)
                if out.ndim == 1:
                    out = out[:, None]
                if out.ndim != 2 or len(out) != len(chunk) or not np.isfinite(out).all():
                    raise ValueError(
                        f"The model returned an array of shape {out.shape} for {len(chunk)} "
                        "series; expected finite numbers of shape (n_series, n_outputs) or "
                        "(n_series,)."
                    )
                parts.append(out)
            out = np.concatenate(parts)
        return torch.as_tensor(out, dtype=x.dtype, device=x.device), None
