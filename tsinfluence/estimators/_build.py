"""Construction of the torch module and the skorch net of the influence estimators.

Includes the black-box (``freeze_predictor=True``) set-up: the mask baseline built from
the training data and the check that the frozen model's outputs fit the task.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from sklearn.base import is_classifier
from skorch.callbacks import GradientNormClipping, PassthroughScoring
from skorch.dataset import ValidSplit
from torch import nn

from ..nn.adapters import MaskBaseline
from ..nn.framework import InfluenceFramework
from ._net import (
    LOSS_COMPONENTS,
    AdaptGuard,
    FinalPhaseEarlyStopping,
    InfluenceNet,
    PhaseLog,
    PhaseSchedule,
)
from ._params import DTYPES, OPTIMIZERS, group_settings, grouped

#: Most training series kept by ``baseline="sample"`` to draw fills from.
SAMPLE_BANK_SIZE = 512

__all__ = [
    "TRAINING_STEPS",
    "build_evaluator_net",
    "build_module",
    "build_net",
    "check_frozen_output",
    "training_epochs",
]

#: Optimiser steps of a default fit (``max_epochs=None``), all phases together: counted in
#: steps, not epochs, so that 50 training series get as much training as 5,000.
TRAINING_STEPS = 3200

#: Fewest epochs of a default fit, so large data sets see every series a few times per phase.
MIN_EPOCHS = 10


def _baseline(est, n_timestamps: int, n_channels: int, X: np.ndarray | None) -> MaskBaseline:
    """The fill of unselected steps of a frozen model, from the training series ``X``."""
    mean = std = data = None
    if X is not None:
        mean = torch.as_tensor(X.mean(axis=0), dtype=torch.float32)
        std = torch.as_tensor(X.std(axis=0), dtype=torch.float32)
        if est.baseline == "sample":
            rng = np.random.default_rng(0)
            keep = np.sort(rng.permutation(len(X))[:SAMPLE_BANK_SIZE])
            data = torch.as_tensor(X[keep], dtype=torch.float32)
    return MaskBaseline(est.baseline, n_timestamps, n_channels, mean, std, data)


def build_module(
    est, n_timestamps: int, n_channels: int, X: np.ndarray | None = None, black_box=None
) -> InfluenceFramework:
    """The untrained :class:`InfluenceFramework` described by the parameters of ``est``.

    Parameters
    ----------
    est : InfluenceBase
        The estimator (only read).
    n_timestamps, n_channels : int
        Shape of the series.
    X : ndarray of shape (n_samples, n_timestamps, n_channels), optional
        Training series; in black-box mode their per-step mean and standard deviation (and,
        for ``baseline="sample"``, up to :data:`SAMPLE_BANK_SIZE` of them) parametrise the
        mask baseline.
    black_box : callable, optional
        A model without gradient (``_blackbox.BlackBoxModel``) to use as the frozen
        predictor instead of ``est.predictor``.

    Returns
    -------
    InfluenceFramework
        In the dtype of ``est.precision``; a user predictor or selection module is copied.
    """
    predictor = est.predictor
    baseline = None
    if black_box is not None:
        predictor = black_box
        baseline = _baseline(est, n_timestamps, n_channels, X)
    elif est._user_predictor() is not None:
        # A copy: the user's model (weights, mode, flags, device) is never touched.
        predictor = copy.deepcopy(est._user_predictor())
        if est.freeze_predictor:
            baseline = _baseline(est, n_timestamps, n_channels, X)
    selection = est.selection_method
    module = InfluenceFramework(
        n_channels,
        selection_method=selection if isinstance(selection, str) else "topk",
        k=est._k_param(),
        task_loss_fn=est._task_loss(),
        use_counterfactual=False,
        output_dim=est._output_dim(),
        task=est._task,
        predictor=predictor,
        alpha_diversity=grouped(est, "loss__alpha_diversity"),
        alpha_mi=grouped(est, "loss__alpha_mi"),
        use_mi=grouped(est, "loss__alpha_mi") > 0,
        sigma=grouped(est, "loss__sigma"),
        max_len=max(n_timestamps, 1),
        objective="fidelity" if est.freeze_predictor else "task",
        baseline=baseline,
        alpha_deletion=est._alpha_deletion(),
        selector_gradient=est.selector_gradient,
        scorer=est.scorer,
        fill="interpolate" if est.baseline == "interpolate" else "zeros",
        **group_settings(est, "module"),  # arguments of InfluenceFramework, by name
    )
    if isinstance(selection, nn.Module):
        module.selector.strategy = copy.deepcopy(selection)
    return module.to(DTYPES[est.precision][1])


def training_epochs(est, n_samples: int) -> int:
    """Epochs of a fit on ``n_samples`` series: ``max_epochs``, or the default budget.

    With ``max_epochs=None`` the budget is :data:`TRAINING_STEPS` optimiser steps (of which a
    black-box fit, which trains only the selector, takes the selector's share
    ``1 - evaluator_fraction``), and at least :data:`MIN_EPOCHS` epochs.

    Parameters
    ----------
    est : InfluenceBase
        The estimator (only read).
    n_samples : int
        Training series (before any validation split).

    Returns
    -------
    int
    """
    if est.max_epochs is not None:
        return int(est.max_epochs)
    n_train = (
        n_samples * (1.0 - grouped(est, "early_stopping__validation_fraction"))
        if est.early_stopping
        else n_samples
    )
    batches = max(math.ceil(n_train / int(est.batch_size)), 1)
    steps = TRAINING_STEPS
    if est.freeze_predictor:
        steps = TRAINING_STEPS * (1.0 - grouped(est, "schedule__evaluator_fraction"))
    return max(math.ceil(steps / batches), MIN_EPOCHS)


def build_net(
    est, module: InfluenceFramework, seed: int, device: torch.device, n_samples: int
) -> InfluenceNet:
    """The skorch net that trains ``module`` with the schedule and callbacks of ``est``.

    Parameters
    ----------
    est : InfluenceBase
        The estimator (only read).
    module : InfluenceFramework
        The module to train.
    seed : int
        Seed of the validation split (``early_stopping=True``).
    device : torch.device
        Where the net runs.
    n_samples : int
        Training series (sets the epochs of a default budget, see :func:`training_epochs`).

    Returns
    -------
    InfluenceNet
        Not initialised.
    """
    schedule = PhaseSchedule(
        "frozen" if est.freeze_predictor else est.training_scheme,
        grouped(est, "schedule__evaluator_fraction"),
        context_rate=grouped(est, "schedule__context_rate"),
        dense_fraction=grouped(est, "schedule__dense_fraction"),
        keep_teacher=est.prediction == "full",
    )
    callbacks = [("phase", schedule)]
    for name in LOSS_COMPONENTS:
        callbacks.append((f"train_{name}", PassthroughScoring(f"train_{name}", on_train=True)))
    # User callbacks score each epoch before early stopping may end training.
    callbacks.extend(copy.deepcopy(est.callbacks or []))
    train_split = None
    if est.early_stopping:
        train_split = ValidSplit(
            grouped(est, "early_stopping__validation_fraction"),
            stratified=is_classifier(est),
            random_state=seed,
        )
        callbacks.append(
            (
                "early_stopping",
                FinalPhaseEarlyStopping(
                    patience=grouped(est, "early_stopping__patience"),
                    load_best=True,
                    sink=est._sink,
                ),
            )
        )
    callbacks.extend(_clipping(est))
    max_epochs = training_epochs(est, n_samples)
    if "adapt" in schedule.phase_bounds(max_epochs):
        # after early stopping, which may restore the best adapt-phase weights first
        callbacks.append(("adapt_guard", AdaptGuard()))
    if est.verbose == 1:
        callbacks.append(("phase_log", PhaseLog(est._sink)))
    net = InfluenceNet(
        module=module,
        max_epochs=max_epochs,
        train_split=train_split,
        callbacks=callbacks,
        verbose=int(est.verbose >= 2),
        **_optimisation(est, device),
    )
    net.class_weights_ = est._batch_weights()
    return net


def build_evaluator_net(
    est, module: InfluenceFramework, device: torch.device, max_epochs: int
) -> InfluenceNet:
    """A net that trains only the predictor of ``module``, as an evaluator (EVAL-X).

    On random subsets of steps drawn independently of the data, with the task loss, for
    ``max_epochs`` epochs, with the optimiser, learning rate, batch size, gradient clipping
    and device of ``est`` and no validation split (:func:`tsinfluence.metrics.encoding_gap`).

    Parameters
    ----------
    est : InfluenceBase
        The estimator (only read).
    module : InfluenceFramework
        A fresh module without a teacher; set to the ``"evaluator"`` phase here.
    device : torch.device
        Where the net runs.
    max_epochs : int
        Training epochs.

    Returns
    -------
    InfluenceNet
        Not initialised.
    """
    module.set_phase("evaluator")
    module.objective = "task"
    return InfluenceNet(
        module=module,
        max_epochs=max_epochs,
        train_split=None,
        callbacks=_clipping(est),
        verbose=0,
        **_optimisation(est, device),
    )


def _clipping(est) -> list:
    if est.gradient_clip is None:
        return []
    return [("gradient_clip", GradientNormClipping(est.gradient_clip))]


def _optimisation(est, device: torch.device) -> dict:
    """The task loss, optimiser (with its settings), batches and device of a net of ``est``."""
    return {
        "criterion": est._task_loss(),
        "optimizer": OPTIMIZERS.get(est.optimizer, est.optimizer),
        **{f"optimizer__{name}": value for name, value in group_settings(est, "optimizer").items()},
        "lr": est.lr,
        "batch_size": est.batch_size,
        "iterator_train__shuffle": True,
        "device": device,
    }


def check_frozen_output(est, module: InfluenceFramework, X: np.ndarray) -> None:
    """Check that the frozen model maps ``(n, T, D)`` to the outputs the task of ``est`` needs.

    Parameters
    ----------
    est : InfluenceBase
        The estimator (only read).
    module : InfluenceFramework
        The built module holding the frozen predictor.
    X : ndarray of shape (n_samples, n_timestamps, n_channels)
        Training series; the first two are passed through the model.

    Raises
    ------
    ValueError
        If the model fails on the input or returns the wrong shape.
    """
    dtype = DTYPES[est.precision][1]
    x = torch.as_tensor(X[:2], dtype=dtype)
    try:
        with torch.no_grad():
            out = module.full_prediction(x)
    except Exception as exc:  # the user's model rejected the input
        raise ValueError(
            f"The frozen predictor failed on input of shape {tuple(x.shape)} "
            f"(n_samples, n_timestamps, n_channels): {exc}"
        ) from exc
    expected = est._frozen_output_dim()
    if out.dim() != 2 or out.shape[1] != expected:
        what = f"{expected} logits (one per class)" if expected > 1 else "one value"
        raise ValueError(
            f"The frozen predictor must return {what} per series, shape (n, {expected}); "
            f"got {tuple(out.shape)}."
        )
