"""How the ``tsinfluence`` commands print predictions, time steps and scores."""

from __future__ import annotations

import sys

import numpy as np

from ._data import Data


def _jsonable(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def _time_label(value) -> str:
    """``t=05`` for a step index, the name itself for a named step (a column, a time)."""
    value = _jsonable(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    return f"t={value:02d}"


def _steps_text(labels, steps) -> str:
    """The steps at indices ``steps`` by their labels, three or more in a row as one range.

    ``_steps_text(["a", "b", "c", "d", "e"], [0, 1, 2, 4])`` is ``"a to c, e"``.
    """
    steps = sorted(int(t) for t in steps)
    runs: list[list[int]] = []
    for t in steps:
        if runs and t == runs[-1][-1] + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_time_label(labels[run[0]])} to {_time_label(labels[run[-1]])}")
        else:
            parts.extend(_time_label(labels[t]) for t in run)
    return ", ".join(parts)


def _prediction(est, X) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted labels/values and class probabilities (None for a regressor)."""
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
        return est.classes_[proba.argmax(axis=1)], proba
    return est.predict(X), None


def _shown_class(est, proba_row) -> int:
    """Index of the class whose probability is printed: the positive one if binary."""
    return 1 if len(est.classes_) == 2 else int(np.argmax(proba_row))


def _prediction_text(est, label, proba_row) -> str:
    if proba_row is None:
        return f"prediction = {float(label):.4g}"
    c = _shown_class(est, proba_row)
    return f"P(class={_jsonable(est.classes_[c])}) = {proba_row[c]:.2f}"


def _prediction_json(est, label, proba_row) -> dict:
    out = {"prediction": _jsonable(label)}
    if proba_row is not None:
        out["probabilities"] = {
            str(_jsonable(c)): round(float(p), 6) for c, p in zip(est.classes_, proba_row)
        }
    return out


def _report_score(est, data: Data) -> None:
    if data.y is None:
        return
    name = "accuracy" if hasattr(est, "predict_proba") else "R^2"
    score = est.score(data.X, data.y)
    print(f"{name} on {len(data.ids)} series: {score:.3f}", file=sys.stderr)
