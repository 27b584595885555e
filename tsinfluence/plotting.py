"""Matplotlib figures for influence scores, counterfactuals and training histories.

matplotlib is an optional dependency (``pip install tsinfluence[plot]``), imported only when a
function here is called. Every function draws on ``ax`` (a new figure when ``None``) and
returns the :class:`matplotlib.axes.Axes`; ``ax.figure`` is the figure.

Time steps are drawn at positions ``0..T-1``; ``times`` only relabels the ticks, so
irregular or non-numeric time values (dates, strings) are fine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["plot_counterfactual", "plot_history", "plot_influence", "plot_influence_summary"]

#: Loss components recorded in ``history_`` that :func:`plot_history` draws by default.
HISTORY_COMPONENTS = (
    "train_loss",
    "train_task",
    "train_diversity",
    "train_mi",
    "train_budget",
    "valid_loss",
)


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


def plot_history(
    history,
    *,
    components: Sequence[str] | None = None,
    ax=None,
    log: bool = False,
    title: str | None = None,
):
    """Loss components per epoch, with the training phases shaded.

    Parameters
    ----------
    history : fitted estimator, skorch History or list of dict
        An estimator (its ``history_``) or the per-epoch records, with keys such as
        ``train_loss``, ``train_task``, ``train_diversity``, ``train_mi``,
        ``train_budget`` and ``phase``.
    components : sequence of str, optional
        Keys to draw. Default: those of ``HISTORY_COMPONENTS`` present in the history,
        leaving out terms that are zero at every epoch (disabled terms).
    ax : matplotlib.axes.Axes, optional
        Where to draw (default: a new figure).
    log : bool, default=False
        Logarithmic y axis (for positive losses).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per component in ``ax.lines``, labelled with its key; one shaded span per
        run of epochs in the same ``phase``.

    Examples
    --------
    >>> from tsinfluence.plotting import plot_history
    >>> rows = [{"epoch": 1, "train_loss": 1.0, "phase": "evaluator"},
    ...         {"epoch": 2, "train_loss": 0.5, "phase": "selector"}]
    >>> [line.get_label() for line in plot_history(rows).lines]
    ['train_loss']
    """
    if hasattr(history, "history_"):
        history = history.history_
    elif hasattr(history, "fit") and hasattr(history, "get_params"):
        raise ValueError(
            f"This {type(history).__name__} instance is not fitted yet: it has no history_. "
            "Call 'fit' first."
        )
    rows = list(history)
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError("history must be a non-empty sequence of per-epoch dicts.")
    epochs = np.array([r.get("epoch", i + 1) for i, r in enumerate(rows)])
    if components is None:
        components = [
            name
            for name in HISTORY_COMPONENTS
            if all(name in r for r in rows)
            and (name == "train_loss" or any(r[name] != 0 for r in rows))
        ]
    else:
        missing = [c for c in components if not all(c in r for r in rows)]
        if missing:
            raise ValueError(f"components {missing} are not recorded at every epoch.")
    ax = _axes(ax)
    if all("phase" in r for r in rows):
        phases = [r["phase"] for r in rows]
        starts = [0] + [i for i in range(1, len(rows)) if phases[i] != phases[i - 1]]
        for j, start in enumerate(starts):
            end = starts[j + 1] - 1 if j + 1 < len(starts) else len(rows) - 1
            ax.axvspan(
                epochs[start] - 0.5,
                epochs[end] + 0.5,
                color="0.92" if j % 2 == 0 else "0.82",
                lw=0,
                zorder=0,
            )
            ax.text(
                (epochs[start] + epochs[end]) / 2,
                0.98,
                phases[start],
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize="small",
            )
    for name in components:
        ax.plot(epochs, [float(r[name]) for r in rows], marker=".", label=name, zorder=2)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    _integer_steps(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax
