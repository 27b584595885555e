"""Accuracy on real data bundled with aeon: selecting k <= 25 % of the steps vs the full series.

Columns (same train/test split, same run, mean ± std over seeds):

- ``tsinfluence k=25%``: ``InfluenceClassifier`` / ``InfluenceRegressor`` with ``k=0.25`` and its
  default training scheme;
- ``full series (k=1)``: the same estimator and predictor with ``k=1.0`` (every step selected),
  ``training_scheme="joint"`` (with nothing to select, the predictor is trained directly on the
  full series);
- ``random k=25%``: the same estimator with a *fixed random* selection of the same k — a
  :class:`FixedRandomSelection` module plugged in as ``selection_method`` (a data-independent
  random priority per position, the k highest-priority valid steps of each series), trained
  ``"joint"`` so the predictor learns on exactly that selection;
- ``MiniRocket``: aeon's ``MiniRocketClassifier`` / ``MiniRocketRegressor`` on the raw data
  (channels first; unequal-length series zero-padded to the longest, as aeon's ``Padder``).

Neural models see each channel standardised with the training mean / std. Classification is
scored by accuracy, regression (Covid3Month) by R². All data ship inside aeon's wheel
(``aeon/datasets/data``): nothing is downloaded.

Run ``python -m benchmarks.accuracy [--quick]``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.metrics import accuracy_score, r2_score
from torch import nn

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.nn.selection.base import hard_topk, resolve_k
from tsinfluence.utils import from_channels_first, pad_sequences

from ._common import (
    cli,
    fmt_mean_std,
    markdown_table,
    peer_available,
    quiet,
    set_threads,
    write_result,
)

__all__ = ["DATASETS", "FULL", "QUICK", "FixedRandomSelection", "load", "main", "run"]

#: name -> (aeon loader name, task)
DATASETS = {
    "GunPoint": ("load_gunpoint", "classification"),
    "ItalyPowerDemand": ("load_italy_power_demand", "classification"),
    "ArrowHead": ("load_arrow_head", "classification"),
    "BasicMotions": ("load_basic_motions", "classification"),
    "JapaneseVowels": ("load_japanese_vowels", "classification"),
    "Covid3Month": ("load_covid_3month", "regression"),
}

COLUMNS = ("tsinfluence k=25%", "full series (k=1)", "random k=25%", "MiniRocket")

#: ``steps``: optimiser steps per neural fit (epochs = steps / batches per epoch, in [5, 300]);
#: the training sets are tiny (36 to 270 series), so a fixed epoch count would under-train
#: the smallest ones.
FULL = {"datasets": tuple(DATASETS), "seeds": (0, 1, 2), "steps": 200, "columns": COLUMNS}
QUICK = {
    "datasets": ("GunPoint", "ItalyPowerDemand", "JapaneseVowels", "Covid3Month"),
    "seeds": (0,),
    "steps": 40,
    "columns": COLUMNS,
}
BATCH_SIZE = 32


class FixedRandomSelection(nn.Module):
    """A fixed, data-independent random selection of ``k`` steps (the random-k baseline).

    Each position gets a random priority drawn once from ``seed``; every series keeps its ``k``
    valid steps of highest priority (for equal-length data: the same k positions for every
    series). Plug it in as ``selection_method``.

    Parameters
    ----------
    k : int or float
        Steps to keep, as in :func:`tsinfluence.nn.selection.resolve_k`.
    max_len : int
        Longest series.
    seed : int
        Seed of the priorities.
    """

    def __init__(self, k: int | float, max_len: int, seed: int = 0) -> None:
        super().__init__()
        self.k = k
        generator = torch.Generator().manual_seed(int(seed))
        self.register_buffer("priority", torch.rand(int(max_len), generator=generator))

    def forward(
        self, scores: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Return the fixed k-hot mask ``(n, T)`` (no gradient: nothing to learn)."""
        n, length = scores.shape
        valid = torch.ones(n, length, dtype=torch.bool, device=scores.device)
        if padding_mask is not None:
            valid = ~padding_mask
        priority = self.priority[:length].to(scores.dtype).expand(n, length)
        return hard_topk(priority.masked_fill(~valid, float("-inf")), resolve_k(self.k, valid))


def load(name: str):
    """Load ``name`` from aeon's bundled data.

    Returns
    -------
    (X_train, y_train, X_test, y_test) channels first as aeon gives them (3D array or list of
    ``(D, T_i)`` arrays).
    """
    import aeon.datasets

    loader = getattr(aeon.datasets, DATASETS[name][0])
    X_train, y_train = loader(split="train")
    X_test, y_test = loader(split="test")
    return X_train, y_train, X_test, y_test


def _channels_last(X, length: int | None = None) -> np.ndarray:
    """aeon channels-first data to a channels-last float array (NaN-padded to ``length``)."""
    X = from_channels_first(X)
    if isinstance(X, list):
        return pad_sequences(X, length=length)[0]
    return np.asarray(X, dtype=np.float64)


def _longest(*collections) -> int:
    return max(x.shape[-1] for c in collections for x in c)


def _standardise(X_train: np.ndarray, X_test: np.ndarray):
    mean = np.nanmean(X_train, axis=(0, 1), keepdims=True)
    std = np.nanstd(X_train, axis=(0, 1), keepdims=True)
    std = np.where(std > 0, std, 1.0)
    return ((X_train - mean) / std).astype(np.float32), ((X_test - mean) / std).astype(np.float32)


def _pad_channels_first(X_train, X_test):
    """Zero-pad unequal-length channels-first lists to one length (for MiniRocket)."""
    if not isinstance(X_train, list):
        return np.asarray(X_train, dtype=np.float64), np.asarray(X_test, dtype=np.float64)
    length = max(x.shape[1] for x in list(X_train) + list(X_test))

    def pad(X):
        out = np.zeros((len(X), X[0].shape[0], length))
        for i, x in enumerate(X):
            out[i, :, : x.shape[1]] = x
        return out

    return pad(X_train), pad(X_test)


def _epochs(steps: int, n_train: int) -> int:
    per_epoch = -(-n_train // BATCH_SIZE)
    return int(min(max(-(-steps // per_epoch), 5), 300))


def _neural(column: str, task: str, seed: int, max_epochs: int, T: int):
    Est = InfluenceClassifier if task == "classification" else InfluenceRegressor
    common = {"max_epochs": max_epochs, "random_state": seed, "batch_size": BATCH_SIZE}
    if column == "tsinfluence k=25%":
        return Est(k=0.25, **common)
    if column == "full series (k=1)":
        return Est(k=1.0, training_scheme="joint", **common)
    if column == "random k=25%":
        return Est(
            k=0.25,
            selection_method=FixedRandomSelection(0.25, T, seed),
            training_scheme="joint",
            **common,
        )
    raise ValueError(f"Unknown column {column!r}.")


def _minirocket(task: str, seed: int):
    if task == "classification":
        from aeon.classification.convolution_based import MiniRocketClassifier

        return MiniRocketClassifier(random_state=seed)
    from aeon.regression.convolution_based import MiniRocketRegressor

    return MiniRocketRegressor(random_state=seed)


def run_dataset(
    name: str, cfg: dict
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict]:
    """Scores and fit seconds of every column on data set ``name`` over ``cfg['seeds']``."""
    task = DATASETS[name][1]
    Xtr_cf, ytr, Xte_cf, yte = load(name)
    length = _longest(Xtr_cf, Xte_cf)
    Xtr, Xte = _standardise(_channels_last(Xtr_cf, length), _channels_last(Xte_cf, length))
    if task == "regression":
        ytr, yte = np.asarray(ytr, dtype=np.float64), np.asarray(yte, dtype=np.float64)
    metric = accuracy_score if task == "classification" else r2_score
    scores = {c: [] for c in cfg["columns"]}
    seconds = {c: [] for c in cfg["columns"]}
    notes = {}
    for seed in cfg["seeds"]:
        for column in cfg["columns"]:
            try:
                with quiet():
                    start = time.perf_counter()
                    if column == "MiniRocket":
                        ok, why = peer_available("aeon")
                        if not ok:
                            notes[column] = f"aeon not importable ({why})"
                            continue
                        A, B = _pad_channels_first(Xtr_cf, Xte_cf)
                        threads = torch.get_num_threads()
                        try:
                            model = _minirocket(task, seed).fit(A, ytr)
                            pred = model.predict(B)
                        finally:  # aeon / numba reset torch's thread count (seen: 1 -> 2)
                            torch.set_num_threads(threads)
                    else:
                        epochs = _epochs(cfg["steps"], len(Xtr))
                        model = _neural(column, task, seed, epochs, Xtr.shape[1])
                        pred = model.fit(Xtr, ytr).predict(Xte)
                    seconds[column].append(time.perf_counter() - start)
                    scores[column].append(metric(yte, pred))
            except Exception as exc:  # reported in the table
                notes[column] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:120]
    info = {
        "task": task,
        "train": len(Xtr),
        "test": len(Xte),
        "T": Xtr.shape[1],
        "D": Xtr.shape[2],
        "unequal": bool(np.isnan(Xtr).any()),
        "epochs": _epochs(cfg["steps"], len(Xtr)),
        "notes": notes,
    }
    return scores, seconds, info


def run(cfg: dict) -> str:
    """Run with settings ``cfg`` (see :data:`FULL`) and return markdown."""
    rows, time_rows, notes = [], [], []
    for name in cfg["datasets"]:
        scores, seconds, info = run_dataset(name, cfg)
        metric = "accuracy" if info["task"] == "classification" else "R²"
        shape = f"{info['train']}/{info['test']}, T={info['T']}" + (
            " (unequal)" if info["unequal"] else ""
        )
        shape += f", {info['epochs']} ep."
        rows.append(
            [name, shape, f"{info['D']}", metric]
            + [fmt_mean_std(scores[c]) for c in cfg["columns"]]
        )
        time_rows.append([name] + [fmt_mean_std(seconds[c], 1) for c in cfg["columns"]])
        notes += [f"- {name}, {c}: {why}" for c, why in info["notes"].items()]
    n_seeds = len(cfg["seeds"])
    lines = [
        "## Accuracy on real data bundled with aeon",
        "",
        f"Mean ± std over {n_seeds} seed(s) {tuple(cfg['seeds'])} (the seed of the estimator; "
        f"the split is aeon's fixed train/test split). Neural columns: {cfg['steps']} optimiser "
        f"steps (epochs in the second column), batch_size={BATCH_SIZE}, channels "
        "standardised with training statistics; "
        "`tsinfluence k=25%` uses the default training scheme, the `k=1` and random-k "
        "baselines are trained `joint` (the predictor learns directly on what it will see). "
        "Random k: a fixed data-independent random set of positions (`FixedRandomSelection`). "
        "MiniRocket: aeon defaults (10 000 kernels, ridge classifier / regressor), raw data; "
        "JapaneseVowels zero-padded to the longest series for it.",
        "",
        markdown_table(["data set", "train/test, T, epochs", "D", "metric", *cfg["columns"]], rows),
        "",
        "Fit + predict seconds (mean ± std; noisy shared 2-core machine; MiniRocket's numba "
        "kernels are cached on disk by aeon, so only the very first run on a machine pays "
        "~50 s of compilation):",
        "",
        markdown_table(["data set", *cfg["columns"]], time_rows),
    ]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines)


def main(quick: bool = False) -> str:
    """Accuracy of tsinfluence (k<=25 %) vs full series, random k and MiniRocket on aeon data."""
    set_threads()
    text = run(QUICK if quick else FULL)
    write_result("accuracy", text)
    return text


if __name__ == "__main__":
    raise SystemExit(cli(main))
