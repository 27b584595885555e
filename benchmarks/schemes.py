"""Training schemes compared on synthetic sets with known influential steps.

For each data set: AUROC of ``influence_scores`` against the truth (per sample, averaged),
precision at ``|truth|``, accuracy / R² of ``predict`` (from the selected steps only), the
EVAL-X encoding gap (:func:`tsinfluence.metrics.encoding_gap`) and the fit time; mean and
worst over the seeds. Schemes:

- ``defaults``: the estimator with every setting at its default (convolutional predictor
  and scorer, teacher -> distilled evaluator -> selector with score-function gradients, a
  budget of optimiser steps) -- the row the faithfulness claims rest on;
- ``0.1 defaults``: the previous defaults (attention scorer and pooling head, evaluator on
  scattered random subsets, straight-through gradients, 30 epochs of batch 64, lr 3e-3);
- ``joint``: the default model with selector and predictor trained together (encodes;
  shown for reference);
- ``full series``: the default predictor with ``k`` = every step (a model that sees the whole
  series: the reference for accuracy / R²).

Run ``python -m benchmarks.schemes [--quick]``; writes ``benchmarks/results/schemes.md``.
``TSINFLUENCE_BENCH_SCHEMES=defaults,joint`` runs only the named schemes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

#: scheme -> (parameters, number of seeds, whether the encoding gap is measured)
SCHEMES = {
    "defaults": (dict(), 3, True),
    "0.1 defaults": (
        dict(
            predictor="attention",
            scorer="attention",
            selector_gradient="straight_through",
            module__hidden_dim=64,
            lr=3e-3,
            batch_size=64,
            max_epochs=30,
        ),
        1,
        True,
    ),
    "joint": (
        dict(training_scheme="joint", schedule__context_rate=0.0, schedule__dense_fraction=0.0),
        1,
        True,
    ),
    "full series": (dict(k=1.0, training_scheme="joint"), 1, False),
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

    dataset, quick, scheme, params, seed, with_gap = job
    make, kind, k = _datasets(quick)[dataset]
    X, y, truth = make()
    n_train = int(0.8 * len(X))
    est_cls = InfluenceClassifier if kind == "classifier" else InfluenceRegressor
    params = {"k": k, "random_state": seed, **params}
    if quick:
        params.setdefault("max_epochs", 15)
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
    if with_gap:
        gap = encoding_gap(
            est, X_te, y_te, X_train=X[:n_train], y_train=y[:n_train], random_state=7
        )
        row["gap"], row["independent"] = gap.gap, gap.independent_score
    return row


def _cell(values, worst) -> str:
    """``mean`` or ``mean [worst]``; ``—`` when not measured."""
    if all(v != v for v in values):  # NaN: not measured
        return "—"
    mean = sum(values) / len(values)
    return f"{mean:.3f}" + (f" [{worst(values):.3f}]" if len(values) > 1 else "")


def _table(rows, quick: bool) -> str:
    lines = [
        "## Training schemes on synthetic data with known influential steps",
        "",
        f"Mode: {'quick' if quick else 'full'}. 80/20 split, CPU, one torch thread per fit "
        "(fits may run in parallel processes, so seconds compare between rows, not with "
        "other machines). Each cell: mean over the seeds, and in brackets the worst seed "
        "when there are several. `gap` = own score - independent EVAL-X evaluator's score "
        "on the same selections (large = the selection encodes the prediction). AUROC and "
        "precision of the full-series row mean little (every step is selected).",
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
        for scheme in dict.fromkeys(r["scheme"] for r in sub):
            runs = [r for r in sub if r["scheme"] == scheme]
            n = len(runs)
            cells = [
                _cell([r[key] for r in runs], worst)
                for key, worst in (
                    ("auroc", min),
                    ("precision", min),
                    ("score", min),
                    ("independent", min),
                    ("gap", lambda v: max(v, key=abs)),
                )
            ]
            seconds = sum(r["seconds"] for r in runs) / n
            lines.append(
                f"| {scheme} ({n} seed{'s' if n > 1 else ''}) | "
                + " | ".join(cells)
                + f" | {seconds:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(quick: bool = False, n_jobs: int | None = None) -> str:
    """Run the comparison and return it as markdown (also written to results/schemes.md).

    Parameters
    ----------
    quick : bool, default=False
        Fewer samples, epochs and data sets.
    n_jobs : int, optional
        Parallel fits (processes); ``os.cpu_count()`` by default.
    """
    chosen = os.environ.get("TSINFLUENCE_BENCH_SCHEMES")
    schemes = {
        name: spec for name, spec in SCHEMES.items() if not chosen or name in chosen.split(",")
    }
    jobs = [
        (name, quick, scheme, params, seed, with_gap)
        for name in _datasets(quick)
        for scheme, (params, n_seeds, with_gap) in schemes.items()
        for seed in range(1 if quick else n_seeds)
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
