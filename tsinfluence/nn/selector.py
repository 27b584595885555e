"""TimestampSelector: an attention scorer followed by a selection strategy."""

from __future__ import annotations

import inspect

import torch
from torch import nn

from .conv import ConvScorer
from .scorer import AttentionScorer
from .selection import SelectionStrategy, make_selection

__all__ = ["SCORERS", "TimestampSelector"]

#: Scorers of :class:`TimestampSelector`: ``"attention"`` (:class:`AttentionScorer`) or
#: ``"cnn"`` (:class:`~tsinfluence.nn.conv.ConvScorer`).
SCORERS = ("attention", "cnn")


class TimestampSelector(nn.Module):
    """Score every timestamp and select the influential ones.

    Parameters
    ----------
    input_dim : int
        Number of channels ``D`` of the input ``(n, T, D)``.
    hidden_dim : int, default=128
        Width of the attention scorer.
    num_heads : int, default=4
        Attention heads.
    selection_method : {"topk", "gumbel", "threshold"}, default="topk"
        How scores become a mask. Replace :attr:`selector` with any ``nn.Module`` mapping
        ``scores (n, T)`` to a mask ``(n, T)`` for a custom strategy.
    k : int, float or None, default=None
        Steps to select: an int, a fraction of each series' valid length, or ``None`` for a
        quarter of it. For ``"threshold"`` it is the target selection rate.
    temperature : float, default=1.0
        Temperature of the relaxation that carries the gradient.
    dropout : float, default=0.1
        Dropout in the scorer.
    num_layers : int, default=1
        Encoder blocks in the scorer.
    positional_encoding : {"sinusoidal", "learned", None}, default="sinusoidal"
        Positional encoding of the scorer.
    causal : bool, default=False
        Causal attention in the scorer.
    threshold : float, default=0.5
        Gate threshold of ``"threshold"``.
    max_len : int, default=4096
        Longest series for learned positional encodings.
    scorer : {"attention", "cnn"}, default="attention"
        The scorer: multi-head self-attention (``num_heads``, ``num_layers``,
        ``positional_encoding`` and ``causal`` apply to it), or a small convolutional network
        with relative-position channels (:class:`~tsinfluence.nn.conv.ConvScorer`).

    Attributes
    ----------
    scorer : AttentionScorer or ConvScorer
        Maps ``(n, T, D)`` to logits ``(n, T)``.
    strategy : torch.nn.Module
        The selection strategy (replaceable); ``selector`` is its name in the seed API and
        stays an alias.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 128,
        num_heads: int = 4,
        selection_method: str = "topk",
        k: int | float | None = None,
        temperature: float = 1.0,
        dropout: float = 0.1,
        num_layers: int = 1,
        positional_encoding: str | None = "sinusoidal",
        causal: bool = False,
        threshold: float = 0.5,
        max_len: int = 4096,
        scorer: str = "attention",
    ) -> None:
        super().__init__()
        if scorer not in SCORERS:
            raise ValueError(f"scorer must be one of {SCORERS}, got {scorer!r}.")
        self.input_dim = input_dim
        self.selection_method = selection_method
        self.k = 0.25 if k is None else k
        if scorer == "cnn":
            self.scorer = ConvScorer(input_dim, hidden_dim=hidden_dim)
        else:
            self.scorer = AttentionScorer(
                input_dim,
                hidden_dim=hidden_dim,
                num_heads=num_heads,
                num_layers=num_layers,
                dropout=dropout,
                positional_encoding=positional_encoding,
                causal=causal,
                max_len=max_len,
            )
        self.strategy = make_selection(
            selection_method, k=self.k, temperature=temperature, threshold=threshold
        )

    @property
    def selector(self) -> nn.Module:
        """The selection strategy under its seed-API name (an alias of :attr:`strategy`)."""
        return self.strategy

    def __setattr__(self, name: str, value) -> None:
        # nn.Module registers a module before any property setter runs: route the seed
        # API's name to the strategy here.
        super().__setattr__("strategy" if name == "selector" else name, value)

    def select(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Apply the selection strategy (built-in or custom) to scores.

        A custom strategy receives ``padding_mask`` only when its ``forward`` accepts it.

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step logits, ``-inf`` at padded steps.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which are set to 0 in the mask whatever the strategy.

        Returns
        -------
        torch.Tensor of shape (n, T)
            The strategy's mask in the dtype of ``scores``, 0 at padded steps.

        Raises
        ------
        ValueError
            If the strategy returns a mask of another shape than ``scores``.
        """
        strategy = self.strategy
        if isinstance(strategy, SelectionStrategy) or (
            "padding_mask" in inspect.signature(strategy.forward).parameters
        ):
            mask = strategy(scores, padding_mask=padding_mask)
        else:
            mask = strategy(scores)
        if mask.shape != scores.shape:
            raise ValueError(
                f"The selection module returned a mask of shape {tuple(mask.shape)}; "
                f"expected {tuple(scores.shape)}."
            )
        mask = mask.to(scores.dtype)
        if padding_mask is not None:
            mask = mask.masked_fill(padding_mask, 0.0)
        return mask

    def forward(
        self,
        x: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
        return_scores: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Select timestamps.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True marks a padded step; padded steps are never selected.
        return_scores : bool, default=False
            Also return the scores.

        Returns
        -------
        mask : torch.Tensor of shape (n, T)
            Selection mask with exact 0/1 forward values (gradient through a relaxation).
        scores : torch.Tensor of shape (n, T)
            Per-step logits (``-inf`` at padding); only when ``return_scores=True``.
        """
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ValueError(
                f"Expected x of shape (n_samples, n_timestamps, {self.input_dim}), "
                f"got {tuple(x.shape)}."
            )
        scores = self.scorer(x, padding_mask)
        mask = self.select(scores, padding_mask)
        return (mask, scores) if return_scores else mask

    def budget_loss(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The strategy's budget penalty (zero for exact-k strategies and custom modules).

        Parameters
        ----------
        scores : torch.Tensor of shape (n, T)
            Per-step logits, as returned by ``forward(..., return_scores=True)``.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps.

        Returns
        -------
        torch.Tensor
            Scalar penalty (see :meth:`SelectionStrategy.budget_loss`).
        """
        if isinstance(self.strategy, SelectionStrategy):
            return self.strategy.budget_loss(scores, padding_mask)
        return scores.new_zeros(())

    @staticmethod
    def get_selected_timestamps(
        x: torch.Tensor, mask: torch.Tensor, gather: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Extract the selected timestamps.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
        mask : torch.Tensor of shape (n, T)
        gather : bool, default=False
            If False, return ``x * mask`` of shape ``(n, T, D)`` (gradient flows to the
            mask). If True, return the selected steps packed in time order.

        Returns
        -------
        torch.Tensor of shape (n, T, D)
            When ``gather=False``.
        (values, indices, valid) : tuple
            When ``gather=True``: ``values (n, k, D)`` (scaled by the mask so gradient
            flows), ``indices (n, k)`` long, and ``valid (n, k)`` bool (False where a series
            selected fewer than ``k = max selected`` steps; those rows are zero).
        """
        if not gather:
            return x * mask.unsqueeze(-1)
        return gather_selected(x, mask)

    @staticmethod
    def compute_selection_stats(mask: torch.Tensor) -> dict[str, float]:
        """Summary statistics of a selection mask.

        Parameters
        ----------
        mask : torch.Tensor of shape (n, T)
            Selection mask; values above 0.5 count as selected.

        Returns
        -------
        dict
            ``mean_selected``, ``std_selected``, ``min_selected``, ``max_selected`` (steps
            per series), ``selection_rate`` (mean fraction of steps) and
            ``position_entropy`` (entropy in nats of how often each position is chosen).
        """
        hard = (mask.detach() > 0.5).to(torch.float64)
        per_sample = hard.sum(dim=1)
        freq = hard.sum(dim=0)
        p = freq / freq.sum().clamp(min=1.0)
        entropy = -(p[p > 0] * p[p > 0].log()).sum()
        return {
            "mean_selected": per_sample.mean().item(),
            "std_selected": per_sample.std(unbiased=False).item(),
            "min_selected": per_sample.min().item(),
            "max_selected": per_sample.max().item(),
            "selection_rate": hard.mean().item(),
            "position_entropy": entropy.item(),
        }


def gather_selected(
    x: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack the selected steps of ``x`` in time order (see ``get_selected_timestamps``)."""
    hard = mask.detach() > 0.5
    kmax = max(int(hard.sum(dim=1).max()), 1) if len(hard) else 1
    length = x.shape[1]
    # Selected steps sort first, in time order; unselected ones after them.
    order = torch.where(hard, 0, length) + torch.arange(length, device=x.device)
    indices = order.argsort(dim=1)[:, :kmax]
    valid = torch.gather(hard, 1, indices)
    weights = torch.gather(mask, 1, indices) * valid
    values = torch.gather(x, 1, indices.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return values * weights.unsqueeze(-1), indices, valid
