"""Selector gradients on a one-marked-step task: how often the selector finds the step.

Each series has one marked step (channel 1 is 1 there, 0 elsewhere); the label is the sign of
channel 0 at that step (``tests.conftest.make_marker_task``: 800 training and 300 held-out
series of 20 steps). With ``k=1`` the selector must pick the marked step. For each selector
gradient (``straight_through``, ``score_function``) and selection method (``topk``,
``gumbel``) and each seed, the table gives the *hit rate* (fraction of held-out series whose
marked step is selected) and the held-out accuracy. Settings: the attention predictor, the
two-stage scheme, 20 epochs, ``hidden_dim=32``, ``num_heads=2``, ``dropout=0``.

This is where "straight-through finds the step only for some seeds" is measured; the test
suite only asserts what holds on every seed and thread count tried (the score-function
gradient finds it).

Run ``python -m benchmarks.selector_gradient [--quick]``; writes
``benchmarks/results/selector_gradient.md``.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import cli, markdown_table, write_result

__all__ = ["main"]

GRADIENTS = ("straight_through", "score_function")
METHODS = ("topk", "gumbel")


def _marker_task(n: int, length: int = 20, seed: int = 0):
    """Same data as ``tests.conftest.make_marker_task`` (kept here so benchmarks stand alone)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, 3, generator=g)
    pos = torch.randint(0, length, (n,), generator=g)
    x[:, :, 1] = 0.0
    x[torch.arange(n), pos, 1] = 1.0
    y = (x[torch.arange(n), pos, 0] > 0).long()
    return x.numpy(), y.numpy(), pos.numpy()


def run_one(gradient: str, method: str, seed: int) -> dict:
    """Fit one selector; returns its hit rate, held-out accuracy and fit seconds."""
    from tsinfluence import InfluenceClassifier

    X, y, _ = _marker_task(800, seed=1)
    X_te, y_te, pos_te = _marker_task(300, seed=2)
    est = InfluenceClassifier(
        k=1,
        selection_method=method,
        selector_gradient=gradient,
        predictor="attention",
        training_scheme="two_stage",
        max_epochs=20,
        module__hidden_dim=32,
        module__num_heads=2,
        module__dropout=0.0,
        random_state=seed,
    )
    start = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - start
    hit = float(est.select(X_te)[np.arange(len(X_te)), pos_te].mean())
    return {"hit": hit, "accuracy": float(est.score(X_te, y_te)), "seconds": seconds}


def main(quick: bool = False) -> str:
    """Hit rate of the marked step per selector gradient, method and seed (markdown).

    Parameters
    ----------
    quick : bool, default=False
        Seeds 0-2 instead of 0-4.
    """
    seeds = tuple(range(3 if quick else 5))
    rows = []
    for gradient in GRADIENTS:
        for method in METHODS:
            runs = [run_one(gradient, method, seed) for seed in seeds]
            hits = np.array([r["hit"] for r in runs])
            acc = np.array([r["accuracy"] for r in runs])
            rows.append(
                [
                    gradient,
                    method,
                    f"{int((hits >= 0.95).sum())}/{len(seeds)}",
                    " ".join(f"{h:.2f}" for h in hits),
                    f"{acc.mean():.3f} ± {acc.std():.3f}",
                    f"{acc.min():.3f}",
                    f"{np.mean([r['seconds'] for r in runs]):.1f}",
                ]
            )
    text = "\n".join(
        [
            "## Selector gradients: finding one marked step",
            "",
            f"Seeds {', '.join(map(str, seeds))} (`random_state` of the estimator; the data "
            "are fixed). Found: seeds whose hit rate (held-out series whose marked step is "
            "selected) is >= 0.95. Accuracy on 300 held-out series, mean ± std and worst "
            "seed.",
            "",
            markdown_table(
                [
                    "selector_gradient",
                    "selection",
                    "found",
                    "hit rate per seed",
                    "accuracy",
                    "worst accuracy",
                    "fit s",
                ],
                rows,
            ),
        ]
    )
    write_result("selector_gradient", text)
    return text


if __name__ == "__main__":
    raise SystemExit(cli(main))
