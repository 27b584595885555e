"""The attention scorer: a small Transformer encoder that gives one logit per timestamp."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .positional import make_positional_encoding

__all__ = ["AttentionScorer", "EncoderBlock"]


class EncoderBlock(nn.Module):
    """Pre-norm Transformer encoder block built on ``scaled_dot_product_attention``.

    Parameters
    ----------
    dim : int
        Model dimension (divisible by ``num_heads``).
    num_heads : int
        Number of attention heads.
    dropout : float
        Dropout on attention weights and on the residual branches.
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

    def forward(self, h: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        """Apply the block.

        Parameters
        ----------
        h : torch.Tensor of shape (n, T, dim)
        attn_mask : torch.Tensor of shape (n, 1, T, T) or None
            Boolean; True where attention is allowed.
        """
        n, length, dim = h.shape
        q, k, v = (
            self.qkv(self.norm1(h))
            .view(n, length, 3, self.num_heads, dim // self.num_heads)
            .permute(2, 0, 3, 1, 4)
        )
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
        )
        h = h + self.drop(self.out(a.transpose(1, 2).reshape(n, length, dim)))
        return h + self.drop(self.ff(self.norm2(h)))


class AttentionScorer(nn.Module):
    """Score every timestamp of a series with multi-head self-attention.

    Input projection, positional encoding, ``num_layers`` encoder blocks, and a linear layer
    that gives one logit per step. Padded steps get ``-inf``, so they can never win a
    selection.

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
        length = x.shape[1]
        h = self.positional(self.input_proj(x))
        attn_mask = None
        if padding_mask is not None:
            attn_mask = (~padding_mask)[:, None, None, :]  # keys that may be attended
        if self.causal:
            tri = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
            attn_mask = tri[None, None] if attn_mask is None else attn_mask & tri[None, None]
        if attn_mask is not None:
            # Every query may attend to itself, so no row of the attention is empty.
            attn_mask = attn_mask | torch.eye(length, dtype=torch.bool, device=x.device)
        for block in self.blocks:
            h = block(h, attn_mask)
        logits = self.head(self.norm(h)).squeeze(-1)
        if padding_mask is not None:
            logits = logits.masked_fill(padding_mask, float("-inf"))
        return logits
