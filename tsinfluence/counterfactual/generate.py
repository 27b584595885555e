"""``generate_counterfactuals``: the engine behind ``estimator.counterfactual(...)``."""

from __future__ import annotations

import numbers
import time

import numpy as np
import torch
from sklearn.utils import check_random_state

from ..nn.generator import INTERVENTION_TYPES
from ._inputs import reference_bounds, resolve_edit, resolve_reference, resolve_targets
from ._methods import (
    chunked_refine,
    model_free,
    nearest,
    restarts,
    run_search,
    widen_and_retry,
)
from ._result import CounterfactualResult
from ._search import SearchModel, eval_mode

__all__ = ["METHODS", "generate_counterfactuals"]

#: Counterfactual methods: searched against the model, then model-free seed edits.
METHODS = ("optimize", "nearest", "perturbation", "replacement", "removal")


def generate_counterfactuals(
    estimator,
    X,
    target=None,
    method: str = "optimize",
    n_samples: int = 1,
    *,
    shift=None,
    tolerance: float | None = None,
    reference=None,
    max_reference: int | None = 2000,
    edit="selected",
    bounds="reference",
    metric: str = "l1",
    max_iter: int = 300,
    lr: float = 0.1,
    proximity_weight: float = 0.05,
    diversity_weight: float = 0.1,
    through_selector: bool = True,
    refine: bool = True,
    max_rounds: int = 3,
    n_neighbors: int = 5,
    intervention_type: str = "modify_selected",
    perturbation_scale: float = 1.0,
    noise_scale: float | None = None,
    batch_size: int = 256,
    random_state=None,
) -> CounterfactualResult:
    """Find small edits of the influential steps that change a fitted estimator's prediction.

    Parameters
    ----------
    estimator : InfluenceClassifier or InfluenceRegressor
        A fitted estimator; it is never modified.
    X : array-like of shape (n_samples, n_timestamps[, n_channels])
        Series to explain (trailing-NaN padding allowed, never edited).
    target : label, value, array of shape (n,) or None, default=None
        Classifier: the class to reach (default: each series' most likely *other* class);
        an unknown label raises ``ValueError``. Regressor: the value to reach (absolute);
        for a change relative to the current prediction use ``shift`` instead.
    method : {"optimize", "nearest", "perturbation", "replacement", "removal"}
        ``"optimize"``: gradient search for the smallest edit of the ``edit`` steps (L1 or
        L2 proximity, values kept inside ``bounds``), stopping per series once the real
        forward pass (selector re-selecting on the edited series, then the predictor)
        reaches the target; valid edits are then pruned and shrunk while they stay valid.
        ``"nearest"`` (Native-Guide style): copy the edited steps from the nearest reference
        series predicted as the target, keep the closest valid copies, and refine with
        ``"optimize"`` when none is valid. ``"perturbation"``, ``"replacement"``,
        ``"removal"``: model-free :class:`~tsinfluence.nn.CounterfactualGenerator` edits
        of ``intervention_type``; they are valid only when they happen to reach the target.
    n_samples : int, default=1
        Counterfactuals per series. With more than one, ``optimize`` uses random restarts,
        random per-cell proximity weights and a diversity term; ``nearest`` uses distinct
        donors; the per-counterfactual arrays of the result gain a sample axis.
    shift : float or array of shape (n,), optional
        Regressor only: reach ``prediction + shift``. Default when neither ``target`` nor
        ``shift`` is given: one training standard deviation of ``y`` towards the training
        mean (``-std`` above the mean, ``+std`` otherwise).
    tolerance : float, optional
        Regressor only: a counterfactual is valid when ``|y_cf - target| <= tolerance``
        (default: 0.1 training standard deviation of ``y``).
    reference : array-like or tuple (X_ref, y_ref), optional
        Series representative of the training data: the donors of ``"nearest"``, the
        per-channel scale and the value ``bounds``. Default: the sample of training
        series the estimator stores at fit when it has one, else the input batch itself.
    max_reference : int or None, default=2000
        Subsample a larger reference to this many series.
    edit : {"selected", "all"} or bool array of shape (n, T), default="selected"
        Steps ``optimize``/``nearest`` may change: the estimator's selection on ``X`` (its
        influential steps; see ``max_rounds``), every step, or your own mask. Padding is
        never edited.
    bounds : {"reference", "channel"}, None or tuple (lo, hi), default="reference"
        Plausibility box for edited values: per-(t, d) min/max of the reference (per channel
        when it has fewer than 30 series), per-channel min/max, none, or explicit arrays
        broadcastable to ``(T, D)``. A value already outside the box may stay where it is.
    metric : {"l1", "l2"}, default="l1"
        Proximity penalty of the search and the ``distance`` reported.
    max_iter : int, default=300
        Gradient iterations.
    lr : float, default=0.1
        Adam step size, in units of each channel's reference standard deviation.
    proximity_weight : float, default=0.05
        Weight of the proximity penalty (the prediction term's weight doubles every 20
        iterations while a series has not reached its target).
    diversity_weight : float, default=0.1
        Weight of the similarity penalty between samples of one series (``n_samples > 1``).
    through_selector : bool, default=True
        Let gradients reach the edits through the selector's relaxed mask as well as
        through the predictor.
    refine : bool, default=True
        Prune and shrink valid edits (``optimize``, ``nearest``), and let ``nearest`` fall
        back to ``optimize`` when no donor copy is valid.
    max_rounds : int, default=3
        Search rounds with ``edit="selected"``: after a round, a series that has not
        reached its target may also edit the steps the selector picks on its best attempt
        (the edits can push the original selection out; the steps selected instead are
        the counterfactual's influential moments). ``edited`` reports the union.
    n_neighbors : int, default=5
        Donors tried per series by ``nearest``.
    intervention_type : str, default="modify_selected"
        Model-free methods: one of ``modify_selected``, ``modify_unselected``,
        ``remove_selected``, ``remove_unselected``.
    perturbation_scale : float, default=1.0
        Model-free ``"perturbation"``: edit size relative to each series' channel std.
    noise_scale : float, optional
        Model-free methods: sampling noise (default 0 for one sample, 0.5 for several).
    batch_size : int, default=256
        Series searched together.
    random_state : int, RandomState instance or None, default=None
        Seeds restarts, subsampling and the model-free generator (global RNGs untouched).

    Returns
    -------
    CounterfactualResult

    Notes
    -----
    ``valid`` and ``y_cf`` come from the estimator's own inference path on ``X_cf``, so
    ``estimator.predict(result.X_cf) == result.y_cf``. A target that cannot be reached
    gives ``valid=False`` (``X_cf`` is then the closest attempt), never an exception.
    """
    start = time.perf_counter()
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    predictor = getattr(
        getattr(getattr(estimator, "net_", None), "module_", None), "predictor", None
    )
    if method == "optimize" and not getattr(predictor, "has_gradient", True):
        raise ValueError(
            "method='optimize' follows the gradient of the model, but the frozen predictor "
            "(a scikit-learn estimator or callable) has none; use method='nearest', "
            "'perturbation', 'replacement' or 'removal'."
        )
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be an int >= 1, got {n_samples!r}.")
    if metric not in ("l1", "l2"):
        raise ValueError(f"metric must be 'l1' or 'l2', got {metric!r}.")
    if intervention_type not in INTERVENTION_TYPES:
        raise ValueError(
            f"intervention_type must be one of {INTERVENTION_TYPES}, got {intervention_type!r}."
        )
    for name, value, low in (
        ("max_iter", max_iter, 0),
        ("n_neighbors", n_neighbors, 1),
        ("max_rounds", max_rounds, 1),
        ("batch_size", batch_size, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    for name, value in (
        ("lr", lr),
        ("proximity_weight", proximity_weight),
        ("diversity_weight", diversity_weight),
        ("perturbation_scale", perturbation_scale),
    ):
        if not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    fitted = estimator._fitted_model()  # the estimator's bridge for other packages
    X3, pad = fitted.validate(X)
    two_d = getattr(X, "ndim", None) == 2 and X3.shape[2] == 1
    n, T, D = X3.shape
    S = int(n_samples)
    rng = check_random_state(random_state)
    raw, selected = fitted.predict_raw(X3, pad)
    goals = resolve_targets(fitted, raw, target, shift, tolerance)
    module, device, dtype = fitted.module, fitted.device, fitted.dtype
    seed = int(rng.randint(np.iinfo(np.int32).max))
    gen = torch.Generator(device=device).manual_seed(seed)
    tt = {"dtype": dtype, "device": device}
    rows = np.repeat(np.arange(n), S)
    pad_rows = pad[rows]
    info: dict = {}
    model = SearchModel(
        fitted,
        tolerance=0.95 * goals["tolerance_std"],
        through_selector=through_selector,
    )
    with eval_mode(module), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if method in ("optimize", "nearest"):
            X_ref, pad_ref, y_ref, info["reference"] = resolve_reference(
                fitted, reference, X3, pad, max_reference, rng
            )
            scale, lo, hi = reference_bounds(X_ref, pad_ref, bounds)
            edit_mask = resolve_edit(edit, selected, pad)
            x0 = torch.as_tensor(X3[rows], **tt)
            lo_t = torch.minimum(torch.as_tensor(lo, **tt).expand_as(x0), x0)
            hi_t = torch.maximum(torch.as_tensor(hi, **tt).expand_as(x0), x0)
            search = {
                "model": model,
                "x0": x0,
                "pad": torch.as_tensor(pad_rows, device=device),
                "edit": torch.as_tensor(edit_mask[rows], device=device),
                "goal": torch.as_tensor(goals["goal"][rows], **tt),
                "lo": lo_t,
                "hi": hi_t,
                "scale": torch.as_tensor(scale, **tt),
            }
            options = {
                "metric": metric,
                "max_iter": int(max_iter),
                "lr": float(lr),
                "proximity_weight": float(proximity_weight),
                "diversity_weight": float(diversity_weight) if S > 1 else 0.0,
                "groups": S,
            }
            z_init, weight = restarts(x0, S, gen)
            if method == "optimize":
                x_cf, found = run_search(search, options, z_init, weight, batch_size, S, info)
            else:
                x_cf, found = nearest(
                    fitted,
                    search,
                    options,
                    goals,
                    X_ref,
                    pad_ref,
                    y_ref,
                    n,
                    S,
                    n_neighbors,
                    refine,
                    batch_size,
                    weight,
                    info,
                )
            if isinstance(edit, str) and edit == "selected":
                x_cf, found = widen_and_retry(
                    search, options, x_cf, found, weight, batch_size, info, max_rounds
                )
            if refine:
                x_cf = chunked_refine(search, x_cf, found, batch_size * S)
            edited = search["edit"].reshape(n, S, T).any(1).cpu().numpy()
        else:
            x_cf, edited = model_free(
                X3,
                pad,
                selected,
                method,
                intervention_type,
                perturbation_scale,
                noise_scale,
                S,
                gen,
                tt,
            )
    return _finish(fitted, X3, pad, raw, x_cf, edited, goals, S, two_d, method, metric, start, info)


def _finish(fitted, X3, pad, raw, x_cf, edited, goals, S, two_d, method, metric, start, info):
    n = len(X3)
    rows = np.repeat(np.arange(n), S)
    x0 = X3[rows]
    Xcf = x_cf.detach().cpu().numpy().astype(X3.dtype, copy=False)
    Xcf = np.where(np.isfinite(Xcf), Xcf, x0)
    Xcf = np.where(edited[rows][..., None], Xcf, x0)
    Xcf[pad[rows]] = 0.0
    raw_cf, sel_cf = fitted.predict_raw(Xcf, pad[rows])
    y = fitted.labels(raw)
    y_cf = fitted.labels(raw_cf)
    labels = goals["labels"][rows]
    if fitted.task == "classification":
        valid = y_cf == labels
    else:
        valid = np.abs(y_cf - labels) <= goals["tolerance"]
    diff = (Xcf.astype(np.float64) - x0) * ~pad[rows][..., None]
    if metric == "l1":
        distance = np.abs(diff).sum((1, 2))
    else:
        distance = np.sqrt((diff**2).sum((1, 2)))
    Xcf[pad[rows]] = np.nan
    X_out = np.where(pad[..., None], np.nan, X3)
    if two_d:
        Xcf, X_out = Xcf[..., 0], X_out[..., 0]

    def shaped(a):
        return a if S == 1 else a.reshape(n, S, *a.shape[1:])

    return CounterfactualResult(
        X=X_out,
        X_cf=shaped(Xcf),
        y=y,
        y_cf=shaped(y_cf),
        target=goals["labels"],
        edited=edited,
        valid=shaped(valid),
        distance=shaped(distance),
        selected_cf=shaped(sel_cf),
        method=method,
        metric=metric,
        tolerance=goals["tolerance"],
        time=time.perf_counter() - start,
        info=info,
    )
