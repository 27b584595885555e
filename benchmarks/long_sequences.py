"""Peak memory and time of fitting and explaining long series on CPU.

Each configuration runs in its own subprocess and reports that process's peak resident set
size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; tracemalloc does not see torch's
allocations). Inference is measured in a separate process that loads the pickled model, so
its peak is not the training peak. Run::

    python -m benchmarks.long_sequences [--quick]

and read ``benchmarks/results/long_sequences.md``. ``TSINFLUENCE_BENCH_THREADS`` sets torch's
intra-op threads of the measured processes (default 1).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._common import THREADS_ENV, cli, machine_info, write_result

#: torch intra-op threads of the measured processes (``TSINFLUENCE_BENCH_THREADS``, default 1).
THREADS = int(os.environ.get(THREADS_ENV, "1"))

# Estimator settings besides the defaults; dense_fraction=0 switches off the dense-to-sparse
# curriculum, which widens the budget towards T/2 early in the selector phase. Beyond 64
# selected steps the relaxed top-k switches to an O(n T) sigmoid relaxation (before that
# switch, this curriculum cost O(k n T) memory: 5.6 GiB at T=4096) -- measured both ways.
NO_CURRICULUM = {"schedule__dense_fraction": 0.0}
# The attention scorer and head (options; the defaults are convolutional): the rows that
# measure the attention kernels' memory.
ATTENTION = {**NO_CURRICULUM, "scorer": "attention", "predictor": "attention"}
FULL = [
    {"name": "fit+explain, defaults", "T": 4096, "D": 8, "n": 32, "k": 32, "batch": 16},
    {
        "name": "fit+explain, dense_fraction=0",
        "T": 4096,
        "D": 8,
        "n": 32,
        "k": 32,
        "batch": 16,
        "params": NO_CURRICULUM,
    },
    {
        "name": "fit+explain, k=0.25, defaults",
        "T": 4096,
        "D": 8,
        "n": 8,
        "k": 0.25,
        "batch": 8,
    },
    {
        "name": "fit+explain, attention scorer and head",
        "T": 4096,
        "D": 8,
        "n": 32,
        "k": 32,
        "batch": 16,
        "params": ATTENTION,
    },
    {
        "name": "fit, old attention scorer (attention dropout)",
        "T": 2048,
        "D": 8,
        "n": 16,
        "k": 32,
        "batch": 16,
        "params": ATTENTION,
        "old_dropout": True,
    },
    {
        "name": "fit, attention scorer",
        "T": 2048,
        "D": 8,
        "n": 16,
        "k": 32,
        "batch": 16,
        "params": ATTENTION,
    },
    {
        "name": "fit at T=16384, then inference",
        "T": 16384,
        "D": 8,
        "n": 2,
        "k": 64,
        "batch": 64,
        "params": NO_CURRICULUM,
        "infer_n": 8,
    },
]
QUICK = [
    {
        "name": "fit+explain, dense_fraction=0",
        "T": 1024,
        "D": 8,
        "n": 16,
        "k": 16,
        "batch": 16,
        "params": NO_CURRICULUM,
    },
    {
        "name": "fit, then inference",
        "T": 4096,
        "D": 8,
        "n": 2,
        "k": 32,
        "batch": 64,
        "params": NO_CURRICULUM,
        "infer_n": 8,
    },
]


def _peak_mib() -> float:
    """Peak resident memory of this process, in MiB.

    Linux keeps ``ru_maxrss`` across ``exec``, so a child started by a large parent (such as
    ``python -m benchmarks.run`` after another benchmark) would report the parent's peak;
    ``VmHWM`` in ``/proc/self/status`` belongs to this process's own memory map.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _data(n: int, T: int, D: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, D)).astype(np.float32)
    y = np.arange(n) % 2
    X[y == 1, T // 2 : T // 2 + 4, 0] += 3.0
    return X, y


def _patch_attention_dropout(p: float = 0.1) -> None:
    """Re-create the old scorer: dropout on attention weights while training."""
    import torch
    import torch.nn.functional as F

    from tsinfluence.nn import scorer

    original = F.scaled_dot_product_attention

    def with_dropout(q, k, v, attn_mask=None, is_causal=False, **kw):
        drop = p if torch.is_grad_enabled() else 0.0
        return original(q, k, v, attn_mask=attn_mask, is_causal=is_causal, dropout_p=drop)

    scorer.F = type("F", (), {"scaled_dot_product_attention": staticmethod(with_dropout)})


def _child_fit(cfg: dict, model_path: str) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    from tsinfluence import InfluenceClassifier

    if cfg.get("old_dropout"):
        _patch_attention_dropout()
    X, y = _data(cfg["n"], cfg["T"], cfg["D"])
    base = _peak_mib()
    est = InfluenceClassifier(
        k=cfg["k"],
        max_epochs=2,
        batch_size=cfg["batch"],
        random_state=0,
        verbose=0,
        **cfg.get("params", {}),
    )
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    influence = est.influence_scores(X)
    est.predict_proba(X)
    explain_s = time.perf_counter() - t0
    assert influence.shape == (cfg["n"], cfg["T"])
    with open(model_path, "wb") as f:
        pickle.dump(est, f)
    return {"fit_s": fit_s, "explain_s": explain_s, "base_mib": base, "peak_mib": _peak_mib()}


def _child_infer(cfg: dict, model_path: str) -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(THREADS)
    with open(model_path, "rb") as f:
        est = pickle.load(f)
    X, _ = _data(cfg["infer_n"], cfg["T"], cfg["D"], seed=1)
    base = _peak_mib()
    t0 = time.perf_counter()
    proba = est.predict_proba(X)
    influence = est.influence_scores(X)
    infer_s = time.perf_counter() - t0
    assert np.isfinite(proba).all() and np.isfinite(influence).all()
    return {"infer_s": infer_s, "infer_base_mib": base, "infer_peak_mib": _peak_mib()}


def _run(mode: str, cfg: dict, model_path: str, timeout: int = 3000) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.long_sequences",
            "--child",
            mode,
            json.dumps(cfg),
            model_path,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "OMP_NUM_THREADS": str(THREADS), THREADS_ENV: str(THREADS)},
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["killed"])[-1][:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(value, spec: str = ".0f") -> str:
    return "—" if value is None else format(value, spec)


def main(quick: bool = False) -> str:
    """Run the configurations, write ``results/long_sequences.md`` and return the markdown.

    Parameters
    ----------
    quick : bool, default=False
        Small configurations (T = 1024 fit, T = 4096 inference) for a smoke run.

    Returns
    -------
    str
        The markdown report.
    """
    import torch

    from tsinfluence.nn.conv import MAX_RESOLUTION

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, cfg in enumerate(QUICK if quick else FULL):
            model_path = os.path.join(tmp, f"model{i}.pkl")
            result = {**cfg, **_run("fit", cfg, model_path)}
            if "infer_n" in cfg and "error" not in result:
                result.update(_run("infer", cfg, model_path))
            rows.append(result)
            print(json.dumps(result), file=sys.stderr)
    total_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    lines = [
        "## Long sequences: peak memory and time on CPU",
        "",
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{machine_info()['cpu']} ({os.cpu_count()} cores, {total_gib} GiB RAM), "
        f"{THREADS} intra-op thread(s), default model (convolutional scorer and predictor; the "
        f"predictor first averages a series longer than {MAX_RESOLUTION} steps over windows "
        f"of ceil(T / {MAX_RESOLUTION}) steps) unless a row names the attention scorer and head "
        "(hidden_dim=64, num_heads=4, one encoder layer, attention pooling), two training "
        "epochs (evaluator, then selector). "
        "Peak RSS is the whole process (Python + torch + data); *base* is the RSS before "
        "fitting/inference started.",
        "",
        "| configuration | T | D | n | k | batch | fit s | explain s | base MiB | peak MiB |"
        " inference n | inference s | inference peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['name']} | {r['T']} | {r['D']} | {r['n']} | {r['k']} | {r['batch']} | "
                f"failed: {r['error']} |  |  |  |  |  |  |"
            )
            continue
        lines.append(
            f"| {r['name']} | {r['T']} | {r['D']} | {r['n']} | {r['k']} | {r['batch']} | "
            f"{_fmt(r['fit_s'], '.1f')} | {_fmt(r['explain_s'], '.1f')} | "
            f"{_fmt(r['base_mib'])} | {_fmt(r['peak_mib'])} | {r.get('infer_n', '—')} | "
            f"{_fmt(r.get('infer_s'), '.1f')} | {_fmt(r.get('infer_peak_mib'))} |"
        )
    lines += [
        "",
        "*old attention scorer* re-creates the attention scorer before issue 8 (dropout on the "
        "attention weights while training), which forces the `O(n·heads·T²)` math kernel of "
        "`scaled_dot_product_attention`; the scorer now drops only the residual branches and "
        "passes a key-padding mask `(n, 1, 1, T)` (or none / `is_causal`), so the fused "
        "kernel keeps attention memory `O(n·T)`. Inference runs in chunks of at most "
        "`batch_size` series and 2^20 timestamps, and its results do not depend on the "
        "chunking (tests/test_determinism.py).",
        "",
    ]
    report = "\n".join(lines)
    write_result("long_sequences", report)
    return report


def _child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("MODE", "CONFIG", "MODEL"), required=True)
    mode, cfg, path = parser.parse_args(argv).child
    run = _child_fit if mode == "fit" else _child_infer
    print(json.dumps(run(json.loads(cfg), path)))


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child_main(sys.argv[1:])
    else:
        raise SystemExit(cli(main))
