"""Training objectives shared by the framework and the wrapper.

:func:`random_subset_masks` and :func:`structured_subset_masks` draw the data-independent
masks an evaluator is trained on;
:func:`fidelity_loss` measures how well a prediction from the selected steps reproduces the
prediction from the full series (explaining a frozen model); :func:`score_function_loss`
trains the selector from real evaluations of sampled subsets.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .selection import resolve_k
from .selection.base import hard_topk

__all__ = [
    "ADVANTAGE_SPREAD_FLOOR",
    "fidelity_loss",
    "plackett_luce_log_prob",
    "random_subset_masks",
    "score_function_loss",
    "structured_subset_masks",
]


#: Added to a series' spread of rewards before its advantages are divided by it
#: (``score_function_loss(normalize=True)``): rewards that differ by much less than this
#: (a log-likelihood, in nats) keep advantages below 1, so near-ties on series the predictor
#: is sure of are not blown up into noise. Measured on nine real data sets, 5 seeds: 0.1
#: against 0.01 raised ArrowHead 0.776 -> 0.813 and PickupGestureWiimoteZ 0.780 -> 0.816
#: and moved the others by at most 0.014 (``benchmarks/results/accuracy_analysis.md``).
ADVANTAGE_SPREAD_FLOOR = 0.1


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


def structured_subset_masks(
    valid: torch.Tensor,
    k: int | float | None,
    full_rate: float = 0.2,
    window_rate: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Data-independent masks for an evaluator of real series: windows, scattered, full.

    Real series carry their information in shapes (a peak, a slope), which a few contiguous
    windows keep and scattered single steps destroy. Each row independently gets, with
    probability ``full_rate``, every valid step (so what the full-series teacher knew, and
    interactions between distant steps, stay learnable); with probability ``window_rate``,
    1 to 3 contiguous windows covering 15-40 % of the valid length together; otherwise a
    :func:`random_subset_masks` draw (scattered steps, sizes up to ``2k``, some empty).

    Parameters
    ----------
    valid : torch.Tensor of shape (n, T), bool
        True at real steps.
    k : int, float or None
        The selection budget (see :func:`resolve_k`).
    full_rate, window_rate : float
        Probabilities of a full mask and of a window mask.
    generator : torch.Generator, optional
        Random generator.

    Returns
    -------
    torch.Tensor of shape (n, T), float
    """
    n, length = valid.shape
    device = valid.device
    lengths = valid.sum(1).clamp(min=1).to(torch.float32)
    kind = torch.rand(n, generator=generator, device=device)
    full = kind < full_rate
    windowed = (kind >= full_rate) & (kind < full_rate + window_rate)
    n_windows = torch.randint(1, 4, (n,), generator=generator, device=device)
    cover = 0.15 + 0.25 * torch.rand(n, generator=generator, device=device)
    width = (cover * lengths / n_windows).ceil().clamp(min=1.0)  # (n,)
    starts = torch.rand(n, 3, generator=generator, device=device) * (lengths - width + 1)[:, None]
    steps = torch.arange(length, device=device, dtype=torch.float32)
    inside = (steps[None, None, :] >= starts.floor()[:, :, None]) & (
        steps[None, None, :] < (starts.floor() + width[:, None])[:, :, None]
    )  # (n, 3, T)
    used = torch.arange(3, device=device)[None, :] < n_windows[:, None]
    windows = (inside & used[:, :, None]).any(dim=1)
    scattered = random_subset_masks(valid, k, generator=generator) > 0.5
    chosen = torch.where(full[:, None], valid, torch.where(windowed[:, None], windows, scattered))
    return (chosen & valid).to(torch.float32)


def plackett_luce_log_prob(
    logits: torch.Tensor, order: torch.Tensor, ks: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Log-probability ``(n,)`` of drawing the first ``ks[i]`` steps of ``order`` in turn.

    Sampling without replacement with probabilities ``softmax(logits)`` over the steps not
    yet drawn (the Plackett-Luce model behind Gumbel top-k).

    Parameters
    ----------
    logits : torch.Tensor of shape (n, T)
    order : torch.Tensor of shape (n, kmax), long
        Drawn steps in the order they were drawn.
    ks : torch.Tensor of shape (n,)
        How many of ``order`` count per row.
    valid : torch.Tensor of shape (n, T), bool
        Steps that can be drawn at all.
    """
    kmax = order.shape[1]
    shift = logits.masked_fill(~valid, float("-inf")).amax(dim=1, keepdim=True).detach()
    weights = torch.exp(logits - shift).masked_fill(~valid, 0.0)  # (n, T)
    drawn = weights.gather(1, order)  # (n, kmax), in drawing order
    # Mass still available before each draw: total minus what the earlier draws took.
    taken = torch.cumsum(drawn, dim=1) - drawn
    remaining = (weights.sum(dim=1, keepdim=True) - taken).clamp(min=torch.finfo(logits.dtype).tiny)
    terms = logits.gather(1, order) - shift - torch.log(remaining)
    active = torch.arange(kmax, device=logits.device)[None, :] < ks[:, None]
    # where, not a product: past a row's k the order may reach padding, whose term is -inf.
    return torch.where(active, terms, torch.zeros_like(terms)).sum(dim=1)


def score_function_loss(
    logits: torch.Tensor,
    ks: torch.Tensor,
    valid: torch.Tensor,
    reward: Callable[[torch.Tensor], torch.Tensor],
    n_samples: int = 4,
    normalize: bool = False,
) -> torch.Tensor:
    """REINFORCE loss with a leave-one-out baseline over Gumbel top-k subset samples.

    Draws ``n_samples`` exact-k subsets per series from the Plackett-Luce distribution of
    ``logits``, scores each with ``reward`` (real evaluations of the sampled subsets, no
    gradient) and returns ``-mean((R - baseline) * log p)``, where each sample's baseline is
    the mean reward of the other samples (RLOO). Unlike a straight-through gradient, which
    linearises the predictor around the current selection, the estimate is unbiased: a step
    whose inclusion really helps gains probability even when the linearisation says otherwise.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, T)
        Selection logits (gradient flows to them); ``-inf`` or ``~valid`` marks padding.
    ks : torch.Tensor of shape (n,)
        Subset size per series.
    valid : torch.Tensor of shape (n, T), bool
    reward : callable
        Maps hard float masks ``(n_samples, n, T)`` (all samples at once, so the predictor
        can score them in one call) to rewards ``(n_samples, n)``.
    n_samples : int, default=4
        Samples per series (at least 2 for the baseline).
    normalize : bool, default=False
        Divide each series' advantages by the spread (standard deviation) of its rewards
        plus :data:`ADVANTAGE_SPREAD_FLOOR`, as group-relative policy optimisation does, so
        every series whose rewards spread by more than the floor weighs about the same in
        the gradient: a series on which the predictor is already fairly sure still ranks its
        subsets, instead of the few series it gets wrong driving the selector alone, while
        near-ties (spread well below the floor) stay small.
    """
    if n_samples < 2:
        raise ValueError(f"n_samples must be >= 2 for a leave-one-out baseline, got {n_samples}.")
    kmax = int(ks.max())
    logits = logits.masked_fill(~valid, float("-inf"))
    log_probs, masks = [], []
    for _ in range(n_samples):
        u = torch.rand_like(logits).clamp(1e-10, 1.0 - 1e-10)
        perturbed = (logits.detach() - torch.log(-torch.log(u))).masked_fill(~valid, float("-inf"))
        order = perturbed.topk(kmax, dim=1).indices
        masks.append(hard_topk(perturbed, ks))
        log_probs.append(plackett_luce_log_prob(logits, order, ks, valid))
    with torch.no_grad():
        rewards = reward(torch.stack(masks)).t()  # (n, n_samples)
    baseline = (rewards.sum(dim=1, keepdim=True) - rewards) / (n_samples - 1)
    advantage = rewards - baseline
    if normalize:
        advantage = advantage / (rewards.std(dim=1, keepdim=True) + ADVANTAGE_SPREAD_FLOOR)
    return -(advantage.detach() * torch.stack(log_probs, dim=1)).mean()
