"""Cost: explanation price, skorch overhead of training, and scaling in T and n.

Three measurements, each taken side by side in one run and quoted as medians over repeats (the
machine is a shared 2-core box, so ratios are more stable than absolute seconds):

1. **Explanation cost on one fitted model**: ``influence_scores(X)`` and ``select(X)`` time over
   ``predict(X)`` time (the floor is about 1: one forward pass), next to Captum's
   IntegratedGradients, Occlusion and FeatureAblation (per-timestamp) on the same network.
2. **Training throughput**: ``InfluenceClassifier.fit`` vs a hand-written PyTorch loop over the
   same modules (a copy of the fitted ``InfluenceFramework``, Adam, the same batch size, epochs,
   phase of each epoch and gradient clipping): samples per second and the skorch overhead ratio.
3. **Scaling**: fit / predict seconds and peak memory (``VmHWM`` of a fresh subprocess) as
   the series length T and the number of series n grow.

Run ``python -m benchmarks.cost [--quick]``.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import torch

from tsinfluence import InfluenceClassifier
from tsinfluence.datasets import make_box

from ._common import (
    THREADS_ENV,
    cli,
    markdown_table,
    median_time,
    peer_available,
    quiet,
    set_threads,
    write_result,
)

__all__ = ["FULL", "QUICK", "hand_written_fit", "main", "run"]

FULL = {
    "explain_n": 200,
    "explain_T": 50,
    "ig_steps": 50,
    "repeats": 5,
    "train_n": 512,
    "train_epochs": 4,
    "train_repeats": 3,
    "batch_size": 64,
    "T_grid": (128, 256, 512, 1024, 2048, 4096),
    "T_n": 32,
    "T_batch": 4,
    "n_grid": (250, 500, 1000, 2000, 4000),
    "n_T": 100,
    "scale_epochs": 2,
}
QUICK = {
    "explain_n": 50,
    "explain_T": 50,
    "ig_steps": 16,
    "repeats": 3,
    "train_n": 128,
    "train_epochs": 2,
    "train_repeats": 2,
    "batch_size": 64,
    "T_grid": (128, 512),
    "T_n": 32,
    "T_batch": 8,
    "n_grid": (100, 400),
    "n_T": 50,
    "scale_epochs": 1,
}


def _data(n: int, T: int, seed: int = 0):
    X, y, _ = make_box(
        n_samples=n, n_timestamps=T, n_channels=3, pattern="moving", random_state=seed
    )
    return X.astype(np.float32), y


# --------------------------------------------------------------------------- 1. explanations
def explanation_cost(cfg: dict) -> tuple[str, dict]:
    """Seconds of each explainer on the same fitted model, and the ratio to ``predict``."""
    n_fit = cfg.get("explain_fit_n", 200)
    X, y = _data(cfg["explain_n"] + n_fit, cfg["explain_T"])
    clf = InfluenceClassifier(k=0.25, max_epochs=2, random_state=0).fit(X[:n_fit], y[:n_fit])
    Xe = X[n_fit:]
    rows, timings = [], {}
    timings["predict"] = median_time(lambda: clf.predict(Xe), cfg["repeats"])[0]
    timings["influence_scores"] = median_time(lambda: clf.influence_scores(Xe), cfg["repeats"])[0]
    timings["select"] = median_time(lambda: clf.select(Xe), cfg["repeats"])[0]
    ok, why = peer_available("captum.attr")
    if ok:
        import captum.attr as ca

        framework = clf.net_.module_.eval()
        for p in framework.parameters():
            p.requires_grad_(False)

        class Prob(torch.nn.Module):
            def __init__(self, f):
                super().__init__()
                self.f = f

            def forward(self, x):
                return torch.softmax(self.f(x)[0], dim=-1)

        model = Prob(framework)
        x = torch.as_tensor(Xe)
        T, D = x.shape[1:]
        with torch.no_grad():
            target = model(x).argmax(1)
        fmask = torch.arange(T).view(1, T, 1).expand(1, T, D).contiguous()
        peers = {
            f"IntegratedGradients (n_steps={cfg['ig_steps']})": lambda: ca.IntegratedGradients(
                model
            ).attribute(x, baselines=x * 0, target=target, n_steps=cfg["ig_steps"]),
            "Occlusion (window 1×D)": lambda: ca.Occlusion(model).attribute(
                x,
                sliding_window_shapes=(1, D),
                strides=(1, D),
                baselines=0.0,
                target=target,
                perturbations_per_eval=16,
            ),  # fmt: skip
            "FeatureAblation (per timestamp)": lambda: ca.FeatureAblation(model).attribute(
                x, feature_mask=fmask, baselines=0.0, target=target, perturbations_per_eval=16
            ),
        }
        with quiet():
            for name, fn in peers.items():
                timings[name] = median_time(fn, max(1, cfg["repeats"] // 2), warmup=0)[0]
    base = timings["predict"]
    for name, seconds in timings.items():
        rows.append([name, seconds, 100.0 * seconds / len(Xe), seconds / base])
    text = "\n".join(
        [
            f"### Explanation cost ({len(Xe)} series, T={cfg['explain_T']}, D=3, same model)",
            "",
            markdown_table(["method", "seconds (median)", "s / 100 series", "× predict"], rows),
        ]
        + ([] if ok else ["", f"Captum not importable: {why}"])
    )
    return text, timings


# --------------------------------------------------------------------------- 2. throughput
def hand_written_fit(
    module: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    phases: list[str],
    batch_size: int,
    lr: float,
    clip: float | None,
    seed: int = 0,
) -> torch.nn.Module:
    """Train ``module`` (an ``InfluenceFramework``) with a plain PyTorch loop.

    One epoch per entry of ``phases`` (the phase the estimator used at that epoch); Adam over
    the parameters that require gradients, shuffled mini-batches, gradient-norm clipping.
    """
    g = torch.Generator().manual_seed(seed)
    x_all = torch.as_tensor(X)
    y_all = torch.as_tensor(y, dtype=torch.long)
    pad_all = torch.zeros(x_all.shape[:2], dtype=torch.bool)
    optimizer = None
    current = None
    for phase in phases:
        if phase != current:
            module.set_phase(phase)
            current = phase
            params = [p for p in module.parameters() if p.requires_grad]
            optimizer = torch.optim.Adam(params, lr=lr)
        module.train()
        order = torch.randperm(len(x_all), generator=g)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            xb, yb, pb = x_all[idx], y_all[idx], pad_all[idx]
            optimizer.zero_grad()
            outputs = module(xb, pb)
            total, _ = module.compute_loss(outputs, xb, yb, pb)
            total.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
    module.eval()
    return module


def training_throughput(cfg: dict) -> tuple[str, dict]:
    """Samples / s of ``InfluenceClassifier.fit`` vs the hand-written loop, median of repeats."""
    n, epochs, bs = cfg["train_n"], cfg["train_epochs"], cfg["batch_size"]
    X, y = _data(n, 50)
    params = {"k": 0.25, "max_epochs": epochs, "batch_size": bs, "random_state": 0}
    est_times, hand_times = [], []
    template = InfluenceClassifier(**params).fit(X[:64], y[:64])
    phases = [str(h["phase"]) for h in InfluenceClassifier(**params).fit(X, y).history_]
    for _ in range(cfg["train_repeats"]):  # interleaved, so both see the same machine load
        start = time.perf_counter()
        InfluenceClassifier(**params).fit(X, y)
        est_times.append(time.perf_counter() - start)
        module = copy.deepcopy(template.net_.module_)
        start = time.perf_counter()
        hand_written_fit(module, X, y, phases, bs, template.lr, template.gradient_clip)
        hand_times.append(time.perf_counter() - start)
    est, hand = float(np.median(est_times)), float(np.median(hand_times))
    rows = [
        ["InfluenceClassifier.fit (skorch)", est, n * epochs / est],
        ["hand-written PyTorch loop", hand, n * epochs / hand],
    ]
    text = "\n".join(
        [
            f"### Training throughput (n={n}, T=50, D=3, batch {bs}, {epochs} epochs, phases "
            f"{'/'.join(sorted(set(phases)))}; median of {cfg['train_repeats']})",
            "",
            markdown_table(["loop", "seconds", "samples / s"], rows),
            "",
            f"skorch overhead ratio (fit time / hand-loop time): **{est / hand:.2f}**. The fit "
            "time also includes input validation, the per-channel scalers, and the "
            "`influence_scores_` pass over the training data at the end of `fit`.",
        ]
    )
    return text, {"fit_s": est, "hand_s": hand, "ratio": est / hand}


# --------------------------------------------------------------------------- 3. scaling
_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np, torch

    def high_water_mb():
        # VmHWM restarts at exec; ru_maxrss is inherited from the forking parent on Linux
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    torch.set_num_threads({threads})
    from tsinfluence import InfluenceClassifier
    from tsinfluence.datasets import make_box
    X, y, _ = make_box(n_samples={n}, n_timestamps={T}, n_channels=3, pattern="moving",
                       random_state=0)
    X = X.astype(np.float32)
    # warm-up: the first fit of a process pays one-off initialisation costs
    InfluenceClassifier(k=0.25, max_epochs=1, random_state=0).fit(X[:8, :16], y[:8])
    base = high_water_mb()
    clf = InfluenceClassifier(k=0.25, max_epochs={epochs}, batch_size={batch}, random_state=0)
    t0 = time.perf_counter(); clf.fit(X, y); fit = time.perf_counter() - t0
    t0 = time.perf_counter(); clf.predict(X); pred = time.perf_counter() - t0
    peak = high_water_mb()
    out = {{"fit": fit, "predict": pred, "base_mb": base, "peak_mb": peak}}
    print(json.dumps(out))
    """
)


def _available_mb() -> float:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemAvailable"):
                    return float(line.split()[1]) / 1024
    except OSError:
        pass
    return float("inf")


def _memory_guess(T: int, batch: int, prev: tuple[int, dict] | None) -> float:
    """Pessimistic peak-memory guess (MB) for a fit at length ``T``.

    The larger of (a) the previous point's growth above its baseline extrapolated as ``T**2``
    and (b) a dense-attention bound: 4 heads x ``batch`` x ``T**2`` float32 weights, kept ~6
    times over for forward and backward, in scorer and predictor.
    """
    dense = 6 * 4 * batch * T * T * 4 / 2**20
    if prev is None or "peak_mb" not in prev[1]:
        return dense
    T0, res = prev
    growth = max(res["peak_mb"] - res["base_mb"], 0.0) * (T / T0) ** 2
    return res["base_mb"] + max(growth, dense)


def _child(n: int, T: int, epochs: int, batch: int, timeout: float = 900.0) -> dict:
    code = _CHILD.format(n=n, T=T, epochs=epochs, batch=batch, threads=torch.get_num_threads())
    env = dict(os.environ, **{THREADS_ENV: str(torch.get_num_threads())})
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": f"exit {proc.returncode}: {tail[0][:120]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scaling(cfg: dict) -> tuple[str, dict]:
    """Fit / predict time and peak RSS in a fresh subprocess as T and n grow."""
    out = {}
    t_rows, prev = [], None
    for T in cfg["T_grid"]:
        n, batch = cfg["T_n"], cfg["T_batch"]
        guess = _memory_guess(T, batch, prev)
        if guess > 0.5 * _available_mb():
            # refuse what might not fit beside the other users of a shared machine
            t_rows.append([T, n, "skipped", "skipped", "n/a", f"~{guess:.0f} MB expected"])
            continue
        res = _child(n, T, cfg["scale_epochs"], batch)
        out[("T", T)] = res
        if "error" in res:
            t_rows.append([T, n, "failed", "failed", "n/a", res["error"]])
            continue
        prev = (T, res)
        t_rows.append([T, n, res["fit"], res["predict"], f"{res['peak_mb']:.0f}", ""])
    n_rows = []
    for n in cfg["n_grid"]:
        res = _child(n, cfg["n_T"], cfg["scale_epochs"], cfg["batch_size"])
        out[("n", n)] = res
        if "error" in res:
            n_rows.append([cfg["n_T"], n, "failed", "failed", "n/a", res["error"]])
            continue
        n_rows.append([cfg["n_T"], n, res["fit"], res["predict"], f"{res['peak_mb']:.0f}", ""])
    base = next((r["base_mb"] for r in out.values() if "base_mb" in r), float("nan"))
    headers = ["T", "n", "fit s", "predict s", "peak RSS MB (VmHWM)", "note"]
    text = "\n".join(
        [
            f"### Scaling (one fresh subprocess per point, {cfg['scale_epochs']} epoch(s), "
            "k=25 %, D=3)",
            "",
            f"Series length T grows (n={cfg['T_n']}, batch {cfg['T_batch']}):",
            "",
            markdown_table(headers, t_rows),
            "",
            f"Number of series n grows (T={cfg['n_T']}, batch {cfg['batch_size']}):",
            "",
            markdown_table(headers, n_rows),
            "",
            "Peak RSS is the subprocess's `VmHWM` (its `ru_maxrss` would include the parent's "
            "RSS at fork time on Linux). It includes the Python + torch + data baseline "
            f"(about {base:.0f} MB after "
            "imports, data and a tiny warm-up fit, before the timed `fit`). Points whose "
            "memory, extrapolated as T² from the previous one, would exceed half the available "
            "memory are skipped rather than risk the shared machine.",
        ]
    )
    return text, out


def run(cfg: dict) -> str:
    """Run every cost measurement with settings ``cfg`` (see :data:`FULL`)."""
    threads = torch.get_num_threads()
    parts = [
        "## Cost",
        "",
        f"torch threads: {threads}. Medians over repeats, measured side by side in one run.",
        "",
    ]
    for fn in (explanation_cost, training_throughput, scaling):
        text, _ = fn(cfg)
        parts += [text, ""]
    return "\n".join(parts)


def main(quick: bool = False) -> str:
    """Explanation cost, skorch overhead and scaling of tsinfluence."""
    set_threads()
    text = run(QUICK if quick else FULL)
    write_result("cost", text)
    return text


if __name__ == "__main__":
    raise SystemExit(cli(main))
