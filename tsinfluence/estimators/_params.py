"""Hyper-parameter validation of the influence estimators (sklearn: in ``fit``)."""

from __future__ import annotations

import inspect
from numbers import Integral, Real

import numpy as np
import torch
from torch import nn

from .._validation import BOOLEAN, Interval, Options
from ..nn.adapters import BASELINES
from ..nn.framework import SELECTOR_GRADIENTS
from ..nn.heads import PREDICTORS
from ..nn.positional import POSITIONAL_ENCODINGS
from ..nn.scaling import SCALINGS
from ..nn.selection import SELECTION_METHODS
from ..nn.selector import SCORERS
from ._blackbox import predictor_kind

__all__ = [
    "DTYPES",
    "GROUPED_PARAMETERS",
    "GROUPS",
    "OPTIMIZERS",
    "PARAMETER_CONSTRAINTS",
    "PREDICTIONS",
    "TRAINING_SCHEMES",
    "check_params",
    "group_settings",
    "grouped",
    "grouped_name_problem",
    "torch_device",
]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
TRAINING_SCHEMES = ("two_stage", "joint")
PREDICTIONS = ("selected", "full")

_FRACTION = Interval(Real, 0.0, 1.0)
#: The constraint of every top-level hyper-parameter that has one on its own (the one place
#: for bounds and option lists); ``k``, ``selection_method``, ``predictor``, ``optimizer``,
#: ``device``, ``callbacks``, ``random_state`` and the classifier's ``class_weight`` take
#: objects too and are checked by hand (``device``, ``random_state`` and ``class_weight``
#: where they are resolved), as are the rules that tie parameters.
PARAMETER_CONSTRAINTS = {
    "scorer": Options(SCORERS),
    "freeze_predictor": BOOLEAN,
    "training_scheme": Options(TRAINING_SCHEMES),
    "selector_gradient": Options(SELECTOR_GRADIENTS),
    "baseline": Options(BASELINES),
    "prediction": Options(PREDICTIONS),
    "scaling": Options(SCALINGS),
    "max_epochs": Interval(Integral, 1, none=True),
    "lr": Interval(Real, 0.0, None, closed="neither"),
    "batch_size": Interval(Integral, 1),
    "gradient_clip": Interval(Real, 0.0, None, closed="neither", none=True),
    "early_stopping": BOOLEAN,
    "transform_mode": Options(("global", "per_sample")),
    "transform_shape": Options(("2d", "3d")),
    "precision": Options(tuple(DTYPES)),
    "verbose": Interval(Integral, 0),
}

#: Groups of component settings, passed as ``<group>__<name>`` keyword arguments (skorch
#: style): the network (``module``), the loss terms (``loss``), the training phases
#: (``schedule``), the optimiser (``optimizer``: any argument of its constructor) and early
#: stopping (``early_stopping``).
GROUPS = ("module", "loss", "schedule", "optimizer", "early_stopping")

#: ``{"<group>__<name>": (default, constraint)}``: the one place for the default and the
#: bounds of every grouped setting. ``optimizer__<name>`` takes any other argument of the
#: optimiser's constructor too (checked against its signature).
GROUPED_PARAMETERS = {
    "module__hidden_dim": (32, Interval(Integral, 1)),
    "module__num_heads": (4, Interval(Integral, 1)),
    "module__num_layers": (1, Interval(Integral, 0)),
    "module__dropout": (0.1, Interval(Real, 0.0, 1.0, closed="left")),
    "module__positional_encoding": ("sinusoidal", Options(POSITIONAL_ENCODINGS)),
    "module__causal": (False, BOOLEAN),
    "module__temperature": (1.0, Interval(Real, 0.0, None, closed="neither")),
    "module__threshold": (0.5, Interval(Real, 0.0, 1.0, closed="neither")),
    "loss__alpha_deletion": (None, Interval(Real, 0.0, none=True)),
    "loss__alpha_diversity": (0.0, Interval(Real, 0.0)),
    "loss__alpha_mi": (0.0, Interval(Real, 0.0)),
    "loss__sigma": (1.0, Interval(Real, 0.0, None, closed="neither")),
    "schedule__evaluator_fraction": (0.85, Interval(Real, 0.0, 1.0, closed="right")),
    "schedule__context_rate": (0.3, _FRACTION),
    "schedule__dense_fraction": (0.5, _FRACTION),
    "optimizer__weight_decay": (0.0, Interval(Real, 0.0)),
    "early_stopping__patience": (5, Interval(Integral, 1)),
    "early_stopping__validation_fraction": (0.1, Interval(Real, 0.0, 1.0, closed="neither")),
}


def grouped_name_problem(name: str) -> str | None:
    """Why ``name`` is not a grouped setting (``<group>__<name>``), or None if it is one.

    Parameters
    ----------
    name : str
        A keyword argument of the constructor or of ``set_params``.

    Returns
    -------
    str or None
        Names the grouped setting that replaced a former top-level name, or the settings.
    """
    if name in GROUPED_PARAMETERS or name.startswith("optimizer__"):
        return None
    renamed = [full for full in GROUPED_PARAMETERS if full.split("__", 1)[1] == name]
    if renamed:
        return f"it is a component setting, pass it as {renamed[0]}=..."
    known = ", ".join(GROUPED_PARAMETERS)
    return (
        "it is neither an argument of the constructor nor a component setting; component "
        f"settings are {known}, or optimizer__<any argument of the optimiser>"
    )


def grouped(est, name: str):
    """The value of the grouped setting ``name`` of ``est``: as set, else its default.

    Parameters
    ----------
    est : InfluenceBase
        The estimator (only read).
    name : str
        ``"<group>__<name>"``, a key of :data:`GROUPED_PARAMETERS`.

    Returns
    -------
    object
    """
    settings = est._component_settings
    return settings[name] if name in settings else GROUPED_PARAMETERS[name][0]


def group_settings(est, group: str) -> dict:
    """The settings of one group of ``est`` as keyword arguments, without the prefix.

    Parameters
    ----------
    est : InfluenceBase
        The estimator (only read).
    group : str
        One of :data:`GROUPS`.

    Returns
    -------
    dict
        Every setting of :data:`GROUPED_PARAMETERS` in the group (as set, else its
        default), plus, for ``"optimizer"``, every other ``optimizer__<name>`` that was set.
    """
    prefix = f"{group}__"
    names = [name for name in GROUPED_PARAMETERS if name.startswith(prefix)]
    if group == "optimizer":
        names += sorted(n for n in est._component_settings if n.startswith(prefix))
    return {name.removeprefix(prefix): grouped(est, name) for name in dict.fromkeys(names)}


def check_params(est) -> None:
    """Validate every hyper-parameter of the estimator ``est``.

    Parameters
    ----------
    est : InfluenceBase
        The estimator whose parameters are checked (it is not changed).

    Raises
    ------
    ValueError, TypeError
        Naming the first invalid parameter and what was expected.
    """
    k = est.k
    if isinstance(k, bool) or not isinstance(k, Real):
        raise TypeError(
            "k must be an int >= 1 (a number of timestamps) or a float in (0, 1] (a "
            f"fraction of the series length), got {k!r}."
        )
    if isinstance(k, Integral) and k < 1:
        raise ValueError(
            f"k must be >= 1 when it is an int (a number of timestamps), got {k}; use a "
            "float in (0, 1] for a fraction of the series length."
        )
    if not isinstance(k, Integral) and not 0.0 < float(k) <= 1.0:
        raise ValueError(
            f"k must be in (0, 1] when it is a float (a fraction of the series length), "
            f"got {k}; use an int >= 1 for a number of timestamps."
        )
    if isinstance(est.selection_method, str):
        Options(SELECTION_METHODS).check("selection_method", est.selection_method)
    elif not isinstance(est.selection_method, nn.Module):
        raise TypeError(
            "selection_method must be 'topk', 'gumbel', 'threshold' or a torch.nn.Module "
            f"mapping scores (n, T) to a mask (n, T); got {est.selection_method!r}."
        )
    for name, constraint in PARAMETER_CONSTRAINTS.items():
        constraint.check(name, getattr(est, name))
    for name in est._component_settings:
        problem = grouped_name_problem(name)
        if problem:
            raise ValueError(f"{type(est).__name__} has no parameter {name!r}: {problem}.")
    for name, (_, constraint) in GROUPED_PARAMETERS.items():
        constraint.check(name, grouped(est, name))
    hidden_dim, num_heads = grouped(est, "module__hidden_dim"), grouped(est, "module__num_heads")
    if hidden_dim % num_heads:
        raise ValueError(
            f"module__hidden_dim={hidden_dim} must be divisible by module__num_heads={num_heads}."
        )
    kind = predictor_kind(est.predictor)
    if kind is None and not (isinstance(est.predictor, str) and est.predictor in PREDICTORS):
        raise ValueError(
            "predictor must be 'cnn', 'attention', 'mlp', a torch.nn.Module or (with "
            "freeze_predictor=True) a fitted scikit-learn-compatible estimator or a callable; "
            f"got {est.predictor!r}."
        )
    if est.prediction == "full" and est.training_scheme != "two_stage" and not est.freeze_predictor:
        raise ValueError(
            "prediction='full' predicts with the full-series teacher that "
            "training_scheme='two_stage' trains first; training_scheme="
            f"{est.training_scheme!r} has none (or set freeze_predictor=True to predict with "
            "your own model)."
        )
    if not (
        est.optimizer in OPTIMIZERS
        or (isinstance(est.optimizer, type) and issubclass(est.optimizer, torch.optim.Optimizer))
    ):
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer "
            f"subclass, got {est.optimizer!r}."
        )
    accepted = inspect.signature(OPTIMIZERS.get(est.optimizer, est.optimizer)).parameters
    for name in group_settings(est, "optimizer"):
        if name in ("params", "lr") or name not in accepted:
            raise ValueError(
                f"optimizer__{name} is not an argument of the optimiser "
                f"{OPTIMIZERS.get(est.optimizer, est.optimizer).__name__}"
                + (" (set lr directly)." if name == "lr" else ".")
            )
    if est.freeze_predictor and kind is None:
        raise ValueError(
            "freeze_predictor=True explains a fitted model: pass it as predictor=<your "
            "torch.nn.Module, fitted scikit-learn-compatible estimator or callable>."
        )
    if kind in ("sklearn", "callable"):
        if not est.freeze_predictor:
            raise ValueError(
                f"predictor={est.predictor!r} is not a torch module, so tsinfluence cannot "
                "train it: set freeze_predictor=True to explain this fitted model as it is."
            )
        if est.selector_gradient != "score_function":
            raise ValueError(
                f"selector_gradient={est.selector_gradient!r} needs the gradient of the "
                f"predictor, but {type(est.predictor).__name__} is not a torch module and has "
                "none; use selector_gradient='score_function' (the default)."
            )
        if not (
            isinstance(est.selection_method, str) and est.selection_method in ("topk", "gumbel")
        ):
            raise ValueError(
                f"selection_method={est.selection_method!r} cannot be trained against a model "
                "without gradient; use 'topk' or 'gumbel' (score-function gradients)."
            )


def torch_device(device) -> torch.device:
    """The torch device of the ``device`` parameter, checked to exist on this machine.

    Parameters
    ----------
    device : str, torch.device or None
        The estimator's ``device`` (None means ``"cpu"``).

    Returns
    -------
    torch.device
    """
    expected = "expected 'cpu', 'cuda', 'cuda:<index>', 'mps' or a torch.device"
    if device is not None and not isinstance(device, str | torch.device):
        raise TypeError(f"device must be a string or a torch.device ({expected}), got {device!r}.")
    try:
        resolved = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device={device!r} is not a valid torch device; {expected}.") from None
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={device!r} is not supported; {expected}.")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine; use device='cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was requested but MPS is not available on this "
            "machine; use device='cpu'."
        )
    return resolved
