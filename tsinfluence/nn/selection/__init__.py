"""Selection strategies: ``scores (n, T) [+ padding mask] -> mask (n, T)``."""

from .base import SelectionStrategy, resolve_k
from .gumbel import GumbelTopKSelection
from .threshold import ThresholdSelection
from .topk import TopKSelection

SELECTION_METHODS = {
    "topk": TopKSelection,
    "gumbel": GumbelTopKSelection,
    "threshold": ThresholdSelection,
}


def make_selection(
    method: str, k: int | float | None = None, temperature: float = 1.0, threshold: float = 0.5
) -> SelectionStrategy:
    """Build a selection strategy by name.

    Parameters
    ----------
    method : {"topk", "gumbel", "threshold"}
    k : int, float or None
        Steps to select (a float is a fraction of each series' valid length).
    temperature : float, default=1.0
        Temperature of the relaxation.
    threshold : float, default=0.5
        Gate threshold of ``"threshold"``.

    Returns
    -------
    SelectionStrategy
    """
    if method not in SELECTION_METHODS:
        raise ValueError(
            f"selection_method must be one of {sorted(SELECTION_METHODS)}, got {method!r}."
        )
    if method == "threshold":
        return ThresholdSelection(k=k, temperature=temperature, threshold=threshold)
    return SELECTION_METHODS[method](k=k, temperature=temperature)


__all__ = [
    "SELECTION_METHODS",
    "GumbelTopKSelection",
    "SelectionStrategy",
    "ThresholdSelection",
    "TopKSelection",
    "make_selection",
    "resolve_k",
]
