"""Checking and resolving the inputs of ``generate_counterfactuals``: targets, reference, bounds."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["resolve_targets", "resolve_reference", "reference_bounds", "resolve_edit"]

#: A reference set smaller than this gives per-channel bounds instead of per-(t, d) ones.
MIN_REFERENCE_FOR_STEP_BOUNDS = 30


def _as_vector(value, n: int, name: str, dtype=None) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        return np.full(n, arr.item(), dtype=arr.dtype if dtype is None else dtype)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be a scalar or an array of shape (n_samples,) = ({n},), got shape "
            f"{arr.shape}."
        )
    return arr


def resolve_targets(fitted, pred_raw: np.ndarray, target, shift, tolerance) -> dict:
    """Turn the user's ``target``/``shift``/``tolerance`` into per-series goals.

    Returns
    -------
    dict
        ``labels`` (the targets in the user's units, ``(n,)``), ``goal`` (class indices or
        standardised values for the search), ``tolerance`` (float or None, user units) and
        ``tolerance_std`` (model units).
    """
    n = len(pred_raw)
    if fitted.task == "classification":
        if shift is not None:
            raise ValueError("shift is only for regressors; pass target=<class label>.")
        if tolerance is not None:
            raise ValueError("tolerance is only for regressors.")
        classes = fitted.classes
        proba = fitted.decode(pred_raw)
        if target is None:
            other = proba.copy()
            other[np.arange(n), proba.argmax(1)] = -np.inf
            goal = other.argmax(1)
        else:
            labels = _as_vector(target, n, "target")
            try:
                known = np.isin(labels, classes)
            except (TypeError, ValueError):
                known = np.zeros(n, dtype=bool)
            if not known.all():
                bad = labels[~known][0]
                raise ValueError(
                    f"target contains {bad!r}, which is not one of the classes seen in fit: "
                    f"{list(classes)}."
                )
            goal = np.searchsorted(classes, labels.astype(classes.dtype, copy=False))
        return {
            "labels": classes[goal],
            "goal": goal.astype(np.int64),
            "tolerance": None,
            "tolerance_std": 0.0,
        }
    current = fitted.decode(pred_raw)
    if target is not None and shift is not None:
        raise ValueError("Pass either target (a value) or shift (a change), not both.")
    scale = float(fitted.target_scale)
    if target is None:
        if shift is None:
            # One training standard deviation towards (and past) the training mean.
            shift = np.where(current > fitted.target_mean, -scale, scale)
        values = current + _as_vector(shift, n, "shift", dtype=np.float64)
    else:
        if isinstance(target, tuple):
            raise ValueError(
                "target for a regressor is a value or an array of values; use shift=<change> "
                "for a change relative to the current prediction."
            )
        values = _as_vector(target, n, "target", dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("target/shift must be finite numbers.")
    if tolerance is None:
        tolerance = 0.1 * scale
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or tolerance <= 0:
        raise ValueError(f"tolerance must be a positive number, got {tolerance!r}.")
    goal = (values - fitted.target_mean) / scale
    return {
        "labels": values,
        "goal": goal,
        "tolerance": float(tolerance),
        "tolerance_std": float(tolerance) / scale,
    }


def resolve_reference(fitted, reference, X: np.ndarray, pad: np.ndarray, max_reference, rng):
    """Return ``(X_ref (m, T, D), pad_ref, y_ref or None, source)``.

    ``reference`` is ``None`` (use the training sample stored at fit when there is one, else
    the input batch), an array-like of series, or a tuple ``(X_ref, y_ref)``.
    """
    source = "reference"
    if reference is None:
        stored = fitted.reference
        if stored is None:
            return X, pad, None, "input batch"
        reference = (stored["X"], stored.get("y")) if isinstance(stored, dict) else stored
        source = "stored reference"
    y_ref = None
    if isinstance(reference, tuple):
        if len(reference) != 2:
            raise ValueError(
                "reference must be an array of series or a tuple (X_ref, y_ref); got a tuple "
                f"of length {len(reference)}."
            )
        reference, y_ref = reference
    X_ref, pad_ref = fitted.validate(reference)
    if y_ref is not None:
        y_ref = np.asarray(y_ref)
        if y_ref.shape != (len(X_ref),):
            raise ValueError(
                f"y_ref must have shape ({len(X_ref)},) to match X_ref, got {y_ref.shape}."
            )
    if max_reference is not None and len(X_ref) > max_reference:
        keep = np.sort(rng.choice(len(X_ref), size=int(max_reference), replace=False))
        X_ref, pad_ref = X_ref[keep], pad_ref[keep]
        y_ref = None if y_ref is None else y_ref[keep]
    return X_ref, pad_ref, y_ref, source


def reference_bounds(X_ref: np.ndarray, pad_ref: np.ndarray, bounds):
    """Per-channel scale ``(D,)`` and value bounds ``(lo, hi)`` of shape ``(T, D)``.

    ``bounds="reference"`` uses the per-(t, d) minimum and maximum of the reference (per
    channel when it holds fewer than 30 series or a step is padded everywhere);
    ``"channel"`` the per-channel range; ``None`` no bounds; a tuple ``(lo, hi)`` of arrays
    broadcastable to ``(T, D)`` is used as given.
    """
    values = np.where(pad_ref[..., None], np.nan, X_ref).astype(np.float64)
    T, D = X_ref.shape[1:]
    scale = np.nanstd(values.reshape(-1, D), axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 1e-8), scale, 1.0)
    ch_lo = np.nanmin(values.reshape(-1, D), axis=0)
    ch_hi = np.nanmax(values.reshape(-1, D), axis=0)
    if bounds is None:
        lo, hi = np.full((T, D), -np.inf), np.full((T, D), np.inf)
    elif isinstance(bounds, tuple):
        if len(bounds) != 2:
            raise ValueError("bounds as a tuple must be (lo, hi).")
        try:
            lo = np.broadcast_to(np.asarray(bounds[0], dtype=np.float64), (T, D)).copy()
            hi = np.broadcast_to(np.asarray(bounds[1], dtype=np.float64), (T, D)).copy()
        except ValueError as exc:
            raise ValueError(
                f"bounds (lo, hi) must be broadcastable to (T, D) = {(T, D)}."
            ) from exc
        if np.any(lo > hi):
            raise ValueError("bounds: lo must be <= hi everywhere.")
    elif bounds in ("reference", "channel"):
        lo, hi = np.broadcast_to(ch_lo, (T, D)).copy(), np.broadcast_to(ch_hi, (T, D)).copy()
        if bounds == "reference" and len(X_ref) >= MIN_REFERENCE_FOR_STEP_BOUNDS:
            with np.errstate(all="ignore"):
                step_lo, step_hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
            lo = np.where(np.isfinite(step_lo), step_lo, lo)
            hi = np.where(np.isfinite(step_hi), step_hi, hi)
    else:
        raise ValueError(
            f"bounds must be 'reference', 'channel', None or a tuple (lo, hi); got {bounds!r}."
        )
    return scale, lo, hi


def resolve_edit(edit, selected: np.ndarray, pad: np.ndarray) -> np.ndarray:
    """The ``(n, T)`` bool mask of steps a search may change (never padding)."""
    if isinstance(edit, str):
        if edit == "selected":
            mask = selected.copy()
        elif edit == "all":
            mask = np.ones_like(selected)
        else:
            raise ValueError(f"edit must be 'selected', 'all' or a bool array; got {edit!r}.")
    else:
        mask = np.asarray(edit)
        if mask.shape != selected.shape or mask.dtype != bool:
            raise ValueError(
                f"edit as an array must be bool of shape (n_samples, n_timestamps) = "
                f"{selected.shape}, got {mask.dtype} {mask.shape}."
            )
    return mask & ~pad
