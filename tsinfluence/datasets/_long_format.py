"""Load a long-format table (one row per series and time step) into a 3D array."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

__all__ = ["load_long_format"]


def load_long_format(
    path_or_frame,
    id_col: str,
    time_col: str,
    target_col: str | None = None,
    channel_cols: list[str] | None = None,
):
    """Load a long-format table (one row per series and step) into a 3D array.

    Parameters
    ----------
    path_or_frame : str, path-like or pandas.DataFrame
        A ``.csv`` or ``.parquet`` file (chosen by extension; parquet needs ``pyarrow``), or a
        DataFrame.
    id_col, time_col : str
        Columns holding the series identifier and the time value. Rows are sorted by id, then
        time; a repeated ``(id, time)`` pair is an error.
    target_col : str or None, default=None
        Column holding the label; it must be constant within each series.
    channel_cols : list of str or None, default=None
        Value columns, in channel order. Default: every other column, in table order.

    Returns
    -------
    X : ndarray of shape (n_series, max_length, n_channels), float64
        Series of different lengths are padded with trailing NaN.
    y : ndarray of shape (n_series,) or None
        One target per series (``None`` without ``target_col``).
    ids : ndarray of shape (n_series,)
        Sorted series identifiers.
    times : list of ndarray
        The sorted time values of each series.
    """
    if isinstance(path_or_frame, pd.DataFrame):
        df = path_or_frame
    elif isinstance(path_or_frame, (str, os.PathLike)):
        path = os.fspath(path_or_frame)
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".csv", ".parquet"):
            raise ValueError(
                f"`path_or_frame` must be a .csv or .parquet file, got extension {ext!r}."
            )
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: {path!r}.")
        df = pd.read_csv(path) if ext == ".csv" else pd.read_parquet(path)
    else:
        raise ValueError(
            "`path_or_frame` must be a path or a pandas DataFrame, "
            f"got {type(path_or_frame).__name__}."
        )
    special = [id_col, time_col] + ([target_col] if target_col is not None else [])
    missing = [c for c in special + list(channel_cols or []) if c not in df.columns]
    if missing:
        raise ValueError(f"Columns {missing} not found; available: {list(df.columns)}.")
    if channel_cols is None:
        channel_cols = [c for c in df.columns if c not in special]
    channel_cols = list(channel_cols)
    if not channel_cols:
        raise ValueError("`channel_cols` is empty: no value column left to load.")
    df = df.sort_values([id_col, time_col], kind="stable").reset_index(drop=True)
    if df.duplicated([id_col, time_col]).any():
        raise ValueError(f"Repeated ({id_col!r}, {time_col!r}) pairs: one row per step expected.")
    try:
        values = df[channel_cols].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`channel_cols` {channel_cols} must be numeric: {exc}") from exc
    codes, uniques = pd.factorize(df[id_col], use_na_sentinel=False)  # df is sorted by id
    ids = np.asarray(uniques)
    pos = df.groupby(codes, sort=False).cumcount().to_numpy()
    lengths = np.bincount(codes, minlength=len(ids))
    X = np.full((len(ids), int(lengths.max(initial=0)), len(channel_cols)), np.nan)
    X[codes, pos] = values
    times = np.split(df[time_col].to_numpy(), np.cumsum(lengths)[:-1])
    y = None
    if target_col is not None:
        target = df.groupby(codes, sort=True)[target_col]
        if (target.nunique(dropna=False) > 1).any():
            raise ValueError(f"`target_col` {target_col!r} varies within a series.")
        y = target.first().to_numpy()
    return X, y, ids, times
