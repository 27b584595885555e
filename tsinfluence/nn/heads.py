"""Predictor heads: models that predict from the selected timestamps only.

Every head maps ``(x, mask, padding_mask)`` to ``(output, weights)``: ``output`` has shape
``(n, output_dim)``, ``weights`` is an ``(n, T)`` influence map or ``None``. Unselected steps
are hidden by multiplying the input by the mask (never by ``masked_fill``), so the output
stays differentiable in the mask at every step: the selector can learn to *add* a step, not
only to drop one.
"""

from __future__ import annotations

import torch
from torch import nn

from .positional import make_positional_encoding
from .selector import gather_selected

__all__ = ["AttentionPoolingHead", "MLPHead", "ModuleAdapter", "apply_mask"]


def apply_mask(
    x: torch.Tensor, mask: torch.Tensor, baseline: torch.Tensor | None = None
) -> torch.Tensor:
    """Keep the selected steps of ``x`` and replace the others by ``baseline`` (default 0).

    Parameters
    ----------
    x : torch.Tensor of shape (n, T, D)
    mask : torch.Tensor of shape (n, T)
    baseline : torch.Tensor broadcastable to (n, T, D), optional

    Returns
    -------
    torch.Tensor of shape (n, T, D)
    """
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

    An unselected step has weight exactly 0 in the forward pass, and embeddings never mix
    steps, so nothing of an unselected value reaches the output. Yet ``dw_t / dm_t =
    exp(a_t) / Z`` is non-zero and depends on ``x_t``: the gradient to an unselected step
    says what adding it would do (the selector can learn to add steps, not only drop them).

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
        self.embed = nn.Linear(input_dim, hidden_dim)
        self.positional = make_positional_encoding(positional_encoding, hidden_dim, max_len)
        self.step = nn.Sequential(nn.GELU(), nn.Linear(hidden_dim, hidden_dim), nn.GELU())
        self.attend = nn.Linear(hidden_dim, 1)
        self.out = nn.Sequential(
            nn.LayerNorm(hidden_dim),
            nn.Linear(hidden_dim, hidden_dim),
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
        """Predict from the selected steps; return ``(output (n, out), weights (n, T))``."""
        h = self.step(self.positional(self.embed(x)))
        a = self.attend(h).squeeze(-1)
        if padding_mask is not None:
            a = a.masked_fill(padding_mask, float("-inf"))
        a = a - a.detach().amax(dim=1, keepdim=True)
        e = torch.exp(a) * mask
        weights = e / e.sum(dim=1, keepdim=True).clamp(min=torch.finfo(e.dtype).tiny)
        context = (weights.unsqueeze(-1) * h).sum(dim=1)
        return self.out(context), weights


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
        """Predict from the packed selected steps; return ``(output, None)``."""
        values, indices, valid = gather_selected(x, mask)
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


class ModuleAdapter(nn.Module):
    """Run any user ``nn.Module`` on the masked series (model-agnostic predictor).

    The module receives ``x * mask + baseline * (1 - mask)`` of shape ``(n, T, D)`` and must
    return ``(n, output_dim)`` (or ``(n,)``, which is reshaped).

    Parameters
    ----------
    module : torch.nn.Module
        The user's predictor.
    baseline : torch.Tensor, optional
        Fill value for unselected steps, broadcastable to ``(n, T, D)``; zeros by default.
    """

    def __init__(self, module: nn.Module, baseline: torch.Tensor | None = None) -> None:
        super().__init__()
        self.module = module
        self.register_buffer("baseline", baseline)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, None]:
        """Predict with the wrapped module on the masked input; return ``(output, None)``."""
        out = self.module(apply_mask(x, mask, self.baseline))
        if isinstance(out, tuple):
            out = out[0]
        if out.dim() == 1:
            out = out.unsqueeze(-1)
        return out, None
