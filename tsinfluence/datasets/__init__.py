"""Synthetic time-series data sets with known ground truth, and a long-format loader.

Every generator follows the scikit-learn ``make_*`` style and returns ``X, y, truth``:

- ``X``: float64 array of shape ``(n_samples, n_timestamps, n_channels)`` (channels last);
- ``y``: int labels ``0..C-1`` (classification) or float targets (regression);
- ``truth``: bool array ``(n_samples, n_timestamps)``, the steps that carry the signal.

With ``return_cell_truth=True`` a fourth value, a bool ``(n_samples, n_timestamps,
n_channels)`` mask of the cells (step, channel) that carry the signal, is also returned.

The sets are built to test faithfulness of explanations: the label is a function of the true
steps only (the truth is *sufficient*), and the values at the other steps are independent of the
label (the truth is *necessary*: no leakage through noise level, etc.). Every series has a
non-empty truth: where a class would naturally have "no event", the class is encoded by the sign
(or position) of the event instead.

:func:`load_long_format` reads a table with one row per series and time step (CSV, parquet or a
DataFrame) into a 3D array.
"""

from ._long_format import load_long_format
from ._synthetic import (
    make_box,
    make_interaction,
    make_marked_sum,
    make_signal_event,
    make_state_switching,
)

# fmt: off
__all__ = [
    "make_signal_event", "make_box", "make_state_switching", "make_interaction",
    "make_marked_sum", "load_long_format"
]
# fmt: on
