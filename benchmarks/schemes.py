"""Training schemes compared on synthetic sets with known influential steps.

For each data set: AUROC of ``influence_scores`` against the truth (per sample, averaged),
precision at ``|truth|``, accuracy / R² of ``predict`` (from the selected steps only), the
EVAL-X encoding gap (:func:`tsinfluence.metrics.encoding_gap`) and the fit time. Schemes:

- ``joint``: selector and predictor trained together (encodes; shown for reference);
- ``realx``: REAL-X-style two stage (evaluator on random subsets, then the selector against
  it, frozen) without curricula, ``evaluator_fraction=0.5``;
- ``two_stage`` (the default): the same with random context (``context_rate=0.3``), a
  dense-to-sparse budget (``dense_fraction=0.5``), ``evaluator_fraction=0.7`` and a fresh
  optimiser at the phase switch;
- ``two_stage+deletion``: the default plus a deletion term (``alpha_deletion=0.3``);
- ``full series``: the same predictor with ``k`` = every step (a model that sees the whole
  series: the reference for accuracy / R²).

Run ``python -m benchmarks.schemes [--quick]``; writes ``benchmarks/results/schemes.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SCHEMES = {
    "joint": dict(training_scheme="joint", context_rate=0.0, dense_fraction=0.0),
    "realx": dict(evaluator_fraction=0.5, context_rate=0.0, dense_fraction=0.0),
    "two_stage": dict(),
    "two_stage+deletion": dict(alpha_deletion=0.3),
    "full series": dict(k=1.0),
}


def _datasets(quick: bool):
    from tsinfluence.datasets import make_box, make_interaction, make_marked_sum, make_signal_event

    n = 500 if quick else 1000
    sets = {
        "single event (box rare_time, strength 2)": (
            lambda: make_box(n, pattern="rare_time", box_strength=2.0, random_state=0),
            "classifier",
            3,
        ),
        "interaction (XOR of two events)": (
            lambda: make_interaction(n, random_state=0),
            "classifier",
            2,
        ),
        "marked sum (regression)": (lambda: make_marked_sum(n, random_state=0), "regressor", 4),
    }
    if not quick:
        sets["signal event (strength 3, redundant 3-step event)"] = (
            lambda: make_signal_event(n, event_strength=3.0, random_state=0),
            "classifier",
            3,
        )
    return sets


def _run_one(job):
    import torch

    torch.set_num_threads(1)
    from tsinfluence import InfluenceClassifier, InfluenceRegressor
    from tsinfluence.metrics import auroc, encoding_gap, precision_at_k

    dataset, quick, scheme, params, max_epochs = job
    make, kind, k = _datasets(quick)[dataset]
    X, y, truth = make()
    n_train = int(0.8 * len(X))
    est_cls = InfluenceClassifier if kind == "classifier" else InfluenceRegressor
    params = {"k": k, "max_epochs": max_epochs, "random_state": 0, **params}
    est = est_cls(**params)
    start = time.perf_counter()
    est.fit(X[:n_train], y[:n_train])
    seconds = time.perf_counter() - start
    X_te, y_te, t_te = X[n_train:], y[n_train:], truth[n_train:]
    scores = est.influence_scores(X_te)
    row = {
        "dataset": dataset,
        "scheme": scheme,
        "auroc": auroc(scores, t_te),
        "precision": precision_at_k(scores, t_te),
        "score": est.score(X_te, y_te),
        "metric": "accuracy" if kind == "classifier" else "R²",
        "seconds": seconds,
        "gap": float("nan"),
        "independent": float("nan"),
    }
    if scheme != "full series":
        gap = encoding_gap(
            est, X_te, y_te, X_train=X[:n_train], y_train=y[:n_train], random_state=7
        )
        row["gap"], row["independent"] = gap.gap, gap.independent_score
    return row


def _table(rows, quick: bool) -> str:
    lines = [
        "## Training schemes on synthetic data with known influential steps",
        "",
        f"Mode: {'quick' if quick else 'full'}. 80/20 split, `random_state=0`, CPU, one torch "
        "thread per fit (fits run in parallel processes, so seconds compare between rows, "
        "not with other machines). `gap` = own score - independent EVAL-X evaluator's score "
        "on the same selections (large = the selection encodes the prediction). AUROC and "
        "precision of the full-series row are those of its attention weights' scorer "
        "(every step is selected, so they mean little).",
        "",
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        sub = [r for r in rows if r["dataset"] == dataset]
        metric = sub[0]["metric"]
        lines += [
            f"### {dataset}",
            "",
            f"| scheme | AUROC | precision@\\|truth\\| | {metric} | independent {metric} "
            "| encoding gap | fit s |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in sub:
            lines.append(
                f"| {r['scheme']} | {r['auroc']:.3f} | {r['precision']:.3f} | {r['score']:.3f} "
                f"| {r['independent']:.3f} | {r['gap']:+.3f} | {r['seconds']:.1f} |"
            )
        lines.append("")
    return "\n".join(lines).replace("| nan |", "| — |").replace("| +nan |", "| — |")


def main(quick: bool = False, n_jobs: int | None = None) -> str:
    """Run the comparison and return it as markdown (also written to results/schemes.md).

    Parameters
    ----------
    quick : bool, default=False
        Fewer samples, epochs and data sets.
    n_jobs : int, optional
        Parallel fits (processes); ``os.cpu_count()`` by default.
    """
    max_epochs = 15 if quick else 30
    jobs = [
        (name, quick, scheme, params, max_epochs)
        for name in _datasets(quick)
        for scheme, params in SCHEMES.items()
    ]
    n_jobs = n_jobs or os.cpu_count() or 1
    if n_jobs == 1:
        rows = [_run_one(job) for job in jobs]
    else:
        # "spawn": a forked child must not inherit (or initialise) the parent's CUDA state.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(n_jobs, len(jobs)), mp_context=context) as pool:
            rows = list(pool.map(_run_one, jobs))
    text = _table(rows, quick)
    out = Path(__file__).parent / "results" / "schemes.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()
    print(main(quick=args.quick, n_jobs=args.n_jobs))
