"""The argument parser of the ``tsinfluence`` command."""

from __future__ import annotations

import argparse
import json

from .._version import __version__
from ._commands import cmd_counterfactual, cmd_explain, cmd_info, cmd_predict, cmd_train

__all__ = ["build_parser"]


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
