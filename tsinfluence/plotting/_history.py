"""Training histories: loss components per epoch, with the training phases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import _axes, _integer_steps

__all__ = ["HISTORY_COMPONENTS", "plot_history"]

#: Loss components recorded in ``history_`` that :func:`plot_history` draws by default.
HISTORY_COMPONENTS = (
    "train_loss",
    "train_task",
    "train_diversity",
    "train_mi",
    "train_budget",
    "valid_loss",
)


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
