"""Positional encodings added to per-step embeddings."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LearnedPositionalEncoding", "SinusoidalPositionalEncoding", "make_positional_encoding"]


class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sine/cosine positional encoding (Vaswani et al. 2017), any sequence length.

    Parameters
    ----------
    dim : int
        Embedding dimension.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the encoding to ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, dim)
            Per-step embeddings; ``T`` may be any length.

        Returns
        -------
        torch.Tensor of shape (n, T, dim)
            ``x + pe`` with ``pe[t, 2i] = sin(t / 10000^(2i / dim))`` and
            ``pe[t, 2i + 1] = cos(t / 10000^(2i / dim))``, in the dtype of ``x``.
        """
        length = x.shape[1]
        position = torch.arange(length, device=x.device, dtype=x.dtype).unsqueeze(1)
        div = torch.exp(
            torch.arange(0, self.dim, 2, device=x.device, dtype=x.dtype)
            * (-math.log(10000.0) / self.dim)
        )
        pe = torch.zeros(length, self.dim, device=x.device, dtype=x.dtype)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div[: self.dim // 2])
        return x + pe


class LearnedPositionalEncoding(nn.Module):
    """A learned embedding per position, up to ``max_len`` steps.

    Parameters
    ----------
    dim : int
        Embedding dimension.
    max_len : int
        Longest sequence the encoding supports.
    """

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, dim)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the encoding to ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, dim)
            Per-step embeddings, with ``T <= max_len``.

        Returns
        -------
        torch.Tensor of shape (n, T, dim)
            ``x`` plus the learned embedding of each position ``0 .. T - 1``.

        Raises
        ------
        ValueError
            If ``T > max_len``.
        """
        length = x.shape[1]
        if length > self.max_len:
            raise ValueError(
                f"Sequence length {length} exceeds max_len={self.max_len} of the learned "
                "positional encoding."
            )
        return x + self.embedding.weight[:length].unsqueeze(0)


#: The positional encodings by name (``None``: none).
POSITIONAL_ENCODINGS = ("sinusoidal", "learned", None)


def make_positional_encoding(kind: str | None, dim: int, max_len: int) -> nn.Module:
    """Build a positional encoding by name.

    Parameters
    ----------
    kind : {"sinusoidal", "learned", None}
        The encoding; ``None`` adds nothing.
    dim : int
        Embedding dimension.
    max_len : int
        Longest sequence (used by ``"learned"``).

    Returns
    -------
    torch.nn.Module
    """
    if kind is None or kind == "none":
        return nn.Identity()
    if kind == "sinusoidal":
        return SinusoidalPositionalEncoding(dim)
    if kind == "learned":
        return LearnedPositionalEncoding(dim, max_len)
    raise ValueError(f"positional_encoding must be 'sinusoidal', 'learned' or None, got {kind!r}.")
