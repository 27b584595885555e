"""Gradient search for the smallest edit of chosen steps that reaches a target prediction.

Works on a fitted estimator through its bridge (``estimator._fitted_model()``): every
iteration runs the *real* forward pass (the selector re-selects on the edited series, the
predictor sees the new selection; with ``prediction="full"``, the full-series model
predicts), so the validity checked during the search is the estimator's own prediction.
Gradients reach the edited values through the predictor and, straight-through, through the
selector's relaxed mask.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["SearchModel", "eval_mode", "optimize_edits", "refine_edits"]

_PRUNE_LEVELS = (0.5, 0.3, 0.2, 0.1, 0.05)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode and restore every submodule's flag afterwards."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, flag in flags:
            m.training = flag


@dataclass
class SearchModel:
    """What the search needs from a fitted estimator.

    Parameters
    ----------
    fitted : FittedModel
        The estimator's bridge (:class:`tsinfluence.estimators._fitted.FittedModel`): its
        ``task`` and its differentiable ``forward``.
    tolerance : float
        Regression tolerance in the model's standardised units (ignored for classifiers).
    margin : float
        Logit margin a classifier's target must win by during the search (keeps the
        final check robust to float round-off).
    through_selector : bool
        Let the gradient reach the edits through the selector's relaxed mask too.
    """

    fitted: Any
    tolerance: float = 0.0
    margin: float = 1e-3
    through_selector: bool = True

    def raw(self, x: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real forward pass: ``(raw outputs (N, out), selection mask (N, T))``."""
        return self.fitted.forward(x, pad, through_selector=self.through_selector)

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"``."""
        return self.fitted.task

    def gap(self, out: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Signed distance to the target region: ``<= 0`` means the target is reached."""
        if self.task == "classification":
            target = out.gather(1, goal.long()[:, None]).squeeze(1)
            others = out.scatter(1, goal.long()[:, None], float("-inf")).amax(1)
            return others - target + self.margin
        return (out[:, 0] - goal).abs() - self.tolerance

    def loss(self, out: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Per-row prediction loss (zero well inside the target region)."""
        if self.task == "classification":
            return torch.relu(self.gap(out, goal) + 0.5)
        return torch.relu((out[:, 0] - goal).abs() - 0.5 * self.tolerance) ** 2

    @torch.no_grad()
    def reached(self, x: torch.Tensor, pad: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Bool ``(N,)``: does the real forward pass of ``x`` reach ``goal``?"""
        out, _ = self.raw(x, pad)
        return self.gap(out, goal) <= 0


def _compose(x0, z, scale, edit, lo, hi):
    x = x0 + z * scale
    x = torch.minimum(torch.maximum(x, lo), hi)
    return torch.where(edit.unsqueeze(-1), x, x0)


def _diversity(z: torch.Tensor, groups: int) -> torch.Tensor:
    """Mean RBF similarity between the edits of the same series (rows grouped by ``groups``)."""
    n = z.shape[0] // groups
    flat = z.reshape(n, groups, -1)
    d2 = torch.cdist(flat, flat).pow(2) / flat.shape[-1]
    sim = torch.exp(-d2 / 0.1)
    off = 1.0 - torch.eye(groups, dtype=z.dtype, device=z.device)
    return (sim * off).sum((1, 2)) / max(groups * (groups - 1), 1)


def optimize_edits(
    model: SearchModel,
    x0: torch.Tensor,
    pad: torch.Tensor,
    edit: torch.Tensor,
    goal: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    scale: torch.Tensor,
    *,
    z_init: torch.Tensor | None = None,
    cell_weight: torch.Tensor | None = None,
    metric: str = "l1",
    max_iter: int = 300,
    lr: float = 0.05,
    proximity_weight: float = 0.05,
    diversity_weight: float = 0.0,
    groups: int = 1,
    escalate_every: int = 20,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Adam search on the standardised edit ``z`` of the edited cells.

    ``x = clip(x0 + z * scale, lo, hi)`` on the edited steps, ``x0`` elsewhere. Each row
    minimises ``lambda * prediction_loss + proximity_weight * ||w * z||`` (L1 or squared
    L2) ``+ diversity_weight * similarity to the other samples of its series``; a row's
    ``lambda`` doubles every ``escalate_every`` iterations while it has not reached its
    target; a row stops at its first valid iterate (early stop). Rows that never reach the
    target keep the iterate with the smallest gap.

    Returns
    -------
    x_cf : torch.Tensor of shape (N, T, D)
    found : torch.Tensor of shape (N,), bool
    n_iter : int
        Iterations run.
    """
    n_rows = x0.shape[0]
    z = torch.zeros_like(x0) if z_init is None else z_init.clone()
    z = z * edit.unsqueeze(-1)
    weight = torch.ones_like(x0) if cell_weight is None else cell_weight
    m = torch.zeros_like(z)
    v = torch.zeros_like(z)
    lam = torch.ones(n_rows, dtype=x0.dtype, device=x0.device)
    found = torch.zeros(n_rows, dtype=torch.bool, device=x0.device)
    best_z = z.clone()
    best_gap = torch.full((n_rows,), float("inf"), dtype=x0.dtype, device=x0.device)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    iteration = 0
    for iteration in range(max_iter + 1):
        active = (~found).nonzero().squeeze(1)
        if active.numel() == 0:
            break
        z_leaf = z.detach().requires_grad_(True)
        x = _compose(x0[active], z_leaf[active], scale, edit[active], lo[active], hi[active])
        out, _ = model.raw(x, pad[active])
        gap = model.gap(out, goal[active]).detach()
        # Record before stepping: the current iterate is exactly what was evaluated.
        ok = gap <= 0
        newly = active[ok]
        found[newly] = True
        best_z[newly] = z[newly]
        better = (~ok) & (gap < best_gap[active])
        best_gap[active[better]] = gap[better]
        best_z[active[better]] = z[active[better]]
        if iteration == max_iter or bool(ok.all()):
            break
        keep = ~ok
        rows = active[keep]
        pred_loss = (lam[active] * model.loss(out, goal[active]) * keep).sum()
        zw = z_leaf[active] * weight[active]
        if metric == "l2":
            prox = zw.pow(2).flatten(1).sum(1)
        else:
            prox = zw.abs().flatten(1).sum(1)
        total = pred_loss + proximity_weight * (prox * keep).sum()
        if diversity_weight > 0 and groups > 1:
            total = total + diversity_weight * _diversity(z_leaf, groups).sum()
        (grad,) = torch.autograd.grad(total, z_leaf)
        g = grad[rows] * edit[rows].unsqueeze(-1)
        g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
        m[rows] = beta1 * m[rows] + (1 - beta1) * g
        v[rows] = beta2 * v[rows] + (1 - beta2) * g * g
        t = iteration + 1
        step = lr * (m[rows] / (1 - beta1**t)) / ((v[rows] / (1 - beta2**t)).sqrt() + eps)
        z_new = z[rows] - step
        # Project onto the box: z of the clipped value.
        x_new = _compose(x0[rows], z_new, scale, edit[rows], lo[rows], hi[rows])
        z[rows] = (x_new - x0[rows]) / scale
        if escalate_every and t % escalate_every == 0:
            lam[rows] = (lam[rows] * 2.0).clamp(max=1e6)
    x_cf = _compose(x0, best_z, scale, edit, lo, hi).detach()
    return x_cf, found, iteration


@torch.no_grad()
def refine_edits(
    model: SearchModel,
    x0: torch.Tensor,
    x_cf: torch.Tensor,
    pad: torch.Tensor,
    goal: torch.Tensor,
    found: torch.Tensor,
    bisection_steps: int = 8,
) -> torch.Tensor:
    """Make valid edits smaller and sparser while keeping them valid.

    First drops the cells whose change is below a fraction of the row's largest change
    (tried from the most aggressive level down, batched), then shrinks the whole edit
    towards ``x0`` by bisection on its scale. Rows not ``found`` are returned unchanged.
    """
    rows = found.nonzero().squeeze(1)
    if rows.numel() == 0:
        return x_cf
    x_cf = x_cf.clone()
    base, delta = x0[rows], x_cf[rows] - x0[rows]
    p, g = pad[rows], goal[rows]
    size = delta.abs()
    top = size.flatten(1).amax(1).clamp(min=1e-12)[:, None, None]
    done = torch.zeros(len(rows), dtype=torch.bool, device=x0.device)
    for level in _PRUNE_LEVELS:
        pruned = torch.where(size >= level * top, delta, torch.zeros_like(delta))
        ok = model.reached(base + pruned, p, g) & ~done
        delta[ok] = pruned[ok]
        done |= ok
    low = torch.zeros(len(rows), dtype=x0.dtype, device=x0.device)
    high = torch.ones_like(low)
    for _ in range(bisection_steps):
        mid = (low + high) / 2
        ok = model.reached(base + mid[:, None, None] * delta, p, g)
        high = torch.where(ok, mid, high)
        low = torch.where(ok, low, mid)
    final = base + high[:, None, None] * delta
    # Keep exact original values where nothing changes (no round-off edits).
    final = torch.where(delta == 0, base, final)
    x_cf[rows] = final
    return x_cf
