"""Precision and recall at once: inclusion-probability influence scores vs peers, 3 seeds.

Black-box mode on the peers' own data where it fits a one-output-per-series model:

- time_interpret's ``Arma`` generator (T=50, D=50, its rare-time ``dim=2`` and rare-feature
  ``dim=1`` truth) with its white-box regressor summed to one output per series,
  ``f(x) = sum over truth cells of x**2``; the truth per time step is "any cell of the step is
  in time_interpret's truth" (5 of 50 steps for rare-time, 25 of 50 for rare-feature);
- :func:`tsinfluence.datasets.make_state_switching`, the HMM "state" analogue, explained on a
  plain GRU classifier (:class:`benchmarks.blackbox.GRUClassifier`);
- time_interpret's own ``HMM`` generator ("tint HMM": its defaults, T=200, D=3, 2 states,
  seeded through numpy's global generator as the Arma rows are) with the same plain GRU
  trained to predict the label of the LAST time step from the whole series. time_interpret's
  HMM experiment explains a GRU ``StateClassifier`` trained to predict the label at step t from
  the prefix ``x[:, :t+1]`` (its test step is t = T-1, this task), and runs its gradient and
  occlusion peers through ``TimeForwardTunnel``, which for every t keeps only the attribution of
  step t for the output at t; its ``true_saliency`` marks, at every step t, the cell of the
  feature that drives the label at t (feature ``state_t + 1``). Aggregated per time step that
  truth is every step of every series (one true cell per step), so AUP would be 1 and AUROC
  undefined for every explainer. A one-prediction selector explains one output per series, so
  the truth used here is time_interpret's truth for that output: the row of ``true_saliency``
  at t = T-1, i.e. the last step (1 of 200 steps). The label at T-1 is drawn from
  ``sigmoid(2 x[T-1, state+1])``, but the state itself persists over time, so a GRU can also
  use earlier steps to infer it; as in time_interpret, those steps are not in the truth. The
  per-time-step tunnel protocol is not run: its per-step truth is all ones.

Every explainer attributes the same frozen model. tsinfluence fits a selector once
(``InfluenceRegressor`` / ``InfluenceClassifier(predictor=model, freeze_predictor=True,
selector_gradient="score_function")``) and explains in one pass; its rows are the new
``influence_scores`` (inclusion probabilities, at the selector's last sampling temperature:
a quarter of ``temperature``) of fits at the default ``temperature=1.0`` and at
``temperature=0.5``, and the previous score, the softmax of the same fitted scorer's logits.
Metrics: time_interpret's own ``aup`` / ``aur`` / ``auprc`` (tint 0.3.0, each series min-max
normalised, all cells pooled) on timestep scores, per-series AUROC and precision@|truth|.

Run ``python -m benchmarks.precision_recall [--quick]``;
``TSINFLUENCE_BENCH_DATASETS='tint HMM'`` runs only the named data sets (comma-separated names
of :data:`DATASETS`) and merges their rows into the existing
``benchmarks/results/precision_recall.md``, keeping the other data sets' rows and the
hand-written readings below the generated text.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

from tsinfluence import InfluenceClassifier, InfluenceRegressor
from tsinfluence import metrics as M
from tsinfluence.datasets import make_state_switching

from ._common import (
    RESULTS_DIR,
    cli,
    env_list,
    markdown_table,
    peer_available,
    quiet,
    set_threads,
    write_result,
)
from .blackbox import train_gru
from .faithfulness import _explain

__all__ = ["DATASETS", "FULL", "QUICK", "WhiteBox", "main", "run"]


class _Softmax(nn.Module):
    """Class probabilities of a logit model (what the mask explainers perturb against)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=-1)


DATASETS = ("tint Arma rare-time", "tint Arma rare-feature", "state_switching GRU", "tint HMM")
TSI = {
    "tsinfluence P(selected), T=1.0": 1.0,
    "tsinfluence P(selected), T=0.5": 0.5,
}
PEERS = ("IntegratedGradients", "DeepLift", "Occlusion", "DynaMask", "ExtremalMask")
FULL = {
    "datasets": DATASETS,
    "seeds": (0, 1, 2),
    "mask_seeds": (0,),
    "n_train": 500,
    "n_explain": 100,
    "gru_epochs": 30,
    # None: the default budget (what a user gets); the Arma rows were measured at 10 epochs
    "selector_epochs": {"arma": 10, "gru": None},
    "ig_steps": 50,
    "mask_epochs": 50,
    "dynamask_keep": (0.3,),
    # tint HMM: time_interpret's generator at its default length; training series per seed
    "hmm": {"n_train": 500, "signal_length": 200},
}
QUICK = {
    **FULL,
    "datasets": DATASETS[:1],
    "seeds": (0,),
    "mask_seeds": (),
    "n_train": 200,
    "n_explain": 30,
    "selector_epochs": {"arma": 3, "gru": 3},
    "ig_steps": 8,
    "hmm": {"n_train": 100, "signal_length": 50},
}


class WhiteBox(nn.Module):
    """time_interpret's Arma white box summed to one output: ``sum(x**2 * cells)``, ``(n, 1)``."""

    def __init__(self, cells: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("cells", cells.float())

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        return ((x * self.cells) ** 2).sum(dim=(1, 2))[:, None]


def _arma(dim: int, seed: int, cfg: dict):
    from tint.datasets import Arma

    np.random.seed(seed)  # noqa: NPY002 (statsmodels draws from the global generator)
    with tempfile.TemporaryDirectory() as tmp:
        arma = Arma(data_dir=tmp, seed=seed)
        n = cfg["n_train"] + cfg["n_explain"]
        arma.download(train_size=n, split="train")
        X = arma.preprocess("train")["x"].numpy().astype(np.float32)
        cells = arma.true_saliency("train", dim=dim)
    model = WhiteBox(cells[0]).eval()
    with torch.no_grad():
        y = model(torch.as_tensor(X))[:, 0].numpy()
    return X, y, cells.numpy().any(axis=2), model


def _hmm(seed: int, cfg: dict):
    """time_interpret's HMM: ``(X, label at the last step, truth per step of that label)``.

    ``true_saliency`` marks one cell per step (the feature of the state at that step, which
    drives the label at that step); the truth of the last step's label is its last row, so the
    per-step truth is the last step alone.
    """
    from tint.datasets import HMM

    np.random.seed(seed)  # noqa: NPY002 (the generator draws from numpy's global generator)
    n = cfg["hmm"]["n_train"] + cfg["n_explain"]
    with tempfile.TemporaryDirectory() as tmp:
        hmm = HMM(data_dir=tmp, seed=seed)
        hmm.download(train_size=n, signal_length=cfg["hmm"]["signal_length"], split="train")
        data = hmm.preprocess("train")
        cells = hmm.true_saliency("train").numpy().astype(bool)
    X = data["x"].numpy().astype(np.float32)
    y = data["y"][:, -1].numpy()
    truth = np.zeros(cells.shape[:2], dtype=bool)
    truth[:, -1] = cells[:, -1].any(axis=1)
    return X, y, truth


#: Held-out accuracy of each seed's GRU on "tint HMM" in the current :func:`run` (reported
#: in the caption).
GRU_ACCURACY: dict[str, list[float]] = {}


def _sizes(name: str, cfg: dict) -> tuple[int, int]:
    """``(n_train, n_explain)`` of data set ``name``."""
    return (cfg["hmm"]["n_train"] if name == "tint HMM" else cfg["n_train"]), cfg["n_explain"]


def _data(name: str, seed: int, cfg: dict):
    """``(X, y, truth per step, frozen model, task)`` of data set ``name``."""
    if name.startswith("tint Arma"):
        X, y, truth, model = _arma(2 if "rare-time" in name else 1, seed, cfg)
        return X, y, truth, model, "regression"
    if name == "tint HMM":
        X, y, truth = _hmm(seed, cfg)
        ntr = cfg["hmm"]["n_train"]
        gru = train_gru(X[:ntr], y[:ntr], cfg["gru_epochs"], seed)
        with torch.no_grad():
            pred = gru(torch.as_tensor(X[ntr:])).argmax(1).numpy()
        GRU_ACCURACY.setdefault(name, []).append(float((pred == y[ntr:]).mean()))
        return X, y, truth, gru, "classification"
    X, y, truth = make_state_switching(
        n_samples=cfg["n_train"] + cfg["n_explain"], n_timestamps=100, n_channels=3,
        random_state=seed,
    )  # fmt: skip
    X = X.astype(np.float32)
    gru = train_gru(X[: cfg["n_train"]], y[: cfg["n_train"]], cfg["gru_epochs"], seed)
    return X, y, truth, gru, "classification"


def _scores_tsinfluence(model, task, temperature, X_tr, y_tr, X_ex, k, epochs, seed):
    """New scores, old softmax scores of the same fitted scorer, fit seconds."""
    cls = InfluenceRegressor if task == "regression" else InfluenceClassifier
    est = cls(
        predictor=model, freeze_predictor=True, k=k, max_epochs=epochs,
        selector_gradient="score_function", module__temperature=temperature, random_state=seed,
    ).fit(X_tr, y_tr)  # fmt: skip
    new = est.influence_scores(X_ex)
    with torch.no_grad():
        logits = est.net_.module_.selector.scorer(torch.as_tensor(X_ex))
    old = torch.softmax(logits.double(), dim=1).numpy()
    return new, old, est


def _metrics(scores: np.ndarray, truth: np.ndarray) -> dict:
    import tint.metrics.white_box as wb

    s, t = torch.as_tensor(scores), torch.as_tensor(truth)
    return {
        "AUP": float(wb.aup(s, t)),
        "AUR": float(wb.aur(s, t)),
        "AUPRC": float(wb.auprc(s, t)),
        "AUROC": M.auroc(scores, truth),
        "prec@|truth|": M.precision_at_k(scores, truth),
    }


def run_one(name: str, seed: int, cfg: dict) -> dict:
    """``{explainer: metrics}`` for one data set and seed."""
    X, y, truth, model, task = _data(name, seed, cfg)
    ntr = _sizes(name, cfg)[0]
    X_tr, y_tr, X_ex, t_ex = X[:ntr], y[:ntr], X[ntr:], truth[ntr:]
    size = float(truth[:ntr].sum(1).mean())  # mean number of true steps
    k = float(round(size / X.shape[1], 2))
    if size / X.shape[1] < 0.01:  # under 1 % of the steps (tint HMM: 1 of 200): k in steps
        k = max(1, round(size))  # (0.005 rounds to 0.01, i.e. 2 steps, not the truth's 1)
    epochs = cfg["selector_epochs"]["arma" if task == "regression" else "gru"]
    out = {}
    for label, temperature in TSI.items():
        t0 = time.perf_counter()
        new, old, est = _scores_tsinfluence(
            model, task, temperature, X_tr, y_tr, X_ex, k, epochs, seed
        )
        out[label] = {**_metrics(new, t_ex), "fit s": time.perf_counter() - t0}
        if temperature == 1.0:
            out["tsinfluence softmax (before), T=1.0"] = _metrics(old, t_ex)
    x = torch.as_tensor(X_ex)
    with torch.no_grad():
        target = model(x).argmax(1) if task == "classification" else 0
    peer_cfg = {**cfg, "seed": seed, "svs_samples": 1}
    for method in PEERS:
        if method in ("DynaMask", "ExtremalMask"):
            if seed not in cfg["mask_seeds"] or not peer_available("tint.attr")[0]:
                continue
            explained = _Softmax(model) if task == "classification" else model
        else:
            explained = model
        try:
            with quiet():
                t0 = time.perf_counter()
                scores = _explain(method, None, explained, x, target, X_ex, peer_cfg)
                seconds = time.perf_counter() - t0
            out[method] = {**_metrics(np.nan_to_num(scores), t_ex), "explain s": seconds}
        except Exception as exc:  # a peer failing on this model is a result
            out[method] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0][:100]}
    rng = np.random.default_rng(seed)
    out["random scores (floor)"] = _metrics(rng.random(t_ex.shape), t_ex)
    return out


def _summary(values: list[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 1:
        return f"{v[0]:.3f} (1 seed)"
    return f"{v.mean():.3f} ± {v.std():.3f} (worst {v.min():.3f})"


METRICS = ("AUP", "AUR", "AUPRC", "AUROC", "prec@|truth|")


def _verdict(name: str, means: dict[str, dict], worst: dict[str, dict]) -> list:
    """Goal check of one data set: AUP >= 0.93 and AUR >= 0.86 on every seed, ahead of peers."""
    ours = [m for m in means if m.startswith("tsinfluence P(selected)")]
    peers = [m for m in means if m in PEERS]
    best = max(ours, key=lambda m: min(worst[m]["AUP"], worst[m]["AUR"]))
    peer_aup = max((means[m]["AUP"] for m in peers), default=float("nan"))
    peer_aur = max((means[m]["AUR"] for m in peers), default=float("nan"))
    goal = worst[best]["AUP"] >= 0.93 and worst[best]["AUR"] >= 0.86
    ahead = means[best]["AUP"] >= peer_aup and means[best]["AUR"] >= peer_aur
    return [
        name, best, f"{worst[best]['AUP']:.3f} / {worst[best]['AUR']:.3f}",
        f"{means[best]['AUP']:.3f} / {means[best]['AUR']:.3f}",
        f"{peer_aup:.3f} / {peer_aur:.3f}", f"{means[best]['AUROC']:.3f}",
        "yes" if goal else "no", "yes" if ahead else "no",
    ]  # fmt: skip


PUBLISHED = (
    "Published (their protocol, cell-level truth, not this data): HMM ExtremalMask AUP "
    "0.885 / AUR 0.781, Lime AUP 0.932 / AUR 0.438; Arma rare-time ExtremalMask 0.993 / "
    "0.820; rare-feature 0.992 / 0.756."
)


def _dataset_rows(name: str, cfg: dict) -> tuple[list[list], list]:
    """Table rows and goal-check row of one data set over the seeds of ``cfg``."""
    results = []
    for seed in cfg["seeds"]:
        start = time.perf_counter()
        results.append(run_one(name, seed, cfg))
        print(f"[precision_recall] {name} seed {seed}: {time.perf_counter() - start:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    methods = list(dict.fromkeys(m for r in results for m in r))
    rows, means, worst = [], {}, {}
    for method in methods:
        per_seed = [r[method] for r in results if method in r]
        errors = [p["error"] for p in per_seed if "error" in p]
        if errors:
            rows.append([name, method, *(["n/a"] * len(METRICS)), f"failed: {errors[0]}"])
            continue
        cells = [_summary([p[m] for p in per_seed]) for m in METRICS]
        means[method] = {m: float(np.mean([p[m] for p in per_seed])) for m in METRICS}
        worst[method] = {m: float(np.min([p[m] for p in per_seed])) for m in METRICS}
        both = [min(p["AUP"], p["AUR"]) for p in per_seed]
        rows.append([name, method, *cells, f"min(AUP, AUR) worst seed {min(both):.3f}"])
    return rows, _verdict(name, means, worst)


def _split_row(line: str) -> list[str]:
    r"""Cells of one markdown table row written by :func:`markdown_table` (``\|`` unescaped)."""
    cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
    return [c.strip().replace("\\|", "|") for c in cells]


def _previous(path) -> tuple[list[list], list[list], str]:
    """Rows of the two tables of a previous results file and its hand-written tail.

    The tail is every line after the :data:`PUBLISHED` paragraph (the dated readings).
    """
    if not path.exists():
        return [], [], ""
    lines = path.read_text(encoding="utf-8").splitlines()
    tables, current = [], None
    for line in lines:
        if line.startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            current.append(line)
        else:
            current = None
    body = [[_split_row(r) for r in t[2:]] for t in tables]  # skip header and rule lines
    published = [k for k, line in enumerate(lines) if line.startswith(PUBLISHED[:40])]
    tail = "\n".join(lines[published[0] + 1 :]).strip() if published else ""
    return (body[0] if body else []), (body[1] if len(body) > 1 else []), tail


def _caption(cfg: dict) -> str:
    hmm = cfg["hmm"]
    gru_acc = GRU_ACCURACY.get("tint HMM")
    acc = (
        f" (held-out accuracy on the last step's label {np.mean(gru_acc):.3f} ± "
        f"{np.std(gru_acc):.3f} over the seeds run)"
        if gru_acc
        else ""
    )
    return (
        f"Seeds {list(cfg['seeds'])} (data, model and explainer seed); mean ± std over seeds "
        f"(population std) and the worst seed. {cfg['n_train']} training and "
        f"{cfg['n_explain']} explained series per seed ({hmm['n_train']} training series on "
        "tint HMM). Models explained (frozen): tint's "
        "Arma white box summed over time (`f(x) = sum(x**2 * truth cells)`, T=50, D=50), "
        f"a GRU (hidden 64, {cfg['gru_epochs']} epochs) on `make_state_switching` (T=100, "
        "D=3), and the same GRU recipe on tint's `HMM` generator (its defaults, "
        f"T={hmm['signal_length']}, D=3) trained to predict the label of the last step from "
        f"the whole series{acc}. tint HMM adaptation: time_interpret explains a GRU "
        "`StateClassifier` (hidden 200, trained on random prefixes) whose output at step t "
        "reads the prefix up to t, through `TimeForwardTunnel` (one prediction per step); "
        "here one prediction per series, the last step's (the StateClassifier's test step), "
        "and the truth is time_interpret's `true_saliency` for that prediction, its row at "
        "the last step, so 1 true step of "
        f"{hmm['signal_length']} (time_interpret's full truth, one true cell at every step, "
        "is every step once aggregated per step: AUP 1 and AUROC undefined for any "
        "explainer; the tunnel protocol is therefore not run). "
        "tsinfluence: `InfluenceRegressor`/`InfluenceClassifier(predictor=model, "
        "freeze_predictor=True, k=<mean truth fraction, rounded to 0.01>, "
        "selector_gradient='score_function', "
        f"max_epochs={cfg['selector_epochs']['arma']} (Arma) / "
        f"{cfg['selector_epochs']['gru']} (GRU), temperature=1.0 or 0.5)`, other settings "
        "default (on tint HMM, a truth under 1 % of the steps, `k=1` step, the truth's size); "
        "'P(selected)' is `influence_scores`, the inclusion probabilities at the selector's "
        "last sampling temperature (a quarter of `temperature`); "
        "'softmax (before)' is the previous `influence_scores`, the softmax of the same "
        "fitted scorer's logits. Captum IG (zero "
        f"baseline, n_steps={cfg['ig_steps']}), DeepLift (zero baseline) and Occlusion "
        "(window (1, D), zero baseline) on the model's output (the GRU's logit of its "
        "predicted class); "
        f"DynaMask (keep ratio {list(cfg['dynamask_keep'])}) and ExtremalMask (λ1 = λ2 = 1) "
        f"{cfg['mask_epochs']} epochs on seed(s) {list(cfg['mask_seeds'])} only (published: "
        "1000 / 500 epochs, DynaMask keep ratios 0.25…0.35 on HMM and 0.001…0.05 on Arma; cut "
        "to fit a shared 2-core CPU). Cell attributions are summed over channels (|·|). "
        "AUP / AUR / AUPRC: `tint.metrics.white_box` of time_interpret 0.3.0 on timestep "
        "scores against the timestep truth; AUROC and precision@|truth| per series "
        "(`tsinfluence.metrics`)."
    )


def run(cfg: dict, merge_into=None) -> str:
    """Run every data set and seed of ``cfg`` and return the markdown section.

    ``merge_into``: a previous results file whose rows of the data sets not in ``cfg`` are
    kept (in :data:`DATASETS` order) with its hand-written tail.
    """
    GRU_ACCURACY.clear()  # a second run in the same process reports its own models
    rows, verdicts = {}, {}
    for name in cfg["datasets"]:
        rows[name], verdicts[name] = _dataset_rows(name, cfg)
    tail = ""
    if merge_into is not None:
        old_rows, old_verdicts, tail = _previous(merge_into)
        for row in old_rows:
            if row[0] not in cfg["datasets"]:
                rows.setdefault(row[0], []).append(row)
        for row in old_verdicts:
            if row[0] not in cfg["datasets"]:
                verdicts.setdefault(row[0], row)
    order = [n for n in DATASETS if n in rows] + [n for n in rows if n not in DATASETS]
    lines = [
        "## Precision and recall at once (inclusion-probability scores, peers' data)",
        "",
        _caption(cfg),
        "",
        markdown_table(
            ["data set", "explainer", *METRICS, "note"], [r for n in order for r in rows[n]]
        ),  # fmt: skip
        "",
        "Goal check (computed from the rows above): the tsinfluence row with the best "
        "worst-seed min(AUP, AUR); goal = AUP ≥ 0.93 and AUR ≥ 0.86 on every seed; 'ahead' = "
        "its mean AUP and mean AUR are both at least the best peer's mean AUP and best peer's "
        "mean AUR (peers: IG, DeepLift, Occlusion, DynaMask, ExtremalMask as run here).",
        "",
        markdown_table(
            [
                "data set",
                "best tsinfluence row",
                "worst-seed AUP / AUR",
                "mean AUP / AUR",
                "best peer AUP / best peer AUR",
                "AUROC",
                "goal met",
                "ahead of every peer",
            ],
            [verdicts[n] for n in order if n in verdicts],
        ),  # fmt: skip
        "",
        PUBLISHED,
    ]
    if tail:
        lines += ["", tail]
    return "\n".join(lines)


def _env_config(cfg: dict) -> tuple[dict, bool]:
    """``cfg`` with ``TSINFLUENCE_BENCH_DATASETS`` applied; whether it names a subset."""
    names = env_list("TSINFLUENCE_BENCH_DATASETS")
    if names is None:
        return cfg, False
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"Unknown data set(s) {unknown}; expected names of {DATASETS}.")
    return {**cfg, "datasets": names}, True


def main(quick: bool = False) -> str:
    """Inclusion-probability influence scores vs softmax and peers (AUP, AUR, 3 seeds)."""
    set_threads()
    ok, why = peer_available("tint.metrics.white_box")
    if not ok:
        text = f"## Precision and recall at once\n\nNot run: time_interpret unavailable ({why})."
    else:
        cfg, subset = _env_config(QUICK if quick else FULL)
        text = run(cfg, RESULTS_DIR / "precision_recall.md" if subset else None)
    write_result("precision_recall", text)
    return text


if __name__ == "__main__":
    raise SystemExit(cli(main))
