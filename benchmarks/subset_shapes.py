"""How much a quarter of the steps can carry, by the shape of the quarter (MiniRocket).

Issue 13 asks, where 25 % of the steps cannot carry the accuracy, for the evidence. The
accuracy table answers it for our own network (the ``random k`` and fidelity columns). This
benchmark answers it for a strong model that owes nothing to tsinfluence: aeon's MiniRocket,
trained on the training series plus :data:`N_COPIES` copies of each with a random quarter of
its steps kept and the rest linearly interpolated (the fill of ``baseline="interpolate"``),
then scored on test series, each with one random quarter of the *same shape* kept:

- ``scattered``: 25 % of the steps drawn uniformly, per series (as
  :func:`tsinfluence.utils.masked_copies` draws them; the accuracy table's ``random k`` keeps
  one such draw for every series);
- ``m window(s)``: 25 % of the steps as ``m`` contiguous windows of (nearly) equal width at
  random, non-overlapping places (``m`` = 1, 2, 4, 8). A trained selector keeps about 1.5-2.5
  runs of consecutive steps per series on these data sets (``accuracy_analysis.md``).

The windows are placed at random, so a column is what *a* selection of that shape carries,
not the best one: a selector that places its windows where the class shows can do better.
``full series``: MiniRocket trained and tested on full series, the reference of the accuracy
table. Equal-length data sets of :data:`benchmarks.accuracy.DATASETS` only (the
interpolation and MiniRocket need one length). Classification is scored by accuracy,
regression by R².

Run ``python -m benchmarks.subset_shapes [--quick]``;
``TSINFLUENCE_BENCH_DATASETS=OSULeaf,ACSF1`` restricts the data sets and
``TSINFLUENCE_BENCH_SEEDS=0,1`` the seeds.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.metrics import accuracy_score, r2_score

from tsinfluence.nn.conv import interpolate_unselected

from ._common import (
    cli,
    env_list,
    fmt,
    markdown_table,
    peer_available,
    quiet,
    set_threads,
    write_result,
)
from .accuracy import DATASETS, _minirocket, load

__all__ = ["FULL", "KEEP", "N_COPIES", "QUICK", "SHAPES", "main", "run", "subset_masks"]

#: Masked training copies per series (as the accuracy table's masked-MiniRocket column).
N_COPIES = 10

#: The kept quarter's shapes: ``"scattered"`` or a number of contiguous windows.
SHAPES = ("scattered", 1, 2, 4, 8)

#: Share of the steps kept.
KEEP = 0.25

FULL = {
    "datasets": tuple(
        name for name in DATASETS if name not in ("JapaneseVowels", "PickupGestureWiimoteZ")
    ),
    "seeds": (0, 1, 2),
    "n_copies": N_COPIES,
}
QUICK = {"datasets": ("ItalyPowerDemand",), "seeds": (0,), "n_copies": 2}


def subset_masks(n: int, length: int, shape, rng: np.random.Generator) -> np.ndarray:
    """``(n, length)`` bool masks keeping :data:`KEEP` of the steps, in ``shape``.

    Parameters
    ----------
    n, length : int
        Masks and steps per mask.
    shape : "scattered" or int
        Uniformly drawn steps, or that many non-overlapping windows at random places, of
        widths differing by at most one step (``round(KEEP * length)`` steps in all, at
        least one per window; windows may touch).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n, length), bool
    """
    keep = max(1, round(KEEP * length))
    masks = np.zeros((n, length), dtype=bool)
    if shape == "scattered":
        for row in masks:
            row[rng.choice(length, keep, replace=False)] = True
        return masks
    m = min(int(shape), keep)
    widths = np.full(m, keep // m)
    widths[: keep % m] += 1
    free = length - keep
    for row in masks:
        # sorted cut points split the free steps into m + 1 gaps: the windows' places
        cuts = np.sort(rng.integers(0, free + 1, size=m))
        order = rng.permutation(widths)
        starts = cuts + np.concatenate([[0], np.cumsum(order)[:-1]])
        for start, width in zip(starts, order):
            row[start : start + width] = True
    return masks


def _masked(X: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``X`` (n, T, D) with the unselected steps interpolated between the kept ones."""
    filled = interpolate_unselected(torch.from_numpy(X), torch.from_numpy(masks))
    return filled.numpy()


def _score(task: str, data, shape, seed: int, n_copies: int) -> float:
    """MiniRocket's test score on quarters of ``shape``.

    ``data``: ``(X_train, y_train, X_test, y_test)``, the series as float ``(n, T, D)`` arrays.
    """
    X_train, y_train, X_test, y_test = data
    rng = np.random.default_rng(seed)
    if shape == "full series":
        X_fit, y_fit, X_eval = X_train, y_train, X_test
    else:
        copies = [
            _masked(X_train, subset_masks(*X_train.shape[:2], shape, rng)) for _ in range(n_copies)
        ]
        X_fit = np.concatenate([X_train, *copies])
        y_fit = np.concatenate([y_train] * (n_copies + 1))
        X_eval = _masked(X_test, subset_masks(*X_test.shape[:2], shape, rng))
    model = _minirocket(task, seed).fit(X_fit.transpose(0, 2, 1), y_fit)
    prediction = model.predict(X_eval.transpose(0, 2, 1))
    if task == "classification":
        return float(accuracy_score(y_test, prediction))
    return float(r2_score(y_test, prediction))


def _label(shape) -> str:
    if shape in ("scattered", "full series"):
        return shape
    return f"{shape} window" + ("s" if shape > 1 else "")


def run(cfg: dict) -> str:
    """Score every shape on every data set and seed; returns the markdown section."""
    names = env_list("TSINFLUENCE_BENCH_DATASETS") or cfg["datasets"]
    seeds = tuple(int(s) for s in (env_list("TSINFLUENCE_BENCH_SEEDS") or cfg["seeds"]))
    shapes = ("full series", *SHAPES)
    rows = []
    for name in names:
        task = DATASETS[name]
        X_train, y_train, X_test, y_test = load(name)[:4]
        data = (np.asarray(X_train, float), y_train, np.asarray(X_test, float), y_test)
        row = [name, "accuracy" if task == "classification" else "R²"]
        started = time.perf_counter()
        for shape in shapes:
            with quiet():
                scores = [_score(task, data, shape, s, cfg["n_copies"]) for s in seeds]
            row.append(f"{fmt(np.mean(scores))} [{fmt(min(scores))}]")
        row.append(fmt(time.perf_counter() - started, 0))
        rows.append(row)
    headers = ["data set", "score", *(_label(s) for s in shapes), "seconds"]
    lines = [
        "## What a quarter of the steps carries, by its shape (MiniRocket)",
        "",
        f"Seeds {list(seeds)} (mask draws and MiniRocket's seed); mean [worst seed]; aeon's "
        "fixed splits. MiniRocket (aeon, defaults) trained on the training series plus "
        f"{cfg['n_copies']} copies of each with a random {int(KEEP * 100)} % of its steps kept "
        "in the column's shape and the rest linearly interpolated, tested on the test series "
        "with one random quarter of that shape each (`full series`: trained and tested on "
        "full series). `m windows`: the quarter as m contiguous windows of (nearly) equal "
        "width at random, non-overlapping places; `scattered`: steps drawn uniformly. Each "
        "series gets its own placement: what a selection of that shape carries, not the best "
        "one.",
        "",
        markdown_table(headers, rows),
    ]
    return "\n".join(lines)


def main(quick: bool = False) -> str:
    """MiniRocket on quarters of the steps of each shape, on aeon's equal-length data."""
    set_threads()
    ok, why = peer_available("aeon.classification.convolution_based")
    if not ok:
        text = (
            f"## What a quarter of the steps carries, by its shape (MiniRocket)\n\nNot run: {why}."
        )
    else:
        text = run(QUICK if quick else FULL)
    write_result("subset_shapes", text)
    return text


if __name__ == "__main__":
    raise SystemExit(cli(main))
