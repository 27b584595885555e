"""Hyper-parameter validation of the influence estimators (sklearn: in ``fit``)."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

from .._validation import check_param
from ..nn.framework import SELECTOR_GRADIENTS
from ..nn.heads import BASELINES
from ..nn.selection import SELECTION_METHODS
from ..nn.selector import SCORERS
from ._blackbox import predictor_kind

__all__ = [
    "DTYPES",
    "OPTIMIZERS",
    "TRAINING_SCHEMES",
    "check_params",
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
    if isinstance(k, bool) or not isinstance(k, numbers.Real):
        raise TypeError(
            "k must be an int >= 1 (a number of timestamps) or a float in (0, 1] (a "
            f"fraction of the series length), got {k!r}."
        )
    if isinstance(k, numbers.Integral) and k < 1:
        raise ValueError(
            f"k must be >= 1 when it is an int (a number of timestamps), got {k}; use a "
            "float in (0, 1] for a fraction of the series length."
        )
    if not isinstance(k, numbers.Integral) and not 0.0 < float(k) <= 1.0:
        raise ValueError(
            f"k must be in (0, 1] when it is a float (a fraction of the series length), "
            f"got {k}; use an int >= 1 for a number of timestamps."
        )
    if isinstance(est.selection_method, str):
        check_param("selection_method", est.selection_method, "option", options=SELECTION_METHODS)
    elif not isinstance(est.selection_method, nn.Module):
        raise TypeError(
            "selection_method must be 'topk', 'gumbel', 'threshold' or a torch.nn.Module "
            f"mapping scores (n, T) to a mask (n, T); got {est.selection_method!r}."
        )
    check_param("scorer", est.scorer, "option", options=SCORERS)
    check_param("temperature", est.temperature, numbers.Real, low=0.0, include_low=False)
    check_param("threshold", est.threshold, numbers.Real, low=0.0, high=1.0, include_low=False)
    check_param("hidden_dim", est.hidden_dim, numbers.Integral, low=1)
    check_param("num_heads", est.num_heads, numbers.Integral, low=1)
    if est.hidden_dim % est.num_heads:
        raise ValueError(
            f"hidden_dim={est.hidden_dim} must be divisible by num_heads={est.num_heads}."
        )
    check_param("num_layers", est.num_layers, numbers.Integral, low=0)
    check_param("dropout", est.dropout, numbers.Real, low=0.0, high=1.0)
    check_param(
        "positional_encoding",
        est.positional_encoding,
        "option",
        options=("sinusoidal", "learned", None),
    )
    kind = predictor_kind(est.predictor)
    if kind is None and est.predictor not in ("cnn", "attention", "mlp"):
        raise ValueError(
            "predictor must be 'cnn', 'attention', 'mlp', a torch.nn.Module or (with "
            "freeze_predictor=True) a fitted scikit-learn-compatible estimator or a callable; "
            f"got {est.predictor!r}."
        )
    check_param("training_scheme", est.training_scheme, "option", options=TRAINING_SCHEMES)
    check_param(
        "evaluator_fraction",
        est.evaluator_fraction,
        numbers.Real,
        low=0.0,
        high=1.0,
        include_low=False,
    )
    for name in ("context_rate", "dense_fraction"):
        check_param(name, getattr(est, name), numbers.Real, low=0.0, high=1.0)
    check_param("baseline", est.baseline, "option", options=BASELINES)
    if est.alpha_deletion is not None:
        check_param("alpha_deletion", est.alpha_deletion, numbers.Real, low=0.0)
    check_param("selector_gradient", est.selector_gradient, "option", options=SELECTOR_GRADIENTS)
    for name in ("alpha_diversity", "alpha_mi", "weight_decay"):
        check_param(name, getattr(est, name), numbers.Real, low=0.0)
    check_param("sigma", est.sigma, numbers.Real, low=0.0, include_low=False)
    if est.max_epochs is not None:
        check_param("max_epochs", est.max_epochs, numbers.Integral, low=1)
    check_param("lr", est.lr, numbers.Real, low=0.0, include_low=False)
    check_param("batch_size", est.batch_size, numbers.Integral, low=1)
    if not (
        est.optimizer in OPTIMIZERS
        or (isinstance(est.optimizer, type) and issubclass(est.optimizer, torch.optim.Optimizer))
    ):
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)} or a torch.optim.Optimizer "
            f"subclass, got {est.optimizer!r}."
        )
    if est.gradient_clip is not None:
        check_param("gradient_clip", est.gradient_clip, numbers.Real, low=0.0, include_low=False)
    check_param("patience", est.patience, numbers.Integral, low=1)
    check_param(
        "validation_fraction",
        est.validation_fraction,
        numbers.Real,
        low=0.0,
        high=1.0,
        include_low=False,
    )
    check_param("transform_mode", est.transform_mode, "option", options=("global", "per_sample"))
    check_param("transform_shape", est.transform_shape, "option", options=("2d", "3d"))
    check_param("precision", est.precision, "option", options=DTYPES)
    check_param("verbose", est.verbose, numbers.Integral, low=0)
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
