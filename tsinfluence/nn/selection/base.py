"""Shared pieces of the selection strategies: the base class and the resolution of ``k``."""

from __future__ import annotations

import numbers
from abc import ABCMeta, abstractmethod

import torch
from torch import nn

__all__ = ["SelectionStrategy", "hard_topk", "relaxed_topk", "resolve_k", "straight_through"]

NEG_INF = float("-inf")

#: Above this many selected steps, :func:`relaxed_topk` switches from ``k`` successive
#: softmaxes (``O(kT)`` time and memory) to an ``O(T)`` sigmoid around the k-th score.
SUCCESSIVE_SOFTMAX_MAX_K = 64


def resolve_k(k: int | float | None, valid: torch.Tensor) -> torch.Tensor:
    """Turn ``k`` into a per-sample number of steps to select.

    Parameters
    ----------
    k : int, float in (0, 1], or None
        An absolute number of steps, or a fraction of each series' valid length (rounded,
        at least one step). ``None`` selects every valid step.
    valid : torch.Tensor of shape (n, T), bool
        True where a step is real (not padding).

    Returns
    -------
    torch.Tensor of shape (n,), long
        ``k`` clipped to ``[1, length]`` per sample, so ``k >= length`` selects every
        valid step.
    """
    lengths = valid.sum(dim=1)
    if k is None:
        return lengths.clamp(min=1)
    if isinstance(k, bool) or not isinstance(k, numbers.Real):
        raise TypeError(f"k must be an int, a float in (0, 1] or None, got {k!r}.")
    if isinstance(k, numbers.Integral):
        if k < 1:
            raise ValueError(f"k must be >= 1 when it is an int, got {k}.")
        ks = torch.full_like(lengths, int(k))
    else:
        if not 0.0 < float(k) <= 1.0:
            raise ValueError(
                f"k must be in (0, 1] when it is a fraction of the series length, got {k}."
            )
        ks = torch.round(lengths.to(torch.float64) * float(k)).long()
    return torch.minimum(ks.clamp(min=1), lengths.clamp(min=1))


def hard_topk(scores: torch.Tensor, ks: torch.Tensor) -> torch.Tensor:
    """Exact k-hot mask of the ``ks[i]`` highest scores of each row (ties by position).

    ``-inf`` scores (padding) are never chosen while ``ks[i]`` is at most the number of
    finite scores of row ``i``.
    """
    n, length = scores.shape
    kmax = int(ks.max()) if n else 0
    idx = torch.topk(scores, kmax, dim=1, sorted=True).indices
    keep = torch.arange(kmax, device=scores.device)[None, :] < ks[:, None]
    mask = torch.zeros(n, length, dtype=scores.dtype, device=scores.device)
    return mask.scatter(1, idx, keep.to(scores.dtype))


def standardize(logits: torch.Tensor) -> torch.Tensor:
    """Center and scale each row's finite logits to unit variance (``-inf`` stays).

    The relaxations then work at a fixed scale, so a temperature means the same thing
    whatever the scorer's output scale, and the relaxed gradient never saturates because
    the scores grew.
    """
    finite = torch.isfinite(logits)
    count = finite.sum(dim=1, keepdim=True).clamp(min=1)
    filled = torch.where(finite, logits, torch.zeros_like(logits))
    mean = filled.sum(dim=1, keepdim=True) / count
    var = (torch.where(finite, logits - mean, torch.zeros_like(logits)) ** 2).sum(
        dim=1, keepdim=True
    ) / count
    # ``filled``, not ``logits``: (-inf - mean) / std in the unused branch of ``where`` would
    # make the gradient of the whole row NaN as soon as one step is padding.
    return torch.where(finite, (filled - mean) / (var + 1e-6).sqrt(), logits)


def relaxed_topk(
    logits: torch.Tensor, ks: torch.Tensor, temperature: float, eps: float = 1e-20
) -> torch.Tensor:
    """Relaxed k-hot vector by successive softmaxes (Xie & Ermon 2019; Plotz & Roth 2018).

    Each of ``k`` rounds takes a softmax over the remaining probability mass, so the result
    sums to ``k`` per row, every entry lies in ``[0, 1]``, and every step receives gradient.
    That costs ``k`` passes over ``(n, T)`` in time and memory; when some row selects more
    than :data:`SUCCESSIVE_SOFTMAX_MAX_K` steps (long series, dense-to-sparse schedules),
    the ``O(T)`` relaxation ``sigmoid((z - t) / temperature)`` is used instead, with ``t``
    midway between the k-th and (k+1)-th standardised scores ``z``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, T)
        ``-inf`` marks padding.
    ks : torch.Tensor of shape (n,)
        Steps to select per row.
    temperature : float
        Softmax temperature; smaller is closer to the exact top-k.
    """
    kmax = int(ks.max()) if len(ks) else 0
    w = standardize(logits)
    if kmax > SUCCESSIVE_SOFTMAX_MAX_K:
        return _sigmoid_topk(w, ks, temperature)
    khot = torch.zeros_like(logits)
    onehot = torch.zeros_like(logits)
    for j in range(kmax):
        # Remove the mass already taken (in logit units, before the temperature).
        w = w + torch.log((1.0 - onehot).clamp(min=eps))
        onehot = torch.softmax(w / temperature, dim=1)
        active = (ks > j).to(logits.dtype)[:, None]
        khot = khot + active * onehot
    return khot.clamp(min=0.0, max=1.0)


def _sigmoid_topk(z: torch.Tensor, ks: torch.Tensor, temperature: float) -> torch.Tensor:
    """``sigmoid((z - t) / temperature)`` with ``t`` between the k-th and (k+1)-th of ``z``."""
    length = z.shape[1]
    ordered = z.detach().sort(dim=1, descending=True).values
    kth = ordered.gather(1, (ks - 1).clamp(min=0)[:, None])
    following = ordered.gather(1, ks.clamp(max=length - 1)[:, None])
    # When k covers every valid step, put the threshold one unit below the last of them.
    following = torch.where(
        torch.isfinite(following) & (ks[:, None] < length), following, kth - 1.0
    )
    return torch.sigmoid((z - (kth + following) / 2) / temperature)


class _StraightThrough(torch.autograd.Function):
    """Forward: ``hard`` exactly. Backward: the incoming gradient goes to ``soft``."""

    @staticmethod
    def forward(ctx, hard, soft):
        return hard.clone()

    @staticmethod
    def backward(ctx, grad):
        return None, grad


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Exact ``hard`` values in the forward pass, the gradient of ``soft`` in the backward.

    Unlike ``hard + soft - soft.detach()``, the forward values are bit-exact (0 and 1 stay
    0 and 1).
    """
    return _StraightThrough.apply(hard.detach(), soft)


class SelectionStrategy(nn.Module, metaclass=ABCMeta):
    """Base class: map per-step scores to a selection mask.

    Subclasses implement :meth:`forward` returning a float mask of shape ``(n, T)`` whose
    forward values are exactly 0 or 1 and whose gradient reaches the scores. A strategy may
    add a penalty to the training loss through :meth:`budget_loss`.

    Parameters
    ----------
    k : int, float or None
        Steps to select (see :func:`resolve_k`).
    temperature : float
        Temperature of the relaxation used for the gradient.
    """

    def __init__(self, k: int | float | None = None, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}.")
        self.k = k
        self.temperature = temperature

    @abstractmethod
    def forward(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the selection mask for ``scores``; padded steps must be 0.

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step scores (logits); ``-inf`` marks a step that cannot be selected.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which are never selected.

        Returns
        -------
        torch.Tensor of shape (n, T)
            Float mask in the dtype of ``scores``: exactly 0 or 1 in the forward pass, with
            a gradient that reaches ``scores``.
        """

    def budget_loss(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Penalty that keeps the selection to its budget; zero for exact-k strategies.

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step scores (logits); ``-inf`` marks a step that cannot be selected.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which do not count.

        Returns
        -------
        torch.Tensor
            Scalar penalty, added to the training loss with weight ``alpha_budget``; this
            base implementation returns 0.
        """
        return scores.new_zeros(())

    @staticmethod
    def valid_steps(scores: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
        """The steps that can be selected: not padded and with a score other than ``-inf``.

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step scores; ``-inf`` marks an invalid step.
        padding_mask : torch.Tensor of shape (n, T), bool, or None
            True at padded steps.

        Returns
        -------
        torch.Tensor of shape (n, T), bool
            True at the valid steps.
        """
        valid = ~torch.isneginf(scores)
        if padding_mask is not None:
            valid = valid & ~padding_mask
        return valid

    def extra_repr(self) -> str:
        """The settings shown in the module's ``repr``.

        Returns
        -------
        str
            ``k`` and ``temperature``.
        """
        return f"k={self.k}, temperature={self.temperature}"
