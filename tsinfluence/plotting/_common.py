"""Helpers shared by the plot functions: lazy matplotlib, axes, per-step inputs, tick labels."""

from __future__ import annotations

import numpy as np


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "tsinfluence.plotting needs matplotlib: pip install 'tsinfluence[plot]' "
            "(or pip install matplotlib)."
        ) from exc
    return plt


def _axes(ax, figsize=(8.0, 3.5)):
    if ax is None:
        _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return ax


def _integer_steps(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _series(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(
            f"{name} must be one series of shape (n_timestamps,) or (n_timestamps, n_channels); "
            f"got shape {values.shape}. Pass X[i] to plot series i."
        )
    return values


def _per_step(values, length: int, name: str, dtype=np.float64) -> np.ndarray:
    """A per-step vector of ``length`` values; an index array is turned into a bool mask."""
    values = np.asarray(values)
    if dtype is bool and values.dtype != bool:
        if values.ndim != 1 or values.dtype.kind not in "iu":
            raise ValueError(f"{name} must be a bool mask of shape ({length},) or step indices.")
        if values.size and (values.min() < 0 or values.max() >= length):
            raise ValueError(f"{name} holds step indices outside 0..{length - 1}.")
        mask = np.zeros(length, dtype=bool)
        mask[values] = True
        return mask
    if values.shape != (length,):
        raise ValueError(f"{name} must have shape ({length},), got {values.shape}.")
    return values.astype(dtype)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs ``(first, last)`` of True in a 1D bool mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def _label_times(ax, times, length: int, max_ticks: int = 12) -> None:
    if times is None:
        return
    times = list(times)
    if len(times) != length:
        raise ValueError(f"times must have {length} labels (one per step), got {len(times)}.")
    step = max(1, int(np.ceil(length / max_ticks)))
    ticks = np.arange(0, length, step)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(times[t]) for t in ticks], rotation=45 if step > 1 else 0)


def _channel_labels(n_channels: int, channel_names) -> list[str]:
    if channel_names is None:
        return [f"channel {d}" for d in range(n_channels)]
    names = [str(c) for c in channel_names]
    if len(names) != n_channels:
        raise ValueError(f"channel_names must have {n_channels} names, got {len(names)}.")
    return names
