"""A series drawn with its counterfactual."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import (
    _axes,
    _channel_labels,
    _integer_steps,
    _label_times,
    _per_step,
    _pyplot,
    _runs,
    _series,
)

__all__ = ["plot_counterfactual"]


def plot_counterfactual(
    original,
    counterfactual,
    *,
    edited=None,
    times: Sequence | None = None,
    channel_names: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
):
    """Draw a series and its counterfactual, with the edited steps highlighted.

    Parameters
    ----------
    original : array-like of shape (n_timestamps,) or (n_timestamps, n_channels)
        The series, e.g. ``result.X[i]``.
    counterfactual : array-like, same shape as ``original``
        Its counterfactual, e.g. ``result.X_cf[i]``.
    edited : array-like of shape (n_timestamps,) bool, or step indices, optional
        Steps to highlight (e.g. ``result.edited[i]``); default: the steps whose value
        differs.
    times : sequence, optional
        Tick labels, one per step.
    channel_names : sequence of str, optional
        Legend labels of the channels.
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        Solid lines are the original channels, dashed lines the counterfactual ones; each
        highlighted run of steps is a patch in ``ax.patches``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsinfluence.plotting import plot_counterfactual
    >>> x = np.zeros(10)
    >>> cf = x.copy(); cf[4:6] = 1.0
    >>> ax = plot_counterfactual(x, cf)
    >>> len(ax.patches)
    1
    """
    values = _series(original, "original")
    cf = _series(counterfactual, "counterfactual")
    if cf.shape != values.shape:
        raise ValueError(
            f"counterfactual has shape {cf.shape}, expected the shape of original {values.shape}."
        )
    length = len(values)
    if edited is None:
        changed = ~np.isclose(values, cf, rtol=0.0, atol=0.0, equal_nan=True)
        edited = changed.any(axis=1)
    else:
        edited = _per_step(edited, length, "edited", dtype=bool)
    ax = _axes(ax)
    steps = np.arange(length)
    for i, (first, last) in enumerate(_runs(edited)):
        ax.axvspan(
            first - 0.5,
            last + 0.5,
            color="tab:orange",
            alpha=0.2,
            lw=0,
            label="edited steps" if i == 0 else None,
        )
    colors = _pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    for d, name in enumerate(_channel_labels(values.shape[1], channel_names)):
        color = colors[d % len(colors)]
        ax.plot(steps, values[:, d], color=color, lw=1.5, label=f"{name} (original)")
        ax.plot(steps, cf[:, d], color=color, lw=1.5, ls="--", label=f"{name} (counterfactual)")
    ax.set_xlim(-0.5, length - 0.5)
    ax.set_xlabel("time step")
    ax.set_ylabel("value")
    _integer_steps(ax)
    _label_times(ax, times, length)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax
