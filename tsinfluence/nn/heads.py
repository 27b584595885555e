"""Predictor heads: models that predict from the selected timestamps only.

Every head maps ``(x, mask, padding_mask)`` to ``(output, weights)``: ``output`` has shape
``(n, output_dim)``, ``weights`` is an ``(n, T)`` influence map or ``None``. Unselected steps
are hidden by multiplying the input by the mask (never by ``masked_fill``), so the output
stays differentiable in the mask at every step: the selector can learn to *add* a step, not
only to drop one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .conv import interpolate_unselected
from .positional import make_positional_encoding
from .scaling import InputScaler
from .selector import gather_selected

__all__ = [
    "BASELINES",
    "AttentionPoolingHead",
    "CallableAdapter",
    "MLPHead",
    "MaskBaseline",
    "ModuleAdapter",
    "apply_mask",
]

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


class AttentionPoolingHead(nn.Module):
    """ContextFlow-style attention pooling over the selected steps.

    Each step is embedded on its own, ``h_t = f(x_t) + pe_t``; attention logits ``a_t``
    become weights ``w_t ∝ exp(a_t) m_t`` that sum to one over the selected steps; the
    context vector ``sum_t w_t h_t`` feeds an MLP. The weights are returned as an influence
    map.

    A second, additive branch ``sum_t m_t g(h_t) / sqrt(L)`` (``L`` the valid length)
    lets the head count and add up evidence (a sum over marked steps, "how many events"),
    which a normalised average cannot.

    An unselected step has weight exactly 0 in the forward pass, and embeddings never mix
    steps, so nothing of an unselected value reaches the output. Yet ``dw_t / dm_t =
    exp(a_t) / Z`` and ``d(sum)/dm_t = g(h_t) / sqrt(L)`` are non-zero and depend on
    ``x_t``: the gradient to an unselected step says what adding it would do (the selector
    can learn to add steps, not only drop them).

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    output_dim : int
        Outputs (logits or regression values).
    hidden_dim : int, default=64
        Embedding width.
    dropout : float, default=0.1
        Dropout before the output layer.
    positional_encoding : {"sinusoidal", "learned", None}, default="sinusoidal"
        Positional encoding of the step embeddings.
    max_len : int, default=4096
        Longest series for ``"learned"`` encodings.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        hidden_dim: int = 64,
        dropout: float = 0.1,
        positional_encoding: str | None = "sinusoidal",
        max_len: int = 4096,
    ) -> None:
        super().__init__()
        self.input_scaler = InputScaler(input_dim)
        self.embed = nn.Linear(input_dim, hidden_dim)
        self.positional = make_positional_encoding(positional_encoding, hidden_dim, max_len)
        self.step = nn.Sequential(nn.GELU(), nn.Linear(hidden_dim, hidden_dim), nn.GELU())
        self.attend = nn.Linear(hidden_dim, 1)
        self.value = nn.Linear(hidden_dim, hidden_dim)
        self.norm = nn.LayerNorm(hidden_dim)
        self.out = nn.Sequential(
            nn.Linear(2 * hidden_dim, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, output_dim),
        )

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict from the selected steps.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        mask : torch.Tensor of shape (n, T)
            Selection mask in [0, 1] (hard 0/1 at inference, straight-through in training);
            unselected steps cannot reach the output.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which get no weight and are left out of the length ``L``.

        Returns
        -------
        output : torch.Tensor of shape (n, output_dim)
            Logits or regression values.
        weights : torch.Tensor of shape (n, T)
            Attention weights: non-negative, summing to 1 over the selected steps (all 0
            when nothing is selected), exactly 0 at unselected and padded steps.
        """
        h = self.step(self.positional(self.embed(self.input_scaler(x, padding_mask))))
        a = self.attend(h).squeeze(-1)
        if padding_mask is not None:
            a = a.masked_fill(padding_mask, float("-inf"))
        a = a - a.detach().amax(dim=1, keepdim=True)
        e = torch.exp(a) * mask
        denom = e.sum(dim=1, keepdim=True)
        # An empty selection gives weights 0 (and finite gradients), not 0/0.
        weights = e / torch.where(denom > 0, denom, torch.ones_like(denom))
        context = (weights.unsqueeze(-1) * h).sum(dim=1)
        if padding_mask is None:
            length = torch.full((x.shape[0], 1), float(x.shape[1]), dtype=x.dtype, device=x.device)
        else:
            length = (~padding_mask).sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
        total = (mask.unsqueeze(-1) * self.value(h)).sum(dim=1) / length.sqrt()
        return self.out(torch.cat([self.norm(context), total], dim=-1)), weights


class MLPHead(nn.Module):
    """An MLP over the selected steps, packed in time order.

    Each of ``max_k`` slots holds ``[values (D), relative position, slot used]`` of one
    selected step (see :meth:`TimestampSelector.get_selected_timestamps` with
    ``gather=True``); the slots are flattened into an MLP. Gradient reaches the selected
    steps only; prefer :class:`AttentionPoolingHead` when the selector must learn to add
    steps.

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    output_dim : int
        Outputs.
    max_k : int
        Most steps any series selects; extra selected steps are dropped, missing ones are
        zero slots.
    hidden_dim : int, default=64
        Hidden width.
    dropout : float, default=0.1
        Dropout.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        max_k: int,
        hidden_dim: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.max_k = max_k
        self.input_scaler = InputScaler(input_dim)
        self.net = nn.Sequential(
            nn.Linear(max_k * (input_dim + 2), hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.GELU(),
            nn.Linear(hidden_dim, output_dim),
        )

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, None]:
        """Predict from the selected steps, packed in time order into ``max_k`` slots.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        mask : torch.Tensor of shape (n, T)
            Selection mask in [0, 1] (hard 0/1 at inference, straight-through in training);
            unselected steps cannot reach the output.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, set to exactly 0 after standardisation.

        Returns
        -------
        output : torch.Tensor of shape (n, output_dim)
            Logits or regression values.
        weights : None
            This head has no influence map.
        """
        values, indices, valid = gather_selected(self.input_scaler(x, padding_mask), mask)
        n, k, _ = values.shape
        pos = indices.to(x.dtype) / max(x.shape[1] - 1, 1)
        slots = torch.cat(
            [values, (pos * valid).unsqueeze(-1), valid.to(x.dtype).unsqueeze(-1)], -1
        )
        if k >= self.max_k:
            slots = slots[:, : self.max_k]
        else:
            slots = torch.cat([slots, slots.new_zeros(n, self.max_k - k, slots.shape[-1])], 1)
        return self.net(slots.flatten(1)), None


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
