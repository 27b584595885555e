"""Training losses: task, DPP diversity, InfoNCE mutual information, selection budget."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .selector import gather_selected

__all__ = ["CombinedLoss", "InfoNCECritic", "dpp_diversity_loss", "mi_loss"]


def dpp_diversity_loss(
    features: torch.Tensor, mask: torch.Tensor, sigma: float = 1.0, jitter: float = 1e-4
) -> torch.Tensor:
    """Determinantal-point-process diversity penalty of the selected steps.

    With the RBF kernel ``K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2))`` restricted to the
    selected steps ``S`` (and scaled by the mask so the gradient reaches it), the penalty is
    ``-log det(K_S + jitter I) / |S|`` averaged over series. It is 0 for perfectly diverse
    steps and grows as selected steps become similar. The jitter keeps it finite for
    duplicated or constant steps, ``k = 1`` and ``k = T``.

    Parameters
    ----------
    features : torch.Tensor of shape (n, T, D)
    mask : torch.Tensor of shape (n, T)
    sigma : float, default=1.0
        Kernel bandwidth.
    jitter : float, default=1e-4
        Added to the diagonal.

    Returns
    -------
    torch.Tensor
        Scalar penalty.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}.")
    _, indices, valid = gather_selected(features, mask)
    weights = torch.gather(mask, 1, indices) * valid  # (n, k), 1 forward on selected slots
    raw = torch.gather(features, 1, indices.unsqueeze(-1).expand(-1, -1, features.shape[-1]))
    raw = raw.to(torch.float64)
    kernel = torch.exp(-torch.cdist(raw, raw).pow(2) / (2.0 * sigma**2))
    w = weights.to(torch.float64)
    outer = w.unsqueeze(2) * w.unsqueeze(1)
    eye = torch.eye(kernel.shape[1], dtype=torch.float64, device=kernel.device)
    # Selected block: w_i w_j K_ij; unused slots become identity rows (log det 0).
    lmat = outer * kernel * (1 - eye) + eye * (1 + jitter)
    lmat = torch.where(valid.unsqueeze(2) & valid.unsqueeze(1), lmat, eye * (1 + jitter))
    chol, info = torch.linalg.cholesky_ex(lmat)
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(dim=1)
    logdet = torch.where(info == 0, logdet, torch.logdet(lmat))
    size = valid.sum(dim=1).clamp(min=1)
    penalty = -(logdet - size * torch.log1p(torch.tensor(jitter, dtype=torch.float64))) / size
    return penalty.mean().to(features.dtype)


class InfoNCECritic(nn.Module):
    """Bilinear critic of the InfoNCE bound between selected and full-series summaries.

    Parameters
    ----------
    input_dim : int or None
        Channels ``D``; ``None`` infers it on the first call (``LazyLinear``).
    proj_dim : int, default=32
        Projection width.
    """

    def __init__(self, input_dim: int | None = None, proj_dim: int = 32) -> None:
        super().__init__()
        if input_dim is None:
            self.proj_selected = nn.LazyLinear(proj_dim)
            self.proj_full = nn.LazyLinear(proj_dim)
        else:
            self.proj_selected = nn.Linear(input_dim, proj_dim)
            self.proj_full = nn.Linear(input_dim, proj_dim)

    def forward(self, selected: torch.Tensor, full: torch.Tensor) -> torch.Tensor:
        """Score every (selected, full) pair of summaries.

        Parameters
        ----------
        selected : torch.Tensor of shape (n, D)
            Summaries of the selected steps, one per series.
        full : torch.Tensor of shape (n, D)
            Summaries of the whole series, in the same order.

        Returns
        -------
        torch.Tensor of shape (n, n)
            Cosine similarity of the projections divided by a temperature of 0.1; entry
            ``(i, j)`` scores selection ``i`` against series ``j`` (the diagonal holds the
            matching pairs).
        """
        a = F.normalize(self.proj_selected(selected), dim=-1)
        b = F.normalize(self.proj_full(full), dim=-1)
        return a @ b.T / 0.1


def mi_loss(
    critic: InfoNCECritic,
    features: torch.Tensor,
    mask: torch.Tensor,
    padding_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """InfoNCE loss whose minimum maximises a lower bound on I(selected steps; series).

    The summary of the selected steps (mask-weighted mean) must identify its own series
    among the batch's full-series summaries. Returns 0 for a batch of one series.

    Parameters
    ----------
    critic : InfoNCECritic
        Scores (selected, full) summary pairs.
    features : torch.Tensor of shape (n, T, D)
        The series (padded steps hold 0).
    mask : torch.Tensor of shape (n, T)
        Selection mask; the selected summary is the mask-weighted mean of the steps.
    padding_mask : torch.Tensor of shape (n, T), optional
        True marks padding, left out of the full-series mean.

    Returns
    -------
    torch.Tensor
        Scalar cross-entropy of identifying each series from its selection (0 when
        ``n < 2``).
    """
    n = features.shape[0]
    if n < 2:
        return features.new_zeros(())
    valid = torch.ones_like(mask) if padding_mask is None else (~padding_mask).to(mask.dtype)
    selected = (features * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    full = (features * valid.unsqueeze(-1)).sum(1) / valid.sum(1, keepdim=True).clamp(min=1)
    scores = critic(selected, full)
    return F.cross_entropy(scores, torch.arange(n, device=features.device))


class CombinedLoss(nn.Module):
    """Task loss plus diversity, mutual-information and budget terms.

    ``total = alpha_task * task + alpha_diversity * dpp + alpha_mi * mi + alpha_budget *
    budget``.

    Parameters
    ----------
    task_loss_fn : callable, optional
        ``(predictions, targets) -> scalar``; ``nn.MSELoss()`` by default.
    alpha_task : float, default=1.0
        Weight of the task loss.
    alpha_diversity : float, default=0.1
        Weight of :func:`dpp_diversity_loss` (needs ``features`` and ``mask``).
    alpha_mi : float, default=0.05
        Weight of :func:`mi_loss` (only when ``use_mi``).
    use_mi : bool, default=False
        Whether to add the InfoNCE term; its critic is a submodule trained with the model.
    sigma : float, default=1.0
        DPP kernel bandwidth.
    alpha_budget : float, default=1.0
        Weight of the selection budget penalty passed as ``budget``.
    input_dim : int, optional
        Channels, to build the MI critic eagerly (lazily otherwise).
    """

    def __init__(
        self,
        task_loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        alpha_task: float = 1.0,
        alpha_diversity: float = 0.1,
        alpha_mi: float = 0.05,
        use_mi: bool = False,
        sigma: float = 1.0,
        alpha_budget: float = 1.0,
        input_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.task_loss_fn = task_loss_fn if task_loss_fn is not None else nn.MSELoss()
        self.alpha_task = alpha_task
        self.alpha_diversity = alpha_diversity
        self.alpha_mi = alpha_mi
        self.use_mi = use_mi
        self.sigma = sigma
        self.alpha_budget = alpha_budget
        self.critic = InfoNCECritic(input_dim) if use_mi else None

    def forward(
        self,
        predictions: torch.Tensor,
        targets: torch.Tensor,
        features: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
        budget: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Compute the total loss.

        Parameters
        ----------
        predictions : torch.Tensor of shape (n, output_dim)
            Predictor outputs.
        targets : torch.Tensor of shape (n,)
            Targets, as ``task_loss_fn`` expects them.
        features : torch.Tensor of shape (n, T, D), optional
            The series; with ``mask``, enables the diversity and MI terms (0 otherwise).
        mask : torch.Tensor of shape (n, T), optional
            Selection mask of the series.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps (used by the MI term).
        budget : torch.Tensor, optional
            Scalar selection-budget penalty (a strategy's ``budget_loss``); 0 if omitted.

        Returns
        -------
        total : torch.Tensor
            Scalar to back-propagate.
        components : dict of str to torch.Tensor
            Detached ``task``, ``diversity``, ``mi``, ``budget`` and ``total``.
        """
        task = self.task_loss_fn(predictions, targets)
        zero = task.new_zeros(())
        parts = {"task": task, "diversity": zero, "mi": zero, "budget": zero}
        have_selection = features is not None and mask is not None
        if have_selection and self.alpha_diversity:
            parts["diversity"] = dpp_diversity_loss(features, mask, self.sigma)
        if have_selection and self.use_mi and self.alpha_mi:
            parts["mi"] = mi_loss(self.critic, features, mask, padding_mask)
        if budget is not None:
            parts["budget"] = budget
        total = (
            self.alpha_task * parts["task"]
            + self.alpha_diversity * parts["diversity"]
            + self.alpha_mi * parts["mi"]
            + self.alpha_budget * parts["budget"]
        )
        components = {name: value.detach() for name, value in parts.items()}
        components["total"] = total.detach()
        return total, components
