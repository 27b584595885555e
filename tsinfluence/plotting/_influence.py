"""Influence plots: one series with its influence map, and the global influence per step."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import _axes, _channel_labels, _integer_steps, _label_times, _per_step, _runs, _series

__all__ = ["plot_influence", "plot_influence_summary"]


def plot_influence(
    series,
    influence,
    *,
    selected=None,
    truth=None,
    times: Sequence | None = None,
    channel_names: Sequence[str] | None = None,
    ax=None,
    cmap: str = "Reds",
    colorbar: bool = True,
    title: str | None = None,
):
    """Draw one series with its per-step influence as a heat overlay.

    Parameters
    ----------
    series : array-like of shape (n_timestamps,) or (n_timestamps, n_channels)
        One series, e.g. ``X[i]``; trailing NaN steps (padding) are left blank.
    influence : array-like of shape (n_timestamps,)
        Per-step influence, e.g. ``est.influence_scores(X)[i]``; drawn as the background
        colour of each step.
    selected : array-like of shape (n_timestamps,) bool, or step indices, optional
        Steps to mark with a triangle at the top (e.g. ``est.select(X)[i]``).
    truth : array-like of shape (n_timestamps,) bool, or step indices, optional
        Ground-truth influential steps, drawn as hatched spans.
    times : sequence, optional
        Tick labels, one per step.
    channel_names : sequence of str, optional
        Legend labels of the channels.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    cmap : str, default="Reds"
        Colour map of the influence overlay.
    colorbar : bool, default=True
        Add a colour bar for the influence.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        The overlay is ``ax.images[0]``; one line per channel is in ``ax.lines``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsinfluence.plotting import plot_influence
    >>> x = np.sin(np.linspace(0, 6, 20))
    >>> ax = plot_influence(x, np.linspace(0, 1, 20), selected=[3, 4], truth=[4, 5])
    >>> len(ax.lines)
    1
    """
    values = _series(series, "series")
    length = len(values)
    heat = _per_step(influence, length, "influence")
    ax = _axes(ax)
    steps = np.arange(length)
    finite = values[np.isfinite(values)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    pad = 0.05 * (high - low) or 0.5
    image = ax.imshow(
        heat[None, :],
        aspect="auto",
        cmap=cmap,
        extent=(-0.5, length - 0.5, low - pad, high + 3 * pad),
        origin="lower",
        alpha=0.6,
        vmin=0.0,
        vmax=max(float(np.nanmax(heat)), 1e-12),
        zorder=0,
        interpolation="nearest",
    )
    for name, column in zip(_channel_labels(values.shape[1], channel_names), values.T):
        ax.plot(steps, column, lw=1.5, label=name, zorder=2)
    if truth is not None:
        truth = _per_step(truth, length, "truth", dtype=bool)
        for i, (first, last) in enumerate(_runs(truth)):
            ax.axvspan(
                first - 0.5,
                last + 0.5,
                facecolor="none",
                edgecolor="tab:green",
                hatch="//",
                lw=1.2,
                label="ground truth" if i == 0 else None,
                zorder=1,
            )
    if selected is not None:
        marks = steps[_per_step(selected, length, "selected", dtype=bool)]
        ax.scatter(
            marks,
            np.full(len(marks), 0.96),
            marker="v",
            color="black",
            transform=ax.get_xaxis_transform(),
            label="selected",
            zorder=3,
        )
    ax.set_xlim(-0.5, length - 0.5)
    ax.set_ylim(low - pad, high + 3 * pad)
    ax.set_xlabel("time step")
    ax.set_ylabel("value")
    _integer_steps(ax)
    _label_times(ax, times, length)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label="influence", pad=0.01)
    ax.legend(loc="lower right", fontsize="small", ncol=2, framealpha=0.8)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_influence_summary(
    scores,
    *,
    selected=None,
    truth=None,
    times: Sequence | None = None,
    ax=None,
    title: str | None = None,
):
    """Bar chart of the global influence of each time step.

    Parameters
    ----------
    scores : fitted InfluenceClassifier / InfluenceRegressor, or array-like of shape (n_timestamps,)
        An estimator (its ``influence_scores_`` are drawn and its ``selected_timestamps_``
        highlighted) or the scores themselves.
    selected : array-like of shape (n_timestamps,) bool, or step indices, optional
        Steps drawn in red (default for an estimator: ``selected_timestamps_``).
    truth : array-like of shape (n_timestamps,) bool, or step indices, optional
        Ground-truth steps, outlined with a hatch.
    times : sequence, optional
        Tick labels, one per step.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        One bar per step in ``ax.patches``, in step order.

    Examples
    --------
    >>> from tsinfluence.plotting import plot_influence_summary
    >>> ax = plot_influence_summary([0.1, 0.5, 0.4], selected=[1])
    >>> len(ax.patches)
    3
    """
    if hasattr(scores, "influence_scores_"):
        if selected is None:
            selected = scores.selected_timestamps_
        scores = scores.influence_scores_
    elif hasattr(scores, "fit") and hasattr(scores, "get_params"):
        raise ValueError(
            f"This {type(scores).__name__} instance is not fitted yet: it has no "
            "influence_scores_. Call 'fit' first."
        )
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"scores must have shape (n_timestamps,), got {values.shape}.")
    length = len(values)
    chosen = (
        np.zeros(length, bool)
        if selected is None
        else _per_step(selected, length, "selected", bool)
    )
    ax = _axes(ax)
    colors = np.where(chosen, "tab:red", "tab:gray")
    bars = ax.bar(np.arange(length), values, color=colors, width=0.8)
    if truth is not None:
        for bar, is_true in zip(bars, _per_step(truth, length, "truth", dtype=bool)):
            if is_true:
                bar.set_hatch("//")
                bar.set_edgecolor("tab:green")
    handles = []
    from matplotlib.patches import Patch

    if chosen.any():
        handles.append(Patch(color="tab:red", label="selected"))
    if truth is not None:
        handles.append(Patch(facecolor="white", edgecolor="tab:green", hatch="//", label="truth"))
    if handles:
        ax.legend(handles=handles, loc="best", fontsize="small")
    ax.set_xlim(-0.6, length - 0.4)
    ax.set_xlabel("time step")
    _integer_steps(ax)
    ax.set_ylabel("mean influence")
    _label_times(ax, times, length)
    if title is not None:
        ax.set_title(title)
    return ax
