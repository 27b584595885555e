"""The synthetic ``make_*`` generators, with ground-truth influential steps.

Their common conventions (what ``X``, ``y``, ``truth`` and the cell truth hold, and why the
truth is sufficient and necessary) are described in :mod:`tsinfluence.datasets`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "make_box",
    "make_interaction",
    "make_marked_sum",
    "make_signal_event",
    "make_state_switching",
]

_BOX_PATTERNS = ("middle", "moving", "rare_time", "rare_feature", "positional")


def _check_int(name: str, value, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"`{name}` must be >= {minimum}{upper}, got {value}.")
    return int(value)


def _check_float(name: str, value, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ValueError(f"`{name}` must be a finite real number, got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")
    return float(value)


def _output(X, y, cells, return_cell_truth):
    truth = cells.any(axis=2)
    return (X, y, truth, cells) if return_cell_truth else (X, y, truth)


def make_signal_event(
    n_samples: int = 500,
    n_timestamps: int = 30,
    n_channels: int = 4,
    event_length: int = 3,
    event_strength: float = 2.0,
    noise: float = 1.0,
    return_cell_truth: bool = False,
    random_state=None,
):
    """Binary classification by the sign of a short hidden event.

    Every series is Gaussian noise ``N(0, noise**2)``. Each series holds one event: a constant
    shift of ``+event_strength`` (class 1) or ``-event_strength`` (class 0) added to
    ``event_length`` consecutive steps, at a uniformly random position, on one uniformly random
    channel. Class 0 is *not* "no event" (which would leave it without ground truth): the sign
    of the event decides the class, so every series has exactly ``event_length`` true steps.

    Parameters
    ----------
    n_samples, n_timestamps, n_channels : int
        Shape of ``X``.
    event_length : int, default=3
        Number of consecutive steps of the event (``1 <= event_length <= n_timestamps``).
    event_strength : float, default=2.0
        Absolute size of the shift.
    noise : float, default=1.0
        Standard deviation of the background noise (same for both classes).
    return_cell_truth : bool, default=False
        Also return the ``(n, T, D)`` cell mask (the event steps on the event channel).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducibility.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timestamps, n_channels)
    y : ndarray of shape (n_samples,), int
    truth : ndarray of shape (n_samples, n_timestamps), bool
        Exactly ``event_length`` True per row.
    cell_truth : ndarray of shape (n_samples, n_timestamps, n_channels), bool
        Only if ``return_cell_truth``.
    """
    n = _check_int("n_samples", n_samples, 1)
    T = _check_int("n_timestamps", n_timestamps, 1)
    D = _check_int("n_channels", n_channels, 1)
    L = _check_int("event_length", event_length, 1, T)
    strength = _check_float("event_strength", event_strength)
    noise = _check_float("noise", noise)
    rng = check_random_state(random_state)
    y = rng.randint(0, 2, size=n)
    X = noise * rng.standard_normal((n, T, D))
    start = rng.randint(0, T - L + 1, size=n)
    channel = rng.randint(0, D, size=n)
    cells = np.zeros((n, T, D), dtype=bool)
    steps = np.arange(T)
    in_event = (steps >= start[:, None]) & (steps < start[:, None] + L)
    cells[np.arange(n)[:, None], steps[None, :], channel[:, None]] = in_event
    X += cells * (strength * (2 * y - 1))[:, None, None]
    return _output(X, y, cells, return_cell_truth)


def make_box(
    n_samples: int = 500,
    n_timestamps: int = 50,
    n_channels: int = 5,
    pattern: str = "middle",
    box_strength: float = 1.0,
    noise: float = 1.0,
    box_length: int | None = None,
    n_box_channels: int | None = None,
    return_cell_truth: bool = False,
    random_state=None,
):
    """Box patterns of Ismail et al. (2020), "Benchmarking deep learning interpretability in
    time series predictions" (NeurIPS).

    Background is ``N(0, noise**2)``. A box (``box_length`` consecutive steps on
    ``n_box_channels`` channels) is shifted by ``box_strength``. For every pattern except
    ``"positional"`` the class is the sign of the shift (``+`` for class 1, ``-`` for class 0),
    so every series has a non-empty truth. Patterns (defaults for ``box_length`` /
    ``n_box_channels``):

    - ``"middle"``: fixed window centred in the series (``round(0.3 T)`` steps), on the first
      ``ceil(0.8 D)`` channels;
    - ``"moving"``: same box at a uniformly random position per series;
    - ``"rare_time"``: ``ceil(0.05 T)`` steps at a random position, first ``ceil(0.8 D)``
      channels;
    - ``"rare_feature"``: a fixed centred window of ``round(0.8 T)`` steps on only
      ``max(1, round(0.05 D))`` channel(s) (the first ones);
    - ``"positional"``: the shift is always ``+box_strength``; class 0 boxes lie entirely in the
      first half of the series, class 1 boxes entirely in the second half (random position within
      the half, ``round(0.2 T)`` steps, first ``ceil(0.8 D)`` channels). Here the *position* of
      the true steps encodes the class, so the location of the truth is itself informative.

    Parameters
    ----------
    n_samples, n_timestamps, n_channels : int
        Shape of ``X``.
    pattern : {"middle", "moving", "rare_time", "rare_feature", "positional"}
        Which pattern to draw.
    box_strength : float, default=1.0
        Absolute shift inside the box.
    noise : float, default=1.0
        Standard deviation of the background noise.
    box_length, n_box_channels : int or None
        Override the pattern defaults above.
    return_cell_truth : bool, default=False
        Also return the ``(n, T, D)`` cell mask of the box.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducibility.

    Returns
    -------
    X, y, truth[, cell_truth]
        As in :func:`make_signal_event`; every row of ``truth`` has exactly ``box_length`` True.
    """
    if pattern not in _BOX_PATTERNS:
        raise ValueError(f"`pattern` must be one of {_BOX_PATTERNS}, got {pattern!r}.")
    n = _check_int("n_samples", n_samples, 1)
    T = _check_int("n_timestamps", n_timestamps, 2 if pattern == "positional" else 1)
    D = _check_int("n_channels", n_channels, 1)
    strength = _check_float("box_strength", box_strength)
    noise = _check_float("noise", noise)
    frac = {"rare_time": 0.05, "rare_feature": 0.8, "positional": 0.2}.get(pattern, 0.3)
    if box_length is None:
        box_length = int(np.ceil(frac * T)) if pattern == "rare_time" else int(round(frac * T))
        box_length = max(1, min(box_length, T // 2 if pattern == "positional" else T))
    max_len = T // 2 if pattern == "positional" else T
    L = _check_int("box_length", box_length, 1, max_len)
    if n_box_channels is None:
        n_box_channels = max(1, round(0.05 * D)) if pattern == "rare_feature" else -(-4 * D // 5)
    C = _check_int("n_box_channels", n_box_channels, 1, D)
    rng = check_random_state(random_state)
    y = rng.randint(0, 2, size=n)
    X = noise * rng.standard_normal((n, T, D))
    if pattern in ("middle", "rare_feature"):
        start = np.full(n, (T - L) // 2)
    elif pattern == "positional":
        half = T // 2
        offset = rng.randint(0, half - L + 1, size=n)
        start = np.where(y == 1, T - half + offset, offset)
    else:
        start = rng.randint(0, T - L + 1, size=n)
    steps = np.arange(T)
    in_box = (steps >= start[:, None]) & (steps < start[:, None] + L)
    cells = in_box[:, :, None] & (np.arange(D) < C)[None, None, :]
    sign = np.ones(n) if pattern == "positional" else 2.0 * y - 1
    X += cells * (strength * sign)[:, None, None]
    return _output(X, y, cells, return_cell_truth)


def make_state_switching(
    n_samples: int = 500,
    n_timestamps: int = 100,
    n_channels: int = 3,
    p_switch: float = 0.05,
    amplitude: float = 1.0,
    noise: float = 1.0,
    min_final_length: int = 5,
    return_cell_truth: bool = False,
    random_state=None,
):
    """Two-state hidden Markov regime switching, after the "state" data of FIT
    (Tonekaboni et al., 2020), Dynamask and ExtremalMask, with one label per series.

    A hidden chain ``s_t`` in ``{0, 1}`` starts from a uniform state and switches with
    probability ``p_switch`` at each step; the last ``min_final_length`` steps are forced to
    stay in one state (the chain is sampled backwards from ``s_{T-1}``, which for this symmetric
    chain is the same as conditioning the forward chain on no switch there). As in FIT, only one
    channel carries the signal in each state: channel ``s_t`` (0 or 1). Each *regime* (maximal
    run of one state) draws its own polarity ``sigma`` in ``{-1, +1}`` (fair, independent), and
    during the regime the active channel is ``sigma * amplitude + noise``; every other cell is
    ``N(0, noise**2)``.

    **Label**: ``y = 1`` if the polarity of the *final* regime is positive, else ``0``.
    **Truth**: the steps of the final regime (its length is at least ``min_final_length``);
    the cell truth is the active channel (``s_{T-1}``) on those steps. The polarities of the
    earlier regimes are independent of ``y``, so the earlier steps carry no information about
    the label (no leakage through the previous state, unlike ``y = s_{T-1}`` would).

    Parameters
    ----------
    n_samples, n_timestamps : int
        Shape of ``X``; ``n_timestamps >= min_final_length``.
    n_channels : int, default=3
        At least 2; channels ``>= 2`` are pure-noise distractors.
    p_switch : float, default=0.05
        Switching probability per step, in ``[0, 1]``.
    amplitude : float, default=1.0
        Absolute mean of the active channel.
    noise : float, default=1.0
        Standard deviation of the observation noise.
    min_final_length : int, default=5
        Minimum length of the final regime (so the truth is never a single step).
    return_cell_truth : bool, default=False
        Also return the ``(n, T, D)`` cell mask.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducibility.

    Returns
    -------
    X, y, truth[, cell_truth]
        As in :func:`make_signal_event`; each row of ``truth`` is a suffix of the series of
        length ``>= min_final_length``.
    """
    n = _check_int("n_samples", n_samples, 1)
    L = _check_int("min_final_length", min_final_length, 1)
    T = _check_int("n_timestamps", n_timestamps, L)
    D = _check_int("n_channels", n_channels, 2)
    p = _check_float("p_switch", p_switch)
    if p > 1:
        raise ValueError(f"`p_switch` must be in [0, 1], got {p_switch}.")
    amplitude = _check_float("amplitude", amplitude)
    noise = _check_float("noise", noise)
    rng = check_random_state(random_state)
    switch = rng.random_sample((n, T)) < p  # switch[:, t]: s_t != s_{t+1}, t < T - 1
    switch[:, T - L :] = False
    # regime index counted from the end: 0 for the final regime
    regime = np.cumsum(switch[:, ::-1], axis=1)[:, ::-1]
    last_state = rng.randint(0, 2, size=n)
    state = (last_state[:, None] + regime) % 2
    polarity = rng.choice([-1.0, 1.0], size=(n, T))  # polarity of regime r is polarity[:, r]
    level = amplitude * np.take_along_axis(polarity, regime, axis=1)
    X = noise * rng.standard_normal((n, T, D))
    active = state[:, :, None] == np.arange(D)[None, None, :]
    X += active * level[:, :, None]
    y = (polarity[:, 0] > 0).astype(int)
    cells = active & (regime == 0)[:, :, None]
    return _output(X, y, cells, return_cell_truth)


def make_interaction(
    n_samples: int = 500,
    n_timestamps: int = 30,
    n_channels: int = 2,
    amplitude: float = 3.0,
    noise: float = 1.0,
    return_cell_truth: bool = False,
    random_state=None,
):
    """XOR of two marked events: one event alone says nothing about the label.

    Channel 0 is a noise-free 0/1 marker that flags exactly two steps, at distinct uniformly
    random positions. Channel 1 holds ``+/-amplitude`` (fair, independent signs) at the two
    marked steps and ``N(0, noise**2)`` elsewhere; noise ``N(0, noise**2)`` is also added at the
    marked steps. Channels ``>= 2`` are pure noise. ``y = 1`` if the two signs differ, else 0.

    Parameters
    ----------
    n_samples, n_timestamps : int
        Shape of ``X`` (``n_timestamps >= 2``).
    n_channels : int, default=2
        At least 2.
    amplitude : float, default=3.0
        Absolute value of the events.
    noise : float, default=1.0
        Standard deviation of the noise on the value and distractor channels.
    return_cell_truth : bool, default=False
        Also return the ``(n, T, D)`` cell mask: the value channel (1) at the two event steps.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducibility.

    Returns
    -------
    X, y, truth[, cell_truth]
        As in :func:`make_signal_event`; exactly 2 true steps per row.
    """
    n = _check_int("n_samples", n_samples, 1)
    T = _check_int("n_timestamps", n_timestamps, 2)
    D = _check_int("n_channels", n_channels, 2)
    amplitude = _check_float("amplitude", amplitude)
    noise = _check_float("noise", noise)
    rng = check_random_state(random_state)
    pos = np.argsort(rng.random_sample((n, T)), axis=1)[:, :2]
    signs = rng.choice([-1.0, 1.0], size=(n, 2))
    X = noise * rng.standard_normal((n, T, D))
    X[:, :, 0] = 0.0
    rows = np.arange(n)[:, None]
    X[rows, pos, 0] = 1.0
    X[rows, pos, 1] += amplitude * signs
    y = (signs[:, 0] != signs[:, 1]).astype(int)
    cells = np.zeros((n, T, D), dtype=bool)
    cells[rows, pos, 1] = True
    return _output(X, y, cells, return_cell_truth)


def make_marked_sum(
    n_samples: int = 500,
    n_timestamps: int = 30,
    n_marked: int = 4,
    noise: float = 0.0,
    return_cell_truth: bool = False,
    random_state=None,
):
    """Regression: the sum of the values at the marked steps.

    Two channels: channel 0 is ``N(0, 1)``; channel 1 is a 0/1 marker equal to 1 at exactly
    ``n_marked`` uniformly random steps. ``y = sum of channel 0 at marked steps +
    noise * N(0, 1)``.

    Parameters
    ----------
    n_samples, n_timestamps : int
        Shape of ``X`` (``n_channels`` is always 2).
    n_marked : int, default=4
        Number of marked steps (``1 <= n_marked <= n_timestamps``).
    noise : float, default=0.0
        Standard deviation of the noise added to the *target*.
    return_cell_truth : bool, default=False
        Also return the ``(n, T, 2)`` cell mask: channel 0 at the marked steps.
    random_state : int, RandomState instance or None, default=None
        Seed for reproducibility.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timestamps, 2)
    y : ndarray of shape (n_samples,), float
    truth : ndarray of shape (n_samples, n_timestamps), bool
        Exactly ``n_marked`` True per row.
    cell_truth : ndarray of shape (n_samples, n_timestamps, 2), bool
        Only if ``return_cell_truth``.
    """
    n = _check_int("n_samples", n_samples, 1)
    T = _check_int("n_timestamps", n_timestamps, 1)
    k = _check_int("n_marked", n_marked, 1, T)
    noise = _check_float("noise", noise)
    rng = check_random_state(random_state)
    values = rng.standard_normal((n, T))
    pos = np.argsort(rng.random_sample((n, T)), axis=1)[:, :k]
    marked = np.zeros((n, T), dtype=bool)
    marked[np.arange(n)[:, None], pos] = True
    X = np.stack([values, marked.astype(float)], axis=2)
    y = (values * marked).sum(axis=1) + noise * rng.standard_normal(n)
    cells = np.stack([marked, np.zeros_like(marked)], axis=2)
    return _output(X, y, cells, return_cell_truth)
