"""The ``tsinfluence`` commands: train, explain, predict, counterfactual and info."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd

from ._data import BUILTIN, BUILTIN_K, CLIError, builtin_data, data_for_model, split_user_data
from ._output import (
    _jsonable,
    _prediction,
    _prediction_json,
    _prediction_text,
    _report_score,
    _steps_text,
    _time_label,
)

__all__ = ["cmd_counterfactual", "cmd_explain", "cmd_info", "cmd_predict", "cmd_train"]


def cmd_train(args) -> None:
    from ..estimators import InfluenceClassifier, InfluenceRegressor
    from ..persistence import save_model

    if args.data is None:
        train, test = builtin_data(BUILTIN)
        task, k = "classification", BUILTIN_K if args.k is None else args.k
    else:
        train, test, task = split_user_data(args)
        k = args.k
    params = dict(args.param)
    if k is not None:
        params["k"] = k
    if args.selection_method is not None:
        params["selection_method"] = args.selection_method
    cls = InfluenceClassifier if task == "classification" else InfluenceRegressor
    est = cls(
        max_epochs=args.epochs,
        random_state=args.seed,
        device=args.device,
        verbose=0 if args.quiet else 1,
    )
    try:
        est.set_params(**params)
    except ValueError as exc:
        raise CLIError(f"--param: {exc}") from exc
    start = time.perf_counter()
    est.fit(train.X, train.y)
    seconds = time.perf_counter() - start
    n, T, D = len(train.ids), est.n_features_in_, est.n_channels_in_
    print(f"Trained {cls.__name__} on {n} series ({T} time steps, {D} channels) in {seconds:.1f} s")
    score_name = "accuracy" if task == "classification" else "R^2"
    if test is not None and len(test.ids):
        evaluated, where = test, f"Held-out {score_name} ({len(test.ids)} series)"
    else:
        evaluated, where = train, f"Training {score_name}"
    print(f"{where}: {est.score(evaluated.X, evaluated.y):.3f}")
    if est.prediction == "full":
        print(
            "Fidelity (the selected steps alone give the full-series prediction): "
            f"{est.fidelity(evaluated.X):.3f}"
        )
    labels = max(train.times, key=len)
    steps = _steps_text(labels, est.selected_timestamps_)
    print(f"Most influential time steps overall: {steps}")
    print(f"Time steps selected per series: {est.select(train.X).sum(axis=1).mean():.1f} (mean)")
    if test is not None and test.truth is not None:
        from ..metrics import auroc

        agreement = auroc(est.influence_scores(test.X), test.truth)
        print(f"Agreement with the true event steps (held-out AUROC): {agreement:.3f}")
    save_model(est, args.model, metadata={"cli": train.spec})
    print(f"Model saved to {args.model}")


def _load(args):
    """Load the model and the data to run it on (the file's or the built-in held-out set)."""
    from ..persistence import load_model, read_model_metadata

    est = load_model(args.model, device=args.device)
    spec = read_model_metadata(args.model)["extra"].get("cli", {})
    data = data_for_model(args, spec)
    if isinstance(data.X, pd.DataFrame) and not hasattr(est, "feature_names_in_"):
        data.X = data.X.to_numpy(dtype=np.float64)  # a model fitted without column names
    return est, data


def cmd_explain(args) -> None:
    est, data = _load(args)
    labels, proba = _prediction(est, data.X)
    influence = est.influence_scores(data.X)
    padded = np.isnan(data.array()).all(axis=2)
    rows = []
    for i, sid in enumerate(data.ids):
        valid = np.flatnonzero(~padded[i])
        order = valid[np.argsort(-influence[i, valid], kind="stable")][: args.topk]
        top = [(data.times[i][t], float(influence[i, t])) for t in order]
        p = None if proba is None else proba[i]
        if args.format == "json":
            record = {"id": _jsonable(sid), **_prediction_json(est, labels[i], p)}
            record["top"] = [{"time": _jsonable(t), "weight": round(w, 6)} for t, w in top]
            print(json.dumps(record))
        elif args.format == "csv":
            rows += [(sid, labels[i], r + 1, t, w) for r, (t, w) in enumerate(top)]
        else:
            if len(data.ids) > 1:
                print(f"series {sid}")
            print(_prediction_text(est, labels[i], p))
            print("Most influential time steps:")
            for t, w in top:
                print(f"  {_time_label(t)}  weight={w:.2f}")
            if data.truth is not None:
                truth = _steps_text(data.times[i], np.flatnonzero(data.truth[i]))
                print(f"True event steps: {truth}")
            print()
    if args.format == "csv":
        frame = pd.DataFrame(rows, columns=["id", "prediction", "rank", "time", "weight"])
        frame.to_csv(sys.stdout, index=False)


def cmd_predict(args) -> None:
    est, data = _load(args)
    labels, proba = _prediction(est, data.X)
    if args.format == "csv":
        frame = pd.DataFrame({"id": data.ids, "prediction": labels})
        if proba is not None:
            for c, column in zip(est.classes_, proba.T):
                frame[f"proba_{c}"] = column
        frame.to_csv(sys.stdout, index=False)
    for i, sid in enumerate(data.ids):
        p = None if proba is None else proba[i]
        if args.format == "json":
            print(json.dumps({"id": _jsonable(sid), **_prediction_json(est, labels[i], p)}))
        elif args.format == "text":
            shown = "" if p is None else f"\t{_prediction_text(est, labels[i], p)}"
            print(f"{sid}\tprediction={_jsonable(labels[i])}{shown}")
    _report_score(est, data)


def _parse_desired(est, value: str | None):
    if value is None:
        return None
    if hasattr(est, "classes_"):
        for c in est.classes_:
            if str(_jsonable(c)) == value:
                return c
        raise CLIError(f"--desired {value!r} is not a class; classes: {list(est.classes_)}")
    try:
        return float(value)
    except ValueError as exc:
        raise CLIError(f"--desired must be a number for a regressor, got {value!r}") from exc


def cmd_counterfactual(args) -> None:
    est, data = _load(args)
    result = est.counterfactual(
        data.array(),
        target=_parse_desired(est, args.desired),
        method=args.method,
        max_iter=args.max_iter,
    )
    X, X_cf = (a[:, :, None] if a.ndim == 2 else a for a in (result.X, result.X_cf))
    rows = []
    for i, sid in enumerate(data.ids):
        steps = np.flatnonzero(result.edited[i])
        changes = [
            (data.times[i][t], d, float(X[i, t, d]), float(X_cf[i, t, d]))
            for t in steps
            for d in range(X.shape[2])
            if X[i, t, d] != X_cf[i, t, d]
        ]
        record = {
            "id": _jsonable(sid),
            "prediction": _jsonable(result.y[i]),
            "counterfactual_prediction": _jsonable(result.y_cf[i]),
            "valid": bool(result.valid[i]),
            "distance": round(float(result.distance[i]), 6),
        }
        if args.format == "json":
            record["changes"] = [
                {"time": _jsonable(t), "channel": d, "from": round(a, 6), "to": round(b, 6)}
                for t, d, a, b in changes
            ]
            print(json.dumps(record))
        elif args.format == "csv":
            rows += [(*record.values(), t, d, a, b) for t, d, a, b in changes]
        else:
            state = "valid" if record["valid"] else "target not reached"
            print(
                f"series {sid}: prediction {record['prediction']} -> "
                f"{record['counterfactual_prediction']} ({state}), "
                f"{result.metric} distance {record['distance']:.3g}"
            )
            print("Edited time steps:" if changes else "No value changed.")
            for t, d, a, b in changes:
                print(f"  {_time_label(t)}  channel {d}: {a:+.3f} -> {b:+.3f}")
            print()
    if args.format == "csv":
        columns = ["id", "prediction", "counterfactual_prediction", "valid", "distance"]
        frame = pd.DataFrame(rows, columns=[*columns, "time", "channel", "from", "to"])
        frame.to_csv(sys.stdout, index=False)
    else:
        print(result.summary(), file=sys.stderr)


def cmd_info(args) -> None:
    from ..persistence import read_model_metadata

    info = read_model_metadata(args.model)
    info.pop("history", None)
    info["fitted"] = sorted(info["fitted"])
    print(json.dumps(info, indent=2, default=str))
