"""The search strategies behind ``generate_counterfactuals``: optimisation, donors, seed edits."""

from __future__ import annotations

import numpy as np
import torch

from ..nn.generator import CounterfactualGenerator
from ._search import optimize_edits, refine_edits

__all__ = [
    "chunked_refine",
    "model_free",
    "nearest",
    "restarts",
    "run_search",
    "widen_and_retry",
]


def restarts(x0: torch.Tensor, S: int, gen: torch.Generator):
    """Initial edits and per-cell proximity weights: sample 0 plain, others randomised."""
    if S == 1:
        return None, None
    first = (torch.arange(len(x0), device=x0.device) % S == 0)[:, None, None]
    noise = torch.randn(x0.shape, generator=gen, dtype=x0.dtype, device=x0.device)
    weight = 0.2 + 1.8 * torch.rand(x0.shape, generator=gen, dtype=x0.dtype, device=x0.device)
    return torch.where(first, 0.0, 0.3 * noise), torch.where(first, 1.0, weight)


def run_search(search, options, z_init, weight, batch_size, S, info, rows=None):
    """Run :func:`optimize_edits` in chunks of whole series (all their samples together)."""
    total = len(search["x0"]) if rows is None else len(rows)
    index = torch.arange(total) if rows is None else rows
    out, found, iters = search["x0"].clone(), torch.zeros_like(search["pad"][:, 0]), 0
    step = max(batch_size, 1) * S
    for lo in range(0, total, step):
        part = index[lo : lo + step]
        sub = {k: (v[part] if k not in ("model", "scale") else v) for k, v in search.items()}
        z = None if z_init is None else z_init[part]
        w = None if weight is None else weight[part]
        opts = dict(options, groups=options["groups"] if rows is None else 1)
        x_cf, ok, it = optimize_edits(**sub, z_init=z, cell_weight=w, **opts)
        out[part], found[part] = x_cf, ok
        iters = max(iters, it)
    info["iterations"] = max(info.get("iterations", 0), iters)
    return out, found


def widen_and_retry(search, options, x_cf, found, weight, batch_size, info, rounds):
    """Series that missed their target may also edit what the selector picks on their attempt.

    The selector re-selects on the edited series; when the edits push the original
    selection out, the steps it selects instead are influential for the counterfactual.
    Each extra round adds them to the editable steps of the series still invalid and
    searches again from the best attempt. ``search["edit"]`` is updated in place.
    """
    model = search["model"]
    for _ in range(rounds - 1):
        todo = (~found).nonzero().squeeze(1)
        if todo.numel() == 0:
            break
        with torch.no_grad():
            _, sel = model.raw(x_cf[todo], search["pad"][todo])
        widened = search["edit"][todo] | ((sel > 0.5) & ~search["pad"][todo])
        if torch.equal(widened, search["edit"][todo]):
            break
        search["edit"][todo] = widened
        z_full = (x_cf - search["x0"]) / search["scale"]
        out, ok = run_search(search, options, z_full, weight, batch_size, 1, info, rows=todo)
        x_cf[todo], found[todo] = out[todo], ok[todo]
        info["widened"] = info.get("widened", 0) + int(todo.numel())
    return x_cf, found


def chunked_refine(search, x_cf, found, step):
    for lo in range(0, len(x_cf), step):
        sl = slice(lo, lo + step)
        x_cf[sl] = refine_edits(
            search["model"],
            search["x0"][sl],
            x_cf[sl],
            search["pad"][sl],
            search["goal"][sl],
            found[sl],
        )
    return x_cf


def nearest(
    fitted,
    search,
    options,
    goals,
    X_ref,
    pad_ref,
    y_ref,
    n,
    S,
    n_neighbors,
    refine,
    batch_size,
    weight,
    info,
):
    """Native-Guide style donors for the edited steps, then optimisation where needed."""
    model, tt = search["model"], {"dtype": search["x0"].dtype, "device": search["x0"].device}
    raw_ref, _ = fitted.predict_raw(X_ref, pad_ref)
    pred_ref = fitted.decode(raw_ref)
    if fitted.task == "classification":
        cand = pred_ref.argmax(1)[None, :] == goals["goal"][:, None]
        if y_ref is not None:
            agree = cand & (y_ref[None, :] == goals["labels"][:, None])
            cand = np.where(agree.any(1, keepdims=True), agree, cand)
    else:
        err = np.abs(pred_ref[None, :] - goals["labels"][:, None])
        cand = err <= goals["tolerance"]
        closest = np.argsort(err, axis=1)[:, :n_neighbors]
        none = ~cand.any(1)
        cand[np.nonzero(none)[0][:, None], closest[none]] = True
    x_all = search["x0"][::S]
    valid_x = (~search["pad"][::S]).unsqueeze(-1)
    ref = torch.as_tensor(X_ref, **tt) * torch.as_tensor(~pad_ref, device=tt["device"])[..., None]
    dist = torch.cdist((x_all * valid_x).flatten(1), ref.flatten(1)).cpu().numpy()
    dist[~cand] = np.inf
    K = min(max(n_neighbors, S), len(X_ref))
    order = np.argsort(dist, axis=1, kind="stable")[:, :K]
    has = np.isfinite(np.take_along_axis(dist, order, 1))
    edit = search["edit"][::S]
    donors = ref[torch.as_tensor(order.reshape(-1), device=tt["device"])].reshape(
        n, K, *ref.shape[1:]
    )
    donor_ok = torch.as_tensor(~pad_ref[order], device=tt["device"])
    use = edit[:, None] & donor_ok & torch.as_tensor(has, device=tt["device"])[..., None]
    cands = torch.where(use.unsqueeze(-1), donors, x_all[:, None])  # (n, K, T, D)
    flat = cands.reshape(n * K, *cands.shape[2:])
    goal_k = search["goal"][::S].repeat_interleave(K)
    pad_k = search["pad"][::S].repeat_interleave(K, 0)
    chunks = range(0, len(flat), batch_size)
    reached = [
        model.reached(
            flat[i : i + batch_size], pad_k[i : i + batch_size], goal_k[i : i + batch_size]
        )
        for i in chunks
    ]
    ok = torch.cat(reached).reshape(n, K).cpu().numpy() & has
    x_cf = search["x0"].clone()
    found = torch.zeros(n * S, dtype=torch.bool, device=tt["device"])
    pending, starts = [], []
    for i in range(n):
        good = np.nonzero(ok[i])[0]
        for s in range(S):
            r = i * S + s
            if s < len(good):
                x_cf[r], found[r] = cands[i, good[s]], True
            else:
                pending.append(r)
                starts.append(cands[i, s % K] if has[i].any() else x_all[i])
    info["donor_valid"] = float(ok.any(1).mean()) if n else 0.0
    if pending and refine:
        rows = torch.as_tensor(pending)
        z0 = (torch.stack(starts) - search["x0"][rows]) / search["scale"]
        z_full = torch.zeros_like(search["x0"])
        z_full[rows] = z0
        out, ok_rows = run_search(search, options, z_full, weight, batch_size, 1, info, rows=rows)
        x_cf[rows], found[rows] = out[rows], ok_rows[rows]
    elif pending:
        x_cf[torch.as_tensor(pending)] = torch.stack(starts)
    return x_cf, found


def model_free(
    X3, pad, selected, method, intervention_type, perturbation_scale, noise_scale, S, gen, tt
):
    """Seed-style edits by :class:`CounterfactualGenerator` (no model in the loop)."""
    D = X3.shape[2]
    generator = CounterfactualGenerator(
        D, generation_method=method, perturbation_scale=float(perturbation_scale)
    ).to(**tt)
    x = torch.as_tensor(X3, **tt)
    mask = torch.as_tensor(selected, **tt)
    padding = torch.as_tensor(pad, device=tt["device"])
    noise = (0.0 if S == 1 else 0.5) if noise_scale is None else float(noise_scale)
    with torch.no_grad():
        cfs = generator.generate_multiple_counterfactuals(
            x, mask, S, noise, intervention_type, padding, generator=gen
        )  # (S, n, T, D)
    edited = generator.edited_steps(mask, intervention_type).cpu().numpy() > 0.5
    return cfs.transpose(0, 1).reshape(-1, *X3.shape[1:]), edited & ~pad
