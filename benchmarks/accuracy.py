"""Accuracy on real data bundled with aeon: selecting 25 % of the steps vs the full series.

Columns (aeon's fixed train/test split; mean, std and worst over seeds, all in one run):

- ``tsinfluence k=25%``: ``InfluenceClassifier(k=0.25, random_state=seed)`` /
  ``InfluenceRegressor``, **every other setting at its default**: the prediction is made
  from the selected steps only;
- ``teacher predicts k=25%``: the same with ``prediction="full"``: the full-series teacher
  of the two-stage training predicts from every step and the selection explains it; its
  fidelity (how often the predictor on the selected 25 % alone gives the same class, R² for
  a regressor) is reported on the test set. Training does not depend on ``prediction``
  (``tests/test_estimators.py`` checks two fits are identical bit for bit), so when both
  columns run, the defaults' predictions come from the same fit with
  ``prediction="selected"``;
- ``interpolate k=25%``: the defaults with ``baseline="interpolate"`` (the convolutional
  predictor fills unselected steps with straight lines between the selected values);
- ``all steps (k=1)``: the same estimator and default predictor (a fully convolutional
  network, the FCN reference of Wang et al. 2017) with ``k=1.0`` trained ``"joint"``: with
  nothing to select, it is the predictor trained directly on the full series;
- ``random k=25%``: the same estimator with a *fixed random* selection of the same k (a
  :class:`FixedRandomSelection` module plugged in as ``selection_method``: a data-independent
  random priority per position), trained ``"joint"`` so the predictor learns on exactly that
  selection;
- ``selector on masked MiniRocket k=25%``: a reference for what a stronger predictor does with
  the same selection machinery (not the defaults): aeon's MiniRocket is trained on the
  training series plus :data:`MASKED_COPIES` copies of each with a random 25 % of its steps
  kept and the rest linearly interpolated (:func:`tsinfluence.utils.masked_copies`), then
  frozen, and
  ``InfluenceClassifier(k=0.25, predictor=ChannelsFirst(model.pipeline_),
  freeze_predictor=True, baseline="interpolate")`` learns the selection against its margins
  (black-box mode); the prediction is the frozen model on the selected steps, interpolated.
  Equal-length data only;
- ``MiniRocket``: aeon's ``MiniRocketClassifier`` / ``MiniRocketRegressor`` with its defaults,
  on the raw data (channels first; unequal-length series zero-padded to the longest).

Classification is scored by accuracy, regression (Covid3Month) by R². All data ship inside
aeon's wheel (``aeon/datasets/data``): nothing is downloaded. The data sets vary the
training-set size (36 to 270 series), the classes (2 to 10), the channels (1 to 12), the
length (24 to 1460) and include series of unequal length (JapaneseVowels,
PickupGestureWiimoteZ).

Run ``python -m benchmarks.accuracy [--quick]``; ``TSINFLUENCE_BENCH_DATASETS=GunPoint,ACSF1``
restricts the data sets and ``TSINFLUENCE_BENCH_SEEDS=0,1,2`` the seeds;
``TSINFLUENCE_BENCH_COLUMNS`` the columns (comma-separated names of :data:`COLUMNS`);
``TSINFLUENCE_BENCH_RAW=DIR`` keeps each data set's raw results in ``DIR`` (resume, or split a
run over processes and assemble it with a last run).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, r2_score
from torch import nn

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence.nn.selection.base import hard_topk, resolve_k
from tsinfluence.utils import ChannelsFirst, from_channels_first, masked_copies

from ._common import (
    cli,
    env_list,
    fmt_mean_std,
    markdown_table,
    peer_available,
    quiet,
    set_threads,
    write_result,
)

__all__ = ["DATASETS", "FULL", "QUICK", "FixedRandomSelection", "load", "main", "run"]

#: name -> task (every one loads with ``aeon.datasets.load_classification`` or
#: ``load_regression`` from the data bundled with aeon)
DATASETS = {
    "GunPoint": "classification",
    "ItalyPowerDemand": "classification",
    "ArrowHead": "classification",
    "BasicMotions": "classification",
    "JapaneseVowels": "classification",
    "OSULeaf": "classification",
    "PickupGestureWiimoteZ": "classification",
    "ACSF1": "classification",
    "Covid3Month": "regression",
}

DEFAULTS = "tsinfluence k=25%"
TEACHER = "teacher predicts k=25%"
MASKED_ROCKET = "selector on masked MiniRocket k=25%"

#: Masked copies of each training series the ``MASKED_ROCKET`` column's model is trained on.
MASKED_COPIES = 10
COLUMNS = (
    DEFAULTS,
    TEACHER,
    "interpolate k=25%",
    "all steps (k=1)",
    "random k=25%",
    MASKED_ROCKET,
    "MiniRocket",
)

#: Columns run on every seed (the others on the first ``reference_seeds``).
JUDGED = COLUMNS[:3]

#: ``seeds``: the defaults (and the two options) are judged on 5
#: seeds; the reference columns on the first ``reference_seeds``. Optional keys:
#: ``columns`` (a subset of :data:`COLUMNS`) and ``max_epochs`` (``None``: the estimators'
#: default budget).
FULL = {"datasets": tuple(DATASETS), "seeds": (0, 1, 2, 3, 4), "reference_seeds": 3}
QUICK = {
    "datasets": ("GunPoint", "ItalyPowerDemand"),
    "seeds": (0,),
    "reference_seeds": 1,
}


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
    """Load ``name`` from aeon's bundled data, channels last as tsinfluence takes it.

    Returns
    -------
    (X_train, y_train, X_test, y_test, X_train_cf, X_test_cf): ``X_*`` are ``(n, T, D)`` arrays
    or lists of ``(T_i, D)`` arrays (unequal lengths); ``X_*_cf`` are aeon's channels-first
    originals (for MiniRocket).
    """
    import aeon.datasets

    loader = (
        aeon.datasets.load_classification
        if DATASETS[name] == "classification"
        else aeon.datasets.load_regression
    )
    X_train, y_train = loader(name, split="train")
    X_test, y_test = loader(name, split="test")
    if DATASETS[name] == "regression":
        y_train, y_test = np.asarray(y_train, float), np.asarray(y_test, float)
    return (
        from_channels_first(X_train),
        y_train,
        from_channels_first(X_test),
        y_test,
        X_train,
        X_test,
    )


def _longest(*collections) -> int:
    return max(len(x) for c in collections for x in c)


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


def _neural(column: str, task: str, seed: int, longest: int, max_epochs: int | None):
    Est = InfluenceClassifier if task == "classification" else InfluenceRegressor
    common = {"random_state": seed, "max_epochs": max_epochs}
    if column == DEFAULTS:
        return Est(k=0.25, **common)
    if column == TEACHER:
        return Est(k=0.25, prediction="full", **common)
    if column == "interpolate k=25%":
        return Est(k=0.25, baseline="interpolate", **common)
    if column == "all steps (k=1)":
        return Est(k=1.0, training_scheme="joint", **common)
    if column == "random k=25%":
        selection = FixedRandomSelection(0.25, longest, seed)
        return Est(k=0.25, selection_method=selection, training_scheme="joint", **common)
    raise ValueError(f"Unknown column {column!r}.")


def _minirocket(task: str, seed: int):
    if task == "classification":
        from aeon.classification.convolution_based import MiniRocketClassifier

        return MiniRocketClassifier(random_state=seed)
    from aeon.regression.convolution_based import MiniRocketRegressor

    return MiniRocketRegressor(random_state=seed)


def _masked_minirocket(task: str, seed: int, data) -> dict:
    """Test predictions of the :data:`MASKED_ROCKET` column (see the module docstring)."""
    Xtr, ytr = data[:2]
    if isinstance(Xtr, list):
        raise ValueError("needs series of equal length")
    X_aug, y_aug = masked_copies(Xtr, ytr, k=0.25, n_copies=MASKED_COPIES, random_state=seed)
    model = _minirocket(task, seed).fit(X_aug.transpose(0, 2, 1), y_aug)
    Est = InfluenceClassifier if task == "classification" else InfluenceRegressor
    explainer = Est(
        k=0.25,
        predictor=ChannelsFirst(model.pipeline_),
        freeze_predictor=True,
        baseline="interpolate",
        random_state=seed,
    ).fit(Xtr, ytr)
    return {MASKED_ROCKET: explainer.predict(data[2])}


def _fit_predict(column, task, seed, data, max_epochs=None) -> dict:
    """Test-set predictions ``{column: predictions}`` of one fit.

    The :data:`TEACHER` fit also gives the :data:`DEFAULTS` column's predictions (the same
    model with ``prediction="selected"``) and ``"fidelity"`` on the test set.
    """
    Xtr, ytr, Xte, yte, Xtr_cf, Xte_cf = data
    if column in ("MiniRocket", MASKED_ROCKET):
        ok, why = peer_available("aeon")
        if not ok:
            raise RuntimeError(f"aeon not importable ({why})")
        threads = torch.get_num_threads()
        try:
            if column == MASKED_ROCKET:
                return _masked_minirocket(task, seed, data)
            A, B = _pad_channels_first(Xtr_cf, Xte_cf)
            return {column: _minirocket(task, seed).fit(A, ytr).predict(B)}
        finally:  # aeon / numba reset torch's thread count (seen: 1 -> 2)
            torch.set_num_threads(threads)
    model = _neural(column, task, seed, _longest(Xtr, Xte), max_epochs).fit(Xtr, ytr)
    out = {column: model.predict(Xte)}
    if column == TEACHER:
        out["fidelity"] = model.fidelity(Xte)
        out[DEFAULTS] = model.set_params(prediction="selected").predict(Xte)
    return out


def run_dataset(name: str, cfg: dict) -> tuple[dict, dict, dict]:
    """Scores and fit seconds of every column on data set ``name``."""
    task = DATASETS[name]
    data = load(name)
    Xtr, ytr, Xte, yte = data[:4]
    metric = accuracy_score if task == "classification" else r2_score
    columns = cfg.get("columns", COLUMNS)
    scores = {c: [] for c in columns}
    seconds = {c: [] for c in columns}
    fidelity = []
    notes = {}
    for i, seed in enumerate(cfg["seeds"]):
        for column in columns:
            if column not in JUDGED and i >= cfg["reference_seeds"]:
                continue
            if column == DEFAULTS and TEACHER in columns:
                continue  # predicted by the teacher column's fit
            try:
                with quiet():
                    start = time.perf_counter()
                    out = _fit_predict(column, task, seed, data, cfg.get("max_epochs"))
                    elapsed = time.perf_counter() - start
                if "fidelity" in out:
                    fidelity.append(out.pop("fidelity"))
                for name, pred in out.items():
                    seconds[name].append(elapsed)
                    scores[name].append(metric(yte, pred))
            except Exception as exc:  # reported in the table
                notes[column] = f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:160]
    lengths = [len(x) for x in Xtr]
    info = {
        "task": task,
        "train": len(Xtr),
        "test": len(Xte),
        "T": max(lengths) if min(lengths) == max(lengths) else f"{min(lengths)}-{max(lengths)}",
        "D": np.asarray(Xtr[0]).shape[-1] if np.asarray(Xtr[0]).ndim > 1 else 1,
        "classes": len(np.unique(ytr)) if task == "classification" else "-",
        "notes": notes,
        "fidelity": fidelity,
    }
    return scores, seconds, info


def _worst(values: list[float]) -> str:
    return f"{min(values):.3f}" if values else "-"


def _cached_run_dataset(name: str, cfg: dict) -> tuple[dict, dict, dict]:
    """:func:`run_dataset`, kept as JSON in ``$TSINFLUENCE_BENCH_RAW`` when that is set.

    A long run can then be resumed, or split over several processes (each given some data
    sets) and assembled by a last run over all of them.
    """
    folder = os.environ.get("TSINFLUENCE_BENCH_RAW")
    if not folder:
        return run_dataset(name, cfg)
    path = Path(folder) / f"accuracy-{name}.json"
    if path.exists():
        raw = json.loads(path.read_text())
        return raw["scores"], raw["seconds"], raw["info"]
    scores, seconds, info = run_dataset(name, cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scores": scores, "seconds": seconds, "info": info}, default=str))
    return scores, seconds, info


#: What each column is (the table's caption describes the columns it shows).
DESCRIPTIONS = {
    DEFAULTS: "`InfluenceClassifier(k=0.25, random_state=seed)` (`InfluenceRegressor` for "
    "Covid3Month) with every other setting at its default, on aeon's fixed train/test split "
    "and the raw data (the estimator standardises channels inside the model, and with "
    '`scaling="auto"` first compresses Covid3Month\'s case counts, the only channel here '
    "whose level differs by orders of magnitude between series; series of unequal length "
    "are passed as lists)",
    TEACHER: 'the same with `prediction="full"` (the full-series teacher predicts, the '
    "selection explains; `fidelity`: on the test set, how often the predictor on the selected "
    "25 % alone gives the teacher's class, R² against it for a regressor; the defaults column "
    'comes from the same fit with `prediction="selected"`, training being identical)',
    "interpolate k=25%": 'the defaults with `baseline="interpolate"`',
    "all steps (k=1)": "the same predictor trained `joint` on the full series (the FCN reference)",
    "random k=25%": "a fixed data-independent random set of positions "
    "(`FixedRandomSelection`) trained `joint`",
    MASKED_ROCKET: f"aeon's MiniRocket trained on the series and {MASKED_COPIES} copies of "
    "each with a random 25 % of the steps kept (the rest interpolated), frozen, and explained "
    'in black-box mode with `k=0.25, baseline="interpolate"`; it predicts from the selected steps',
    "MiniRocket": "aeon's defaults (10 000 kernels, ridge), unequal lengths zero-padded to "
    "the longest",
}


def _caption(cfg: dict, columns: list[str]) -> str:
    judged = [f"`{c}`" for c in columns if c in JUDGED]
    others = [f"`{c}`" for c in columns if c not in JUDGED]
    seeds = f"Mean ± std over seeds {tuple(cfg['seeds'])} for {', '.join(judged)}"
    if others:
        seeds += f", over the first {cfg['reference_seeds']} seed(s) for {', '.join(others)}"
    return seeds + ". " + "; ".join(f"`{c}`: {DESCRIPTIONS[c]}" for c in columns) + "."


def run(cfg: dict) -> str:
    """Run with settings ``cfg`` (see :data:`FULL`) and return markdown."""
    rows, time_rows, notes = [], [], []
    for name in cfg["datasets"]:
        scores, seconds, info = _cached_run_dataset(name, cfg)
        metric = "accuracy" if info["task"] == "classification" else "R²"
        shape = f"{info['train']}/{info['test']}, T={info['T']}, D={info['D']}"
        columns = list(scores)
        fidelity = [fmt_mean_std(info["fidelity"])] if TEACHER in columns else []
        rows.append(
            [name, shape, f"{info['classes']}", metric]
            + [fmt_mean_std(scores[c]) for c in columns]
            + [_worst(scores[c]) for c in JUDGED if c in scores]
            + fidelity
        )
        time_rows.append([name] + [fmt_mean_std(seconds[c], 1) for c in columns])
        notes += [f"- {name}, {c}: {why}" for c, why in info["notes"].items()]
    lines = [
        "## Accuracy on real data bundled with aeon",
        "",
        _caption(cfg, columns),
        "",
        markdown_table(
            [
                "data set",
                "train/test, T, D",
                "classes",
                "metric",
                *columns,
                *(f"{c}: worst seed" for c in JUDGED if c in columns),
                *([f"{TEACHER}: fidelity"] if TEACHER in columns else []),
            ],
            rows,
        ),
        "",
        "Fit + predict seconds (mean ± std; one torch thread; MiniRocket's numba kernels are "
        "cached on disk by aeon, so only the very first run on a machine pays ~50 s of "
        "compilation):",
        "",
        markdown_table(["data set", *columns], time_rows),
    ]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines)


def _env_config(cfg: dict) -> dict:
    cfg = dict(cfg)
    for key in ("datasets", "seeds", "columns"):
        chosen = env_list(f"TSINFLUENCE_BENCH_{key.upper()}")
        if chosen:
            cfg[key] = tuple(map(int, chosen)) if key == "seeds" else chosen
    return cfg


def main(quick: bool = False) -> str:
    """Accuracy of tsinfluence (k = 25 %) vs all steps, random k and MiniRocket on aeon data."""
    set_threads()
    text = run(_env_config(QUICK if quick else FULL))
    write_result("accuracy", text)
    return text


if __name__ == "__main__":
    raise SystemExit(cli(main))
