"""The attention scorer: a small Transformer encoder that gives one logit per timestamp."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .positional import make_positional_encoding
from .scaling import InputScaler

__all__ = ["AttentionScorer", "EncoderBlock", "attention_mask"]


def attention_mask(
    padding_mask: torch.Tensor | None, causal: bool
) -> tuple[torch.Tensor | None, bool]:
    """The cheapest ``(attn_mask, is_causal)`` pair for ``scaled_dot_product_attention``.

    The memory-efficient (flash) kernels need either no mask, ``is_causal=True``, or a
    key-padding mask of shape ``(n, 1, 1, T)``; a full ``(n, 1, T, T)`` mask costs
    ``O(n T^2)`` memory (4 GiB of booleans for 64 series of 16384 steps). So:

    - no padding: no mask (``is_causal`` as asked);
    - padding, not causal: a key-padding mask ``(n, 1, 1, T)`` (a series with no valid step
      attends to all of its steps, so no attention row is empty; its logits are ``-inf``);
    - padding, causal, padding only at the end of each series (what the estimators
      produce): ``is_causal=True`` alone is exact for the valid steps, because a valid step
      ``t`` attends to steps ``<= t`` and those are all valid;
    - padding anywhere else with ``causal``: the full mask, with the diagonal allowed so
      that no row is empty.

    Parameters
    ----------
    padding_mask : torch.Tensor of shape (n, T), bool, or None
        True at padded steps.
    causal : bool
        Causal attention.

    Returns
    -------
    attn_mask : torch.Tensor or None
        Boolean, True where attention is allowed.
    is_causal : bool
    """
    if padding_mask is None or not bool(padding_mask.any()):
        return None, causal
    valid = ~padding_mask
    if not causal:
        keys = valid | ~valid.any(dim=1, keepdim=True)
        return keys[:, None, None, :], False
    if not bool((padding_mask[:, :-1] & valid[:, 1:]).any()):
        return None, True
    length = padding_mask.shape[1]
    eye = torch.eye(length, dtype=torch.bool, device=padding_mask.device)
    tri = torch.ones(length, length, dtype=torch.bool, device=padding_mask.device).tril()
    return (tri[None, None] & valid[:, None, None, :]) | eye, False


class EncoderBlock(nn.Module):
    """Pre-norm Transformer encoder block built on ``scaled_dot_product_attention``.

    Parameters
    ----------
    dim : int
        Model dimension (divisible by ``num_heads``).
    num_heads : int
        Number of attention heads.
    dropout : float
        Dropout on the residual branches. Attention weights are not dropped: dropout inside
        ``scaled_dot_product_attention`` forces its ``O(T^2)``-memory math kernel on CPU.
    ff_mult : int, default=2
        Width of the feed-forward layer as a multiple of ``dim``.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float, ff_mult: int = 2) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"hidden_dim={dim} must be divisible by num_heads={num_heads}.")
        self.num_heads = num_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_mult * dim), nn.GELU(), nn.Linear(ff_mult * dim, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(
        self, h: torch.Tensor, attn_mask: torch.Tensor | None, is_causal: bool = False
    ) -> torch.Tensor:
        """Apply the block.

        Parameters
        ----------
        h : torch.Tensor of shape (n, T, dim)
        attn_mask : torch.Tensor broadcastable to (n, 1, T, T), or None
            Boolean; True where attention is allowed (see :func:`attention_mask`).
        is_causal : bool, default=False
            Causal attention without an explicit mask.
        """
        n, length, dim = h.shape
        q, k, v = (
            self.qkv(self.norm1(h))
            .view(n, length, 3, self.num_heads, dim // self.num_heads)
            .permute(2, 0, 3, 1, 4)
        )
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
        h = h + self.drop(self.out(a.transpose(1, 2).reshape(n, length, dim)))
        return h + self.drop(self.ff(self.norm2(h)))


class AttentionScorer(nn.Module):
    """Score every timestamp of a series with multi-head self-attention.

    Per-channel standardisation (:class:`~tsinfluence.nn.scaling.InputScaler`, the identity
    until its statistics are set), input projection, positional encoding, ``num_layers``
    encoder blocks, and a linear layer that gives one logit per step. Padded steps get
    ``-inf``, so they can never win a selection. Memory is ``O(n T)``: attention runs on the
    fused kernels of ``scaled_dot_product_attention`` (see :func:`attention_mask`).

    Parameters
    ----------
    input_dim : int
        Number of channels ``D``.
    hidden_dim : int, default=64
        Model dimension.
    num_heads : int, default=4
        Attention heads.
    num_layers : int, default=1
        Encoder blocks.
    dropout : float, default=0.1
        Dropout rate.
    positional_encoding : {"sinusoidal", "learned", None}, default="sinusoidal"
        How positions are encoded.
    causal : bool, default=False
        If True, step ``t`` attends only to steps ``<= t``.
    max_len : int, default=4096
        Longest series for ``positional_encoding="learned"``.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 64,
        num_heads: int = 4,
        num_layers: int = 1,
        dropout: float = 0.1,
        positional_encoding: str | None = "sinusoidal",
        causal: bool = False,
        max_len: int = 4096,
    ) -> None:
        super().__init__()
        self.causal = causal
        self.input_scaler = InputScaler(input_dim)
        self.input_proj = nn.Linear(input_dim, hidden_dim)
        self.positional = make_positional_encoding(positional_encoding, hidden_dim, max_len)
        self.blocks = nn.ModuleList(
            EncoderBlock(hidden_dim, num_heads, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(hidden_dim)
        self.head = nn.Linear(hidden_dim, 1)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Compute per-step logits.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True marks a padded step.

        Returns
        -------
        torch.Tensor of shape (n, T)
            Logits; ``-inf`` at padded steps.
        """
        h = self.positional(self.input_proj(self.input_scaler(x, padding_mask)))
        attn_mask, is_causal = attention_mask(padding_mask, self.causal)
        for block in self.blocks:
            h = block(h, attn_mask, is_causal)
        logits = self.head(self.norm(h)).squeeze(-1)
        if padding_mask is not None:
            logits = logits.masked_fill(padding_mask, float("-inf"))
        return logits
