"""A rare class: the default against ``class_weight="balanced"``, next to MiniRocket.

Data: ``make_signal_event(T=50, D=2, event_length=3, event_strength=3)`` (the class is the
sign of a 3-step event at a random place; every series has its 3 true steps). The training
set keeps 800 series of class 0 and as many of class 1 as make up the rare class's share
(5 % or 20 %); the held-out set has 400 of each class, so balanced accuracy and the rare
class's recall read directly. For each share, seed and setting:
``InfluenceClassifier(k=3, random_state=seed)`` with every other setting at its default,
with and without ``class_weight="balanced"``; MiniRocket (aeon's defaults, one fit, with
and without its own ``class_weight="balanced"``) is the accuracy reference. precision@3:
the share of each held-out series' 3 selected steps that are its event's steps (the
selection still finds the evidence when the classes are weighted).

Run ``python -m benchmarks.imbalance [--quick]``; writes ``benchmarks/results/imbalance.md``.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import cli, fmt_mean_std, markdown_table, write_result

__all__ = ["main"]

#: The rare class's share of the training series.
SHARES = (0.05, 0.2)
N_COMMON = 800
N_TEST = 400  # per class
DATA = {"n_timestamps": 50, "n_channels": 2, "event_length": 3, "event_strength": 3.0}
METRICS = ("balanced accuracy", "rare-class recall", "ROC AUC", "precision@3")


def _data(share: float):
    """Training and held-out ``(X, y, truth)`` with class 1 at ``share`` of training."""
    from tsinfluence.datasets import make_signal_event

    X, y, truth = make_signal_event(n_samples=6000, random_state=0, **DATA)
    common, rare = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    n_rare = round(N_COMMON * share / (1 - share))
    train = np.sort(np.r_[common[:N_COMMON], rare[:n_rare]])
    test = np.sort(np.r_[common[-N_TEST:], rare[-N_TEST:]])
    return (X[train], y[train]), (X[test], y[test], truth[test])


def _scores(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None) -> dict:
    from sklearn.metrics import balanced_accuracy_score, recall_score, roc_auc_score

    return {
        "balanced accuracy": balanced_accuracy_score(y_true, y_pred),
        "rare-class recall": recall_score(y_true, y_pred),
        "ROC AUC": np.nan if proba is None else roc_auc_score(y_true, proba),
    }


def _ours(train, test, class_weight, seed: int, max_epochs) -> dict:
    from tsinfluence import InfluenceClassifier
    from tsinfluence.metrics import precision_at_k

    (X, y), (X_te, y_te, truth) = train, test
    est = InfluenceClassifier(
        k=3, class_weight=class_weight, max_epochs=max_epochs, random_state=seed
    )
    start = time.perf_counter()
    est.fit(X, y)
    seconds = time.perf_counter() - start
    scores = _scores(y_te, est.predict(X_te), est.predict_proba(X_te)[:, 1])
    scores["precision@3"] = precision_at_k(est.influence_scores(X_te), truth)
    return {**scores, "fit s": seconds}


def _minirocket(train, test, class_weight) -> dict:
    from aeon.classification.convolution_based import MiniRocketClassifier

    (X, y), (X_te, y_te, _) = train, test
    model = MiniRocketClassifier(class_weight=class_weight, n_jobs=1, random_state=0)
    start = time.perf_counter()
    model.fit(X.transpose(0, 2, 1), y)
    seconds = time.perf_counter() - start
    # its predict_proba is hard 0/1 (a ridge classifier): no ROC AUC
    return {**_scores(y_te, model.predict(X_te.transpose(0, 2, 1)), None), "fit s": seconds}


def main(quick: bool = False) -> str:
    """Rare-class accuracy with and without ``class_weight`` (markdown).

    Parameters
    ----------
    quick : bool, default=False
        The 5 % share, seed 0 and 5 epochs instead of both shares, seeds 0-4 and the
        default budget.
    """
    shares = SHARES[:1] if quick else SHARES
    seeds = (0,) if quick else tuple(range(5))
    max_epochs = 5 if quick else None
    rows = []
    for share in shares:
        train, test = _data(share)
        n_rare = int(train[1].sum())
        for class_weight in (None, "balanced"):
            runs = [_ours(train, test, class_weight, s, max_epochs) for s in seeds]
            cells = [fmt_mean_std([r[m] for r in runs]) for m in METRICS]
            worst = min(r["balanced accuracy"] for r in runs)
            seconds = np.median([r["fit s"] for r in runs])
            rows.append(
                [f"{share:.0%} ({n_rare})", "tsinfluence", repr(class_weight)]
                + cells
                + [worst, seconds]
            )
        for class_weight in (None, "balanced"):
            r = _minirocket(train, test, class_weight)
            cells = [r[m] for m in METRICS[:2]] + ["—", "—"]
            rows.append(
                [f"{share:.0%} ({n_rare})", "MiniRocket", repr(class_weight)]
                + cells
                + ["—", r["fit s"]]
            )
    header = ["rare share (series)", "model", "class_weight", *METRICS]
    text = "\n".join(
        [
            "## A rare class: `class_weight`",
            "",
            f"`make_signal_event({', '.join(f'{k}={v}' for k, v in DATA.items())})`; "
            f"training: {N_COMMON} series of class 0 and the rare class 1 at the share "
            f"given; held out: {N_TEST} of each class. tsinfluence: "
            "`InfluenceClassifier(k=3, class_weight=..., random_state=seed)`, defaults "
            f"otherwise{', max_epochs=5' if quick else ''}; mean ± std over seeds "
            f"{', '.join(map(str, seeds))}, worst seed's balanced accuracy, median fit "
            "seconds. MiniRocket: aeon's defaults with its own `class_weight`, one fit "
            "(hard 0/1 probabilities: no ROC AUC).",
            "",
            markdown_table([*header, "worst balanced accuracy", "fit s"], rows),
        ]
    )
    write_result("imbalance", text)
    return text


if __name__ == "__main__":
    raise SystemExit(cli(main))
