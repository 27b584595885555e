"""Data for the ``tsinfluence`` command: the built-in dataset and CSV/parquet files.

The layouts (long with ``--time-col``, else wide) are described in :mod:`tsinfluence.cli`;
they are chosen by the options, never guessed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "BUILTIN",
    "BUILTIN_K",
    "CLIError",
    "Data",
    "builtin_data",
    "data_for_model",
    "load_data",
    "read_table",
    "split_user_data",
]

#: The built-in dataset: ContextFlow's hidden event, 20% held out.
BUILTIN = {
    "source": "builtin",
    "name": "signal_event",
    "n_samples": 600,
    "n_timestamps": 30,
    "n_channels": 4,
    "event_strength": 3.0,
    "random_state": 0,
    "n_train": 480,
}
BUILTIN_K = 3  # the event length of the built-in dataset


class CLIError(Exception):
    """An error reported as one line on stderr."""


class Data:
    """Series read for the command line: what the estimator sees plus labels for output."""

    def __init__(self, X, y, ids, times, spec, truth=None):
        self.X, self.y, self.ids, self.times, self.spec, self.truth = X, y, ids, times, spec, truth

    def subset(self, index) -> Data:
        index = np.asarray(index)
        X = self.X.iloc[index] if isinstance(self.X, pd.DataFrame) else self.X[index]
        return Data(
            X,
            None if self.y is None else self.y[index],
            [self.ids[i] for i in index],
            [self.times[i] for i in index],
            self.spec,
            None if self.truth is None else self.truth[index],
        )

    def array(self) -> np.ndarray:
        """The series as a float ``(n, T, D)`` array (padding NaN)."""
        X = self.X.to_numpy(dtype=np.float64) if isinstance(self.X, pd.DataFrame) else self.X
        return X[:, :, None] if X.ndim == 2 else X


def builtin_data(spec: dict) -> tuple[Data, Data]:
    """The built-in dataset described by ``spec``, split into (train, held-out)."""
    from ..datasets import make_signal_event

    X, y, truth = make_signal_event(
        n_samples=spec["n_samples"],
        n_timestamps=spec["n_timestamps"],
        n_channels=spec["n_channels"],
        event_strength=spec.get("event_strength", 2.0),
        random_state=spec["random_state"],
    )
    times = [np.arange(X.shape[1])] * len(X)
    data = Data(X, y, list(range(len(X))), times, spec, truth)
    n_train = spec["n_train"]
    return data.subset(np.arange(n_train)), data.subset(np.arange(n_train, len(X)))


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV or parquet file (by extension)."""
    lower = path.lower()
    try:
        if lower.endswith(".csv"):
            return pd.read_csv(path)
        if lower.endswith((".parquet", ".pq")):
            return pd.read_parquet(path)
    except FileNotFoundError as exc:
        raise CLIError(f"no such data file: {path!r}") from exc
    except ImportError as exc:
        raise CLIError(f"reading parquet needs pyarrow (pip install pyarrow): {exc}") from exc
    raise CLIError(f"unknown data file type {path!r}: expected a .csv or .parquet file")


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CLIError(
            f"{what} column(s) {missing} not in the data; columns: {list(frame.columns)}"
        )


def load_data(path: str, spec: dict, need_target: bool) -> Data:
    """Read ``path`` as described by ``spec`` (format, id_col, time_col, target, channels)."""
    frame = read_table(path)
    target = spec.get("target")
    if need_target:
        _require(frame, [target], "target (--target)")
    has_target = target is not None and target in frame.columns
    if spec["format"] == "long":
        from ..datasets import load_long_format

        _require(frame, [spec["id_col"]], "id (--id-col)")
        _require(frame, [spec["time_col"]], "time (--time-col)")
        X, y, ids, times = load_long_format(
            frame,
            spec["id_col"],
            spec["time_col"],
            target_col=target if has_target else None,
            channel_cols=spec.get("channels"),
        )
        channels = spec.get("channels") or [
            c for c in frame.columns if c not in (spec["id_col"], spec["time_col"], target)
        ]
        return Data(X, y, list(ids), list(times), {**spec, "channels": list(channels)})
    id_col = spec.get("id_col")
    if id_col is not None:
        _require(frame, [id_col], "id (--id-col)")
    drop = [c for c in (id_col, target if has_target else None) if c is not None]
    steps = frame.drop(columns=drop)
    steps.columns = [str(c) for c in steps.columns]
    bad = [c for c in steps.columns if not pd.api.types.is_numeric_dtype(steps[c])]
    if bad:
        raise CLIError(
            f"wide data: column(s) {bad} are not numeric; every column but --id-col and "
            "--target must be a time step (use --time-col for long data)"
        )
    if steps.shape[1] == 0:
        raise CLIError("wide data: no time-step column left after --id-col and --target")
    ids = list(frame[id_col]) if id_col is not None else list(range(len(frame)))
    y = frame[target].to_numpy() if has_target else None
    times = [np.asarray(steps.columns, dtype=object)] * len(frame)
    return Data(steps, y, ids, times, spec)


def split_user_data(args) -> tuple[Data, Data | None, str]:
    """Read ``--data`` for ``train``: ``(train, held-out or None, task)``.

    The layout comes from ``--time-col``/``--id-col``/``--channels``; ``--task auto``
    picks regression for a continuous target; ``--test-size`` is held out (stratified
    for classification when every class allows it).
    """
    from sklearn.model_selection import train_test_split
    from sklearn.utils.multiclass import type_of_target

    if args.time_col is None and args.channels:
        raise CLIError("--channels applies to long data: give --time-col and --id-col too")
    if args.time_col is not None and args.id_col is None:
        raise CLIError("long data (--time-col) also needs --id-col naming the series")
    spec = {
        "source": "file",
        "format": "long" if args.time_col is not None else "wide",
        "id_col": args.id_col,
        "time_col": args.time_col,
        "target": args.target,
        "channels": args.channels.split(",") if args.channels else None,
    }
    data = load_data(args.data, spec, need_target=True)
    y = data.y
    if pd.isna(pd.Series(y)).any():
        raise CLIError(f"the target column {args.target!r} has missing values")
    task = args.task
    if task == "auto":
        kind = type_of_target(y)
        task = (
            "regression" if kind in ("continuous", "continuous-multioutput") else "classification"
        )
    if not args.test_size:
        return data, None, task
    stratify = y if task == "classification" else None
    index = np.arange(len(data.ids))
    try:
        train, test = train_test_split(
            index, test_size=args.test_size, random_state=args.seed, stratify=stratify
        )
    except ValueError:  # too few members of a class to stratify
        train, test = train_test_split(index, test_size=args.test_size, random_state=args.seed)
    return data.subset(np.sort(train)), data.subset(np.sort(test)), task


def data_for_model(args, spec: dict) -> Data:
    """The series a saved model runs on: ``--data`` or the built-in held-out set.

    ``spec`` is the data description saved with the model (``cli`` metadata); options
    given on the command line override it. The built-in set defaults to its first three
    series; ``--limit N`` keeps the first ``N``.
    """
    if args.data is None:
        if spec.get("source") != "builtin":
            raise CLIError(
                f"{args.model} was not trained on the built-in dataset: pass --data FILE"
            )
        data = builtin_data(spec)[1]
        limit = 3 if args.limit is None else args.limit
    else:
        spec = {"format": "wide", **{k: v for k, v in spec.items() if k != "source"}}
        for key in ("id_col", "time_col", "target"):
            if getattr(args, key) is not None:
                spec[key] = getattr(args, key)
        if args.time_col is not None:
            spec["format"] = "long"
        if spec["format"] == "long" and spec.get("id_col") is None:
            raise CLIError("long data (--time-col) also needs --id-col naming the series")
        data = load_data(args.data, spec, need_target=False)
        limit = args.limit
    if limit is not None:
        data = data.subset(np.arange(min(limit, len(data.ids))))
    return data
