"""Matplotlib figures for influence scores, counterfactuals and training histories.

matplotlib is an optional dependency (``pip install tsinfluence[plot]``), imported only when a
function here is called. Every function draws on ``ax`` (a new figure when ``None``) and
returns the :class:`matplotlib.axes.Axes`; ``ax.figure`` is the figure.

Time steps are drawn at positions ``0..T-1``; ``times`` only relabels the ticks, so
irregular or non-numeric time values (dates, strings) are fine.
"""

from ._counterfactual import plot_counterfactual
from ._history import HISTORY_COMPONENTS as HISTORY_COMPONENTS
from ._history import plot_history
from ._influence import plot_influence, plot_influence_summary

__all__ = ["plot_counterfactual", "plot_history", "plot_influence", "plot_influence_summary"]
