"""Training objectives shared by the framework and the wrapper.

:func:`random_subset_masks` draws the data-independent masks an evaluator is trained on;
:func:`fidelity_loss` measures how well a prediction from the selected steps reproduces the
prediction from the full series (explaining a frozen model).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .selection import resolve_k
from .selection.base import hard_topk

__all__ = ["fidelity_loss", "random_subset_masks"]


def fidelity_loss(prediction: torch.Tensor, reference: torch.Tensor, task: str) -> torch.Tensor:
    """How far the output on the selected steps is from the output on the full series.

    Classification: ``KL(softmax(reference) || softmax(prediction))`` in nats, averaged over
    the batch (the "distribution-aware" objective of Jethani et al. 2023). Regression: the
    squared error of the first output column divided by the batch variance of the reference
    (a scale-free number; 1 is as bad as predicting the batch mean).

    Parameters
    ----------
    prediction : torch.Tensor of shape (n, out)
        Output on the selected steps.
    reference : torch.Tensor of shape (n, out)
        Output on the full series (no gradient needed).
    task : {"classification", "regression"}

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    reference = reference.detach()
    if task == "classification":
        log_q = F.log_softmax(prediction, dim=-1)
        log_p = F.log_softmax(reference, dim=-1)
        return (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()
    err = (prediction[:, 0] - reference[:, 0]) ** 2
    scale = reference[:, 0].var(unbiased=False) if len(reference) > 1 else err.new_ones(())
    return err.mean() / scale.clamp(min=1e-8)


def random_subset_masks(
    valid: torch.Tensor, k: int | float | None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random selection masks independent of the data (for training an evaluator).

    Half of the rows get a size drawn uniformly from ``0..length`` (uniform cardinality;
    size 0 teaches the evaluator the prior, used by the deletion term), the other half a
    size drawn uniformly from ``1..min(2k, length)`` (sizes near the selection budget); the
    steps are then drawn uniformly among the valid ones.

    Parameters
    ----------
    valid : torch.Tensor of shape (n, T), bool
        True at real steps.
    k : int, float or None
        The selection budget (see :func:`resolve_k`).
    generator : torch.Generator, optional
        Random generator.

    Returns
    -------
    torch.Tensor of shape (n, T), float
    """
    n = valid.shape[0]
    device = valid.device
    lengths = valid.sum(1).clamp(min=1)
    budget = torch.minimum(2 * resolve_k(k, valid), lengths)
    uniform = torch.rand(n, generator=generator, device=device) < 0.5
    draw = torch.rand(n, generator=generator, device=device)
    sizes = torch.where(uniform, (draw * (lengths + 1)).long(), 1 + (draw * budget).long())
    sizes = torch.minimum(sizes, lengths)
    noise = torch.rand(valid.shape, generator=generator, device=device)
    return hard_topk(noise.masked_fill(~valid, float("-inf")), sizes)
