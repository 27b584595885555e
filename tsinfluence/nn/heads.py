"""Predictor heads: models that predict from the selected timestamps only.

Every head maps ``(x, mask, padding_mask)`` to ``(output, weights)``: ``output`` has shape
``(n, output_dim)``, ``weights`` is an ``(n, T)`` influence map or ``None``. Unselected steps
are hidden by multiplying the input by the mask (never by ``masked_fill``), so the output
stays differentiable in the mask at every step: the selector can learn to *add* a step, not
only to drop one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .adapters import CallableAdapter, MaskBaseline, ModuleAdapter
from .conv import ConvHead
from .positional import make_positional_encoding
from .scaling import InputScaler
from .selector import gather_selected

__all__ = ["PREDICTORS", "AttentionPoolingHead", "MLPHead", "build_predictor", "predict_every_step"]

#: The built-in predictors by name (:func:`build_predictor`).
PREDICTORS = ("cnn", "attention", "mlp")


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


def predict_every_step(
    model: nn.Module, x: torch.Tensor, padding_mask: torch.Tensor | None
) -> torch.Tensor:
    """A predictor head's output (logits or values) with every valid step selected.

    Parameters
    ----------
    model : torch.nn.Module
        A head with the signature ``(x, mask, padding_mask) -> (output, weights)``.
    x : torch.Tensor of shape (n, T, D)
    padding_mask : torch.Tensor of shape (n, T), bool, or None

    Returns
    -------
    torch.Tensor of shape (n, output_dim)
    """
    valid = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    if padding_mask is not None:
        valid = (~padding_mask).to(x.dtype)
    return model(x, valid, padding_mask)[0]


def build_predictor(
    predictor: str | nn.Module | Callable,
    input_dim: int,
    output_dim: int,
    hidden_dim: int,
    dropout: float,
    positional_encoding: str | None,
    max_len: int,
    max_k: int,
    baseline: MaskBaseline | None = None,
    fill: str = "zeros",
) -> nn.Module:
    """Build a predictor head by name, or adapt a user ``nn.Module`` or numpy callable.

    ``baseline`` fills the unselected steps for a user module or callable; ``fill`` those of
    the built-in ``"cnn"`` head (:class:`ConvHead`).
    """
    if isinstance(predictor, nn.Module):
        if isinstance(
            predictor, AttentionPoolingHead | ConvHead | MLPHead | ModuleAdapter | CallableAdapter
        ):
            return predictor
        return ModuleAdapter(predictor, baseline)
    if callable(predictor):
        return CallableAdapter(predictor, baseline)
    if predictor == "attention":
        return AttentionPoolingHead(
            input_dim, output_dim, hidden_dim, dropout, positional_encoding, max_len
        )
    if predictor == "mlp":
        return MLPHead(input_dim, output_dim, max_k, hidden_dim, dropout)
    if predictor == "cnn":
        return ConvHead(input_dim, output_dim, hidden_dim, dropout, fill=fill)
    raise ValueError(
        "predictor must be 'cnn', 'attention', 'mlp', a torch.nn.Module or a callable, got "
        f"{predictor!r}."
    )
