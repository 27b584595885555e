"""Black-box mode: explaining fitted models -- with and without gradients -- amortized.

Three models the user already owns are trained on data with known influential timestamps, then
frozen and explained:

- (i) a GRU (:class:`GRUClassifier`, torch, has gradients) on :func:`make_signal_event`;
- (ii) an aeon ``MiniRocketClassifier`` (channels first, no gradient, hard 0/1
  ``predict_proba``) on the same data, handed over as ``ChannelsFirst(model)``, and the same
  fitted model's ``pipeline_`` (whose ``RidgeClassifierCV`` has ``decision_function`` margins)
  as ``ChannelsFirst(model.pipeline_)``;
- (iii) a scikit-learn ``Pipeline(StandardScaler, LogisticRegression)`` on flattened univariate
  series (:func:`make_box`, ``pattern="middle"``), passed with the 2D ``X`` it was trained on.

tsinfluence: ``InfluenceClassifier(predictor=model, freeze_predictor=True, k=|truth|)`` with the
default black-box settings (``selector_gradient="score_function"``), fitted once on the
training series (``random_state`` 0, 1, 2), then ``influence_scores`` explains the held-out series
in one forward pass of the selector (the model is not called). Peers (Captum) on the same model:
IntegratedGradients (GRU only: the others have no gradient), Occlusion (window (1, D)),
FeatureAblation and ShapleyValueSampling with one group per timestamp; their baseline is the
training mean, the target the model's predicted class; numpy models are wrapped in a torch
function (the same :class:`~tsinfluence.estimators._blackbox.BlackBoxModel` tsinfluence calls).

Metrics per held-out series, against the timestamp truth: AUROC and precision@|truth|; fidelity:
the share of series whose class (frozen model) is the same on the top-|truth| steps of the
scores (others filled as tsinfluence fills them) as on the full series -- for tsinfluence this is
``est.fidelity``. Cost: seconds per 100 explanations (the one-off selector fit is reported
apart), and the speed-up over Occlusion.

``--baselines`` also fits tsinfluence with every fill of unselected steps (``baseline``) on the
three models (seeds 0, 1) and reports AUROC and fidelity per fill.

Run ``python -m benchmarks.blackbox [--quick] [--baselines]``; writes
``benchmarks/results/blackbox.md``.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import torch
from torch import nn

from tsinfluence import InfluenceClassifier
from tsinfluence import metrics as M
from tsinfluence.datasets import make_box, make_signal_event
from tsinfluence.nn.framework import SCORE_FUNCTION_SAMPLES
from tsinfluence.utils import ChannelsFirst

from ._common import cli, fmt_mean_std, markdown_table, quiet, set_threads, write_result

__all__ = ["FULL", "MODELS", "QUICK", "GRUClassifier", "main", "render", "run", "train_gru"]

#: Peers run on every model (IntegratedGradients only where the model has gradients).
PEERS = ("IntegratedGradients", "Occlusion", "FeatureAblation", "ShapleyValueSampling")

FULL = {
    "n_train": 600,
    "n_explain": 100,
    "gru_epochs": 25,
    "selector_epochs": 30,
    "seeds": (0, 1, 2),
    "baseline_seeds": (0, 1),
    "ig_steps": 50,
    "svs_samples": 2,
}
QUICK = {**FULL, "n_train": 300, "n_explain": 30, "gru_epochs": 8, "selector_epochs": 6}
QUICK.update({"seeds": (0,), "baseline_seeds": (0,), "ig_steps": 16, "svs_samples": 1})

#: Model name -> (data generator, generator kwargs).
MODELS = {
    "GRU (torch)": (
        make_signal_event,
        {"n_timestamps": 50, "n_channels": 2, "event_length": 3, "event_strength": 3.0},
    ),
    "MiniRocket (aeon)": (
        make_signal_event,
        {"n_timestamps": 50, "n_channels": 2, "event_length": 3, "event_strength": 3.0},
    ),
    "MiniRocket pipeline_ (ridge margins)": (
        make_signal_event,
        {"n_timestamps": 50, "n_channels": 2, "event_length": 3, "event_strength": 3.0},
    ),
    "Pipeline(StandardScaler, LogisticRegression)": (
        make_box,
        {"pattern": "middle", "n_timestamps": 40, "n_channels": 1, "box_length": 4},
    ),
}


class GRUClassifier(nn.Module):
    """A plain GRU classifier: ``nn.GRU`` then a linear head on the last hidden state."""

    def __init__(self, n_channels: int, n_classes: int = 2, hidden_size: int = 64) -> None:
        super().__init__()
        self.gru = nn.GRU(n_channels, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, n_classes)

    def forward(self, x: torch.Tensor, *args) -> torch.Tensor:
        """Logits ``(n, n_classes)`` from the last hidden state of ``x`` ``(n, T, D)``."""
        _, h = self.gru(x)
        return self.head(h[-1])


def train_gru(X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> GRUClassifier:
    """Train :class:`GRUClassifier` with Adam (lr 3e-3, batch 64); return it frozen, in eval."""
    torch.manual_seed(seed)
    model = GRUClassifier(X.shape[2], int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    x, t = torch.as_tensor(X), torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), t[idx]).backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


_MINIROCKETS: dict = {}  # one MiniRocket per data set, shared by its two rows


def _train(name: str, X: np.ndarray, y: np.ndarray, cfg: dict):
    """The fitted model and what tsinfluence is given: ``(predictor, X as passed to fit)``."""
    if name.startswith("GRU"):
        return train_gru(X, y, cfg["gru_epochs"], 0), X
    if name.startswith("MiniRocket"):
        from aeon.classification.convolution_based import MiniRocketClassifier

        key = (X.shape, float(X.sum()))
        if key not in _MINIROCKETS:
            model = MiniRocketClassifier(n_jobs=1, random_state=0)
            _MINIROCKETS[key] = model.fit(X.transpose(0, 2, 1), y)
        model = _MINIROCKETS[key]
        # The classifier's predict_proba is hard 0/1; its fitted pipeline_ (MiniRocket,
        # scaler, RidgeClassifierCV) has decision_function margins.
        return ChannelsFirst(model.pipeline_ if "margins" in name else model), X
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X2 = X[:, :, 0]
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X2, y), X2


def _forward(est, predictor):
    """A torch forward function ``(n, T, D) -> logits`` of the frozen model for Captum."""
    if isinstance(predictor, nn.Module):
        return predictor
    black_box = est.net_.module_.predictor.fn  # the BlackBoxModel tsinfluence calls

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = black_box(x.detach().double().cpu().numpy())
        return torch.as_tensor(out, dtype=x.dtype)

    return forward


def _peer(method: str, forward, x: torch.Tensor, target, base: torch.Tensor, cfg: dict):
    import captum.attr as ca

    n, T, D = x.shape
    groups = torch.arange(T).view(1, T, 1).expand(1, T, D).contiguous()
    if method == "IntegratedGradients":
        attr = ca.IntegratedGradients(forward).attribute(
            x, baselines=base, target=target, n_steps=cfg["ig_steps"], internal_batch_size=512
        )
    elif method == "Occlusion":
        attr = ca.Occlusion(forward).attribute(
            x, sliding_window_shapes=(1, D), strides=(1, D), baselines=base, target=target
        )
    elif method == "FeatureAblation":
        attr = ca.FeatureAblation(forward).attribute(
            x, feature_mask=groups, baselines=base, target=target, perturbations_per_eval=16
        )
    else:
        attr = ca.ShapleyValueSampling(forward).attribute(
            x,
            feature_mask=groups,
            baselines=base,
            target=target,
            n_samples=cfg["svs_samples"],
            perturbations_per_eval=16,
        )
    return attr.abs().sum(dim=2).detach().numpy()


def _topk_fidelity(est, X: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Class agreement of the frozen model on the top-``k`` steps of ``scores`` vs full series."""
    module = est.net_.module_
    x = torch.as_tensor(X if X.ndim == 3 else X[:, :, None], dtype=torch.float32)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    mask = np.zeros(scores.shape, dtype=np.float32)
    np.put_along_axis(mask, order, 1.0, axis=1)
    with torch.no_grad():
        on_top = module.predict_masked(x, torch.as_tensor(mask))[0]
        full = module.full_prediction(x)
    return float((on_top.argmax(1) == full.argmax(1)).float().mean())


def _fit(predictor, X_fit, y, k: int, seed: int, cfg: dict, **params):
    t0 = time.perf_counter()
    est = InfluenceClassifier(
        k=k,
        predictor=predictor,
        freeze_predictor=True,
        max_epochs=cfg["selector_epochs"],
        random_state=seed,
        **params,
    ).fit(X_fit, y)
    return est, time.perf_counter() - t0


def _explain_time(est, X) -> tuple[np.ndarray, float]:
    times = []
    for _ in range(3):  # median of 3 calls
        t0 = time.perf_counter()
        scores = est.influence_scores(X)
        times.append(time.perf_counter() - t0)
    return scores, float(np.median(times))


def _data(name: str, cfg: dict):
    make, kwargs = MODELS[name]
    X, y, truth = make(n_samples=cfg["n_train"] + cfg["n_explain"], random_state=0, **kwargs)
    X = X.astype(np.float32)
    ntr = cfg["n_train"]
    predictor, X_fit = _train(name, X[:ntr], y[:ntr], cfg)
    X_ex = X[ntr:] if X_fit.ndim == 3 else X[ntr:, :, 0]
    k = int(round(truth[:ntr].sum(axis=1).mean()))
    return predictor, X_fit, y[:ntr], X_ex, y[ntr:], truth[ntr:], k


def run_model(name: str, cfg: dict) -> tuple[list[list], dict]:
    """Explain model ``name`` with tsinfluence (several seeds) and the peers."""
    predictor, X_fit, y, X_ex, y_ex, truth, k = _data(name, cfg)
    runs = []
    for seed in cfg["seeds"]:
        with quiet():
            est, fit_s = _fit(predictor, X_fit, y, k, seed, cfg)
        scores, elapsed = _explain_time(est, X_ex)
        runs.append(
            {
                "auroc": M.auroc(scores, truth),
                "p@k": M.precision_at_k(scores, truth),
                "fidelity": est.fidelity(X_ex),
                "s100": 100 * elapsed / len(X_ex),
                "fit_s": fit_s,
            }
        )
    # The last seed's fit provides the model wrapper and the fill for the peers.
    x = torch.as_tensor(X_ex if X_ex.ndim == 3 else X_ex[:, :, None], dtype=torch.float32)
    forward = _forward(est, predictor)
    with torch.no_grad():
        target = forward(x).argmax(dim=1)
    base = torch.as_tensor(X_fit.mean(axis=0), dtype=torch.float32).reshape(1, *x.shape[1:])
    peers = {}
    for method in PEERS:
        if method == "IntegratedGradients" and not isinstance(predictor, nn.Module):
            continue
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = _peer(method, forward, x, target, base, cfg)
        elapsed = time.perf_counter() - t0
        peers[method] = {
            "auroc": M.auroc(scores, truth),
            "p@k": M.precision_at_k(scores, truth),
            "fidelity": _topk_fidelity(est, X_ex, scores, k),
            "s100": 100 * elapsed / len(X_ex),
        }
    occl = peers["Occlusion"]["s100"]
    rows = []

    def stat(key):
        vals = [r[key] for r in runs]
        return f"{fmt_mean_std(vals)} (worst {min(vals):.3f})"

    s100 = float(np.mean([r["s100"] for r in runs]))
    rows.append(
        [
            name,
            f"tsinfluence ({len(runs)} seeds)",
            stat("auroc"),
            stat("p@k"),
            stat("fidelity"),
            f"{s100:.4f}",
            f"{occl / s100:.0f}x",
            f"{np.mean([r['fit_s'] for r in runs]):.1f}",
        ]
    )
    for method, r in peers.items():
        row = [name, method, r["auroc"], r["p@k"], r["fidelity"], f"{r['s100']:.3f}"]
        rows.append(row + [f"{occl / r['s100']:.1f}x", "—"])
    with torch.no_grad():
        acc = float((forward(x).argmax(1).numpy() == y_ex).mean())
    # The ceiling of a faithful explanation at this k: the model on the true steps alone.
    truth_fidelity = _topk_fidelity(est, X_ex, truth.astype(float), k)
    return rows, {"k": k, "shape": x.shape[1:], "acc": acc, "truth_fidelity": truth_fidelity}


def run_baselines(cfg: dict) -> list[list]:
    """AUROC and fidelity of tsinfluence with each fill of the unselected steps."""
    rows = []
    for name in MODELS:
        if "margins" in name:  # the same MiniRocket as the row above
            continue
        predictor, X_fit, y, X_ex, _, truth, k = _data(name, cfg)
        for baseline in ("zeros", "mean", "noise", "sample", "interpolate"):
            aurocs, fids = [], []
            for seed in cfg["baseline_seeds"]:
                with quiet():
                    est, _ = _fit(predictor, X_fit, y, k, seed, cfg, baseline=baseline)
                aurocs.append(M.auroc(est.influence_scores(X_ex), truth))
                fids.append(est.fidelity(X_ex))
            rows.append([name, baseline, fmt_mean_std(aurocs), fmt_mean_std(fids)])
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


HEADERS = [
    "model",
    "explainer",
    "AUROC ↑",
    "precision@|truth| ↑",
    "fidelity ↑",
    "s / 100 expl.",
    "vs Occlusion",
    "one-off fit s",
]


def run(cfg: dict, baselines: bool = False) -> str:
    """Run the benchmark with settings ``cfg`` (see :data:`FULL`) and return markdown."""
    all_rows, infos = [], {}
    for name in MODELS:
        rows, infos[name] = run_model(name, cfg)
        all_rows += rows
        print("\n".join(map(str, rows)), infos[name], file=sys.stderr, flush=True)
    return render(cfg, all_rows, infos, run_baselines(cfg) if baselines else None)


def render(cfg: dict, rows: list[list], infos: dict, baseline_rows: list[list] | None) -> str:
    """The markdown section of the results (``rows`` from :func:`run_model`)."""
    model_rows = [
        [n, "×".join(map(str, i["shape"])), i["k"], i["acc"], i["truth_fidelity"]]
        for n, i in infos.items()
    ]
    lines = [
        "## Black-box mode: explaining fitted models, with and without gradients",
        "",
        f"{cfg['n_train']} training series, {cfg['n_explain']} explained (held-out) series. "
        "tsinfluence: `InfluenceClassifier(predictor=model, freeze_predictor=True, k=|truth|, "
        f"max_epochs={cfg['selector_epochs']}, random_state=seed)`, defaults otherwise "
        "(`selector_gradient='auto'` = score function with "
        f"{SCORE_FUNCTION_SAMPLES} samples, `baseline='mean'`); "
        f"mean ± std over seeds {list(cfg['seeds'])} and the worst seed. Peers: Captum on the "
        "same frozen model, baseline = training mean, target = predicted class, one group per "
        f"timestamp (IG n_steps={cfg['ig_steps']}, ShapleyValueSampling "
        f"n_samples={cfg['svs_samples']}). Fidelity: class agreement of the model on the "
        "top-|truth| steps (others filled with tsinfluence's fill) with its class on the full "
        "series. 's / 100 expl.' excludes tsinfluence's one-off fit (last column). Data: "
        "`make_signal_event(T=50, D=2, event_length=3, event_strength=3)` for the GRU and "
        "MiniRocket, `make_box('middle', T=40, D=1, box_length=4)` for the pipeline. "
        "'fidelity of the true steps': the same agreement when the model is shown exactly "
        "the steps that carry the label (the generator's ground truth), so no explanation "
        "that finds them can be more faithful at this k.",
        "",
        markdown_table(
            [
                "model",
                "T×D",
                "|truth| = k",
                "model accuracy (held out)",
                "fidelity of the true steps",
            ],
            model_rows,
        ),
        "",
        markdown_table(HEADERS, rows),
    ]
    if baseline_rows is not None:
        lines += [
            "",
            "### Fill of the unselected steps (`baseline`)",
            "",
            f"Same settings, seeds {list(cfg['baseline_seeds'])}; mean ± std. (`learned` is "
            "not listed: it is trained through a gradient only, so with score-function "
            "training it stays at the mean.)",
            "",
            markdown_table(["model", "baseline", "AUROC ↑", "fidelity ↑"], baseline_rows),
        ]
    return "\n".join(lines)


def main(quick: bool = False) -> str:
    """Black-box mode on a GRU, a MiniRocket and a scikit-learn pipeline vs Captum."""
    set_threads()
    text = run(QUICK if quick else FULL, baselines="--baselines" in sys.argv)
    write_result("blackbox", text)
    return text


if __name__ == "__main__":
    argv = [a for a in sys.argv[1:] if a != "--baselines"]
    raise SystemExit(cli(main, argv))
