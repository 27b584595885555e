"""The ``tsinfluence`` command: train, explain, predict and counterfactuals from a shell.

Run ``tsinfluence --help`` (or ``python -m tsinfluence --help``). Data files are CSV or
parquet; the layout is chosen by the options, never guessed:

- **long** (``--time-col`` given): one row per series and time step, an ``--id-col``
  column naming the series, one column per channel and a ``--target`` column constant
  within each series; series may have different lengths.
- **wide** (no ``--time-col``): one row per series, one column per time step (the column
  names are the time labels), a ``--target`` column and an optional ``--id-col``; one
  channel; shorter series leave trailing cells empty.

Without ``--data`` the commands use a built-in dataset: ContextFlow's hidden event
(:func:`tsinfluence.datasets.make_signal_event`), the last fifth held out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._cli_data import (
    BUILTIN,
    BUILTIN_K,
    CLIError,
    Data,
    builtin_data,
    data_for_model,
    split_user_data,
)
from ._version import __version__

__all__ = ["main"]


# ---------------------------------------------------------------------------- formatting
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


# ---------------------------------------------------------------------------- commands
def cmd_train(args) -> None:
    from .estimators import InfluenceClassifier, InfluenceRegressor
    from .persistence import save_model

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
    steps = " ".join(_time_label(labels[t]) for t in est.selected_timestamps_)
    print(f"Most influential time steps overall: {steps}")
    print(f"Time steps selected per series: {est.select(train.X).sum(axis=1).mean():.1f} (mean)")
    if test is not None and test.truth is not None:
        from .metrics import auroc

        agreement = auroc(est.influence_scores(test.X), test.truth)
        print(f"Agreement with the true event steps (held-out AUROC): {agreement:.3f}")
    save_model(est, args.model, metadata={"cli": train.spec})
    print(f"Model saved to {args.model}")


def _load(args):
    """Load the model and the data to run it on (the file's or the built-in held-out set)."""
    from .persistence import load_model, read_model_metadata

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
                truth = " ".join(
                    _time_label(data.times[i][t]) for t in np.flatnonzero(data.truth[i])
                )
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
    from .persistence import read_model_metadata

    info = read_model_metadata(args.model)
    info.pop("history", None)
    info["fitted"] = sorted(info["fitted"])
    print(json.dumps(info, indent=2, default=str))


# ---------------------------------------------------------------------------- parser
def _param(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def _data_options(parser: argparse.ArgumentParser, train: bool) -> None:
    parser.add_argument("--data", metavar="FILE", help="CSV or parquet file (default: built-in)")
    where = "" if train else " (default: as in training)"
    parser.add_argument("--id-col", metavar="COL", help=f"column naming each series{where}")
    parser.add_argument(
        "--time-col", metavar="COL", help=f"time column: the file is in long format{where}"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tsinfluence`` command."""
    parser = argparse.ArgumentParser(
        prog="tsinfluence",
        description="Learn which time steps drive a prediction, and explain it.",
        epilog="Long format: --time-col and --id-col given, one row per series and step. "
        "Wide format: one row per series, one column per time step.",
    )
    parser.add_argument("--version", action="version", version=f"tsinfluence {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model and save it")
    _data_options(train, train=True)
    train.add_argument("--target", default="target", metavar="COL", help="target column")
    train.add_argument("--channels", metavar="COLS", help="long format: comma-separated channels")
    train.add_argument("--task", choices=("auto", "classification", "regression"), default="auto")
    train.add_argument("--k", type=_number, help="time steps to select (int, or a fraction)")
    train.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="training epochs (default: the estimator's budget of optimiser steps)",
    )
    train.add_argument("--selection-method", choices=("topk", "gumbel", "threshold"))
    train.add_argument("--test-size", type=float, default=0.2, help="held-out share (0: none)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any estimator parameter, e.g. --param training_scheme=joint (repeatable)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    train.add_argument("--model", required=True, metavar="OUT", help="model file to write")
    train.set_defaults(func=cmd_train)

    helps = {
        "explain": "predictions and their most influential time steps",
        "predict": "predictions",
        "counterfactual": "smallest edits of the influential steps that change the prediction",
    }
    for name, func in (
        ("explain", cmd_explain),
        ("predict", cmd_predict),
        ("counterfactual", cmd_counterfactual),
    ):
        cmd = sub.add_parser(name, help=helps[name])
        cmd.add_argument("--model", required=True, metavar="FILE", help="model file")
        _data_options(cmd, train=False)
        cmd.add_argument("--target", metavar="COL", help="target column (default: as in training)")
        cmd.add_argument("--limit", type=int, metavar="N", help="only the first N series")
        cmd.add_argument("--format", choices=("text", "json", "csv"), default="text")
        cmd.add_argument("--device", default="cpu", help="torch device (default cpu)")
        if name == "explain":
            cmd.add_argument("--topk", type=int, default=5, help="time steps shown (default 5)")
        if name == "counterfactual":
            cmd.add_argument("--desired", metavar="VALUE", help="class or value to reach")
            cmd.add_argument("--method", default="optimize", help="generation method")
            cmd.add_argument(
                "--max-iter", type=int, default=300, help="search iterations (default 300)"
            )
        cmd.set_defaults(func=func)

    info = sub.add_parser("info", help="describe a model file")
    info.add_argument("--model", required=True, metavar="FILE")
    info.set_defaults(func=cmd_info)
    return parser


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    print(f"tsinfluence: warning: {text}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tsinfluence`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 on an error (reported as one line on stderr), 2 on a
        usage error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            args.func(args)
    except KeyboardInterrupt:
        print("tsinfluence: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if args.traceback:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, CLIError | ValueError | TypeError | OSError | ImportError):
            message = f"{type(exc).__name__}: {message}"
        print(f"tsinfluence: error: {message}", file=sys.stderr)
        return 1
    return 0
