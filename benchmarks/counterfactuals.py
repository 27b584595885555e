"""Counterfactuals: validity, proximity, sparsity, plausibility and time, per method.

For each synthetic data set (the label is decided by a few short events, or by the values at
a few marked steps) an estimator is trained, then ``counterfactual()`` is asked, for every
test series, for its most likely other class (classifiers) or one training standard deviation
towards the training mean (regressor), with every method:

- ``optimize``: gradient search on the selected steps (the default);
- ``nearest``: Native-Guide-style donors from the training set, refined by ``optimize``;
- ``perturbation`` / ``replacement`` / ``removal``: the seed's model-free
  ``CounterfactualGenerator`` edits of the selected steps (valid only by chance);
- ``optimize ×3``: three diverse counterfactuals per series.

Columns: validity (share reaching the target, checked with ``predict``), L1 proximity (mean
over valid ones), sparsity (share of steps changed), segments (contiguous changed runs),
plausibility (share a LocalOutlierFactor(novelty=True) fitted on the training series calls
inliers, valid ones; the originals' share is given in the header), selection changed (share
whose selected steps differ on the counterfactual), diversity (mean pairwise L2 between samples) and
milliseconds per counterfactual. ``checks`` is "yes" when ``valid`` agrees with ``predict``
on every counterfactual and no value changed outside the ``edited`` steps.
"""

from __future__ import annotations

import time

import numpy as np

from ._common import cli, machine_info, markdown_table, quiet, set_threads, write_result

METHODS = ("optimize", "nearest", "perturbation", "replacement", "removal")


def _datasets(quick: bool):
    from tsinfluence import InfluenceClassifier, InfluenceRegressor
    from tsinfluence.datasets import make_box, make_marked_sum, make_signal_event

    n_train, n_test = (200, 40) if quick else (400, 100)
    epochs = 15 if quick else 25
    n = n_train + n_test
    X1, y1, _ = make_signal_event(n_samples=n, n_timestamps=30, n_channels=2, random_state=0)
    X2, y2, _ = make_box(
        n_samples=n, n_timestamps=40, n_channels=3, pattern="rare_time", box_strength=2.0,
        random_state=0,
    )  # fmt: skip
    X3, y3, _ = make_marked_sum(n_samples=n, n_timestamps=30, n_marked=4, random_state=0)
    common = {"module__hidden_dim": 32, "max_epochs": epochs, "random_state": 0}
    return [
        ("signal_event (T=30, D=2)", InfluenceClassifier(k=3, **common), X1, y1, n_train),
        ("box rare_time (T=40, D=3)", InfluenceClassifier(k=2, **common), X2, y2, n_train),
        ("marked_sum regression (T=30)", InfluenceRegressor(k=4, **common), X3, y3, n_train),
    ]


def _row(name, label, est, res, X_train, n_samples):
    from tsinfluence.counterfactual.metrics import (
        contiguity,
        diversity,
        plausibility,
        proximity,
        sparsity,
    )

    T, D = X_train.shape[1:]
    X_cf = res.X_cf.reshape(-1, T, D)
    X = np.repeat(res.X, n_samples, axis=0).reshape(-1, T, D)
    valid = res.valid.reshape(-1)
    pred = est.predict(X_cf)
    if est._task == "classification":
        agrees = np.array_equal(pred == np.repeat(res.target, n_samples), valid)
    else:
        agrees = np.array_equal(
            np.abs(pred - np.repeat(res.target, n_samples)) <= res.tolerance, valid
        )
    inside = not (res.changed.reshape(len(X_cf), T) & ~np.repeat(res.edited, n_samples, 0)).any()
    selected = np.repeat(est.select(res.X), n_samples, axis=0)
    return [
        name,
        label,
        float(valid.mean()),
        float(proximity(X, X_cf)[valid].mean()) if valid.any() else float("nan"),
        float(sparsity(X, X_cf).mean()),
        float(contiguity(X, X_cf).mean()),
        plausibility(X_cf[valid], X_train, method="lof") if valid.any() else float("nan"),
        float((res.selected_cf.reshape(len(X_cf), T) != selected).any(1).mean()),
        float(diversity(res.X_cf).mean()) if n_samples > 1 else float("nan"),
        1e3 * res.time / len(X_cf),
        "yes" if agrees and inside else "NO",
    ]


def main(quick: bool = False) -> str:
    """Run the benchmark, write ``results/counterfactuals.md`` and return the markdown.

    Parameters
    ----------
    quick : bool, default=False
        Fewer series and epochs.

    Returns
    -------
    str
    """
    from tsinfluence.counterfactual.metrics import plausibility

    threads = set_threads()
    rows, notes = [], []
    with quiet():
        for name, est, X, y, n_train in _datasets(quick):
            start = time.perf_counter()
            est.fit(X[:n_train], y[:n_train])
            fit_s = time.perf_counter() - start
            X_train, y_train, X_test = X[:n_train], y[:n_train], X[n_train:]
            score = est.score(X_test, y[n_train:])
            base = plausibility(X_test, X_train, method="lof")
            metric = "accuracy" if est._task == "classification" else "R²"
            notes.append(
                f"- {name}: test {metric} {score:.3f}, fit {fit_s:.1f} s, "
                f"plausibility of the original test series {base:.2f}"
            )
            for method in METHODS:
                res = est.counterfactual(
                    X_test, method=method, reference=(X_train, y_train), random_state=0
                )
                rows.append(_row(name, method, est, res, X_train, 1))
            res = est.counterfactual(X_test, n_samples=3, reference=X_train, random_state=0)
            rows.append(_row(name, "optimize ×3", est, res, X_train, 3))
    headers = [
        "data set", "method", "validity", "L1 proximity", "sparsity", "segments",
        "plausibility", "selection changed", "diversity", "ms / cf", "checks",
    ]  # fmt: skip
    info = machine_info()
    lines = [
        "## Counterfactuals",
        "",
        f"{info['cpu']}, {threads} torch thread(s); {'quick' if quick else 'full'} run. "
        "Targets: the most likely other class (classifiers); one training std of y towards "
        "the training mean, tolerance 0.1 std (regressor). Reference set = the training "
        "series. `optimize` and `nearest` may edit only the steps the estimator selects "
        "(plus, for series still invalid after a round, the steps it selects on their best "
        "attempt); the model-free methods edit the selected steps blindly.",
        "",
        *notes,
        "",
        markdown_table(headers, rows),
        "",
    ]
    report = "\n".join(lines)
    write_result("counterfactuals", report)
    return report


if __name__ == "__main__":
    raise SystemExit(cli(main))
