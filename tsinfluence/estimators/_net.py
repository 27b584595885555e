"""The private skorch net behind the estimators, and its training callbacks."""

from __future__ import annotations

import math

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.utils import to_tensor

from ..nn.framework import InfluenceFramework

__all__ = [
    "LOSS_COMPONENTS",
    "FinalPhaseEarlyStopping",
    "InfluenceNet",
    "PhaseLog",
    "PhaseSchedule",
]

#: Loss components recorded per batch and averaged per epoch in the history.
LOSS_COMPONENTS = ("task", "diversity", "mi", "budget", "deletion")


class InfluenceNet(NeuralNet):
    """A skorch ``NeuralNet`` whose module returns ``(prediction, mask, scores)``.

    ``get_loss`` asks the module (an :class:`InfluenceFramework`) for the total loss of its
    current phase and records each component in the history as ``train_<name>`` /
    ``valid_<name>``.
    """

    # ``module`` is the very instance trained as ``module_``, and early stopping keeps copies
    # of the weights in ``callbacks_``: pickle them through skorch's device-mapping path too
    # (skorch adds ``module_``, ``criterion_``, ``optimizer_``), so a net trained on CUDA
    # unpickles on a CPU-only machine.
    cuda_dependent_attributes_ = ["module", "callbacks"]

    def get_loss(self, y_pred, y_true, X=None, training=False):
        module: InfluenceFramework = self.module_
        x = to_tensor(X["x"], device=self.device)
        padding_mask = to_tensor(X["padding_mask"], device=self.device)
        y_true = to_tensor(y_true, device=self.device)
        total, parts = module.compute_loss(y_pred, x, y_true, padding_mask)
        if training and not total.requires_grad and module.objective == "fidelity":
            raise ValueError(
                "The training loss has no gradient: the frozen predictor's output does not "
                "depend differentiably on its input (e.g. it leaves torch), so "
                f"selector_gradient={module.selector_gradient!r} cannot train the selector; "
                "use selector_gradient='score_function' (the default) with selection_method "
                "'topk' or 'gumbel'."
            )
        if training and not total.requires_grad:
            raise ValueError(
                f"The training loss of the {module.phase!r} phase has no gradient. A custom "
                "selection_method module must return a mask through which the gradient "
                "reaches the scores (e.g. hard + scores - scores.detach())."
            )
        prefix = "train_" if training else "valid_"
        for name in LOSS_COMPONENTS:
            self.history.record_batch(prefix + name, float(parts[name]))
        return total

    def predict(self, X):
        """Encoded class indices (classification) or standardised means (regression).

        Lets skorch scoring callbacks such as ``EpochScoring("accuracy")`` work on the
        encoded targets the net is trained on.
        """
        raw = self.predict_proba(X)
        return raw.argmax(axis=1) if self.module_.task == "classification" else raw[:, 0]

    def initialize_optimizer(self, *args, **kwargs):
        """A fresh optimiser over the parameters that currently require gradient.

        Called again by :class:`PhaseSchedule` at every phase switch, so the selector phase
        starts without the evaluator phase's moment estimates (measured: a carried-over
        Adam state made the selector phase oscillate).
        """
        named = [(n, p) for n, p in self.get_all_learnable_params() if p.requires_grad]
        args, kwargs = self.get_params_for_optimizer("optimizer", named)
        self.optimizer_ = self.optimizer(*args, **kwargs)
        return self


class PhaseSchedule(Callback):
    """Switch the module between training phases and run the selector-phase curricula.

    Parameters
    ----------
    scheme : {"joint", "two_stage", "frozen"}
        ``"joint"`` trains selector and predictor together for all epochs.
        ``"two_stage"`` first trains the predictor (``evaluator_fraction`` of the epochs):
        the first half as a full-series teacher, the second half as an evaluator on random
        masks, warm-started from the teacher's weights and distilled from its predictions;
        then the selector against the evaluator, frozen.
        ``"frozen"`` trains only the selector, for all epochs (black-box mode).
    evaluator_fraction : float
        Share of the epochs spent training the predictor in ``"two_stage"``.
    context_rate : float, default=0.0
        Initial random-context rate of the selector phase (see
        :attr:`InfluenceFramework.context_rate`).
    dense_fraction : float, default=0.0
        Initial dense-to-sparse widening of the budget in the selector phase (see
        :attr:`InfluenceFramework.dense_fraction`).
    anneal_fraction : float, default=0.5
        Share of the selector-phase epochs over which both are annealed linearly to 0; the
        remaining epochs train at the target budget without context.

    The optimiser is re-created at every phase switch (see
    :meth:`InfluenceNet.initialize_optimizer`), and the learning rate decays from ``lr``
    along a half cosine within each phase.
    """

    def __init__(
        self,
        scheme: str = "two_stage",
        evaluator_fraction: float = 0.5,
        context_rate: float = 0.0,
        dense_fraction: float = 0.0,
        anneal_fraction: float = 0.5,
    ) -> None:
        self.scheme = scheme
        self.evaluator_fraction = evaluator_fraction
        self.context_rate = context_rate
        self.dense_fraction = dense_fraction
        self.anneal_fraction = anneal_fraction

    def n_evaluator_epochs(self, max_epochs: int) -> int:
        """Epochs of the evaluator phase."""
        if self.scheme != "two_stage":
            return 0
        return min(max(1, round(self.evaluator_fraction * max_epochs)), max_epochs - 1)

    def phase_bounds(self, max_epochs: int) -> dict[str, tuple[int, int]]:
        """``{phase: (first epoch, end epoch)}`` of the phases that run, in order."""
        if self.scheme == "joint":
            return {"joint": (0, max_epochs)}
        n_pred = self.n_evaluator_epochs(max_epochs)
        n_teacher = n_pred // 2
        bounds = {"teacher": (0, n_teacher), "evaluator": (n_teacher, n_pred)}
        bounds["selector"] = (n_pred, max_epochs)
        return {phase: (a, b) for phase, (a, b) in bounds.items() if b > a}

    def phase_at(self, epoch: int, max_epochs: int) -> str:
        """The phase of 0-based ``epoch`` out of ``max_epochs``."""
        for phase, (_, end) in self.phase_bounds(max_epochs).items():
            if epoch < end:
                return phase
        return "joint" if self.scheme == "joint" else "selector"

    def lr_factor_at(self, epoch: int, max_epochs: int) -> float:
        """Learning-rate multiplier of ``epoch``: a half cosine from 1 within its phase."""
        start, end = self.phase_bounds(max_epochs).get(
            self.phase_at(epoch, max_epochs), (epoch, epoch + 1)
        )
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - start) / max(end - start, 1)))

    def anneal_at(self, epoch: int, max_epochs: int) -> float:
        """Multiplier in [0, 1] of the curricula at ``epoch`` (1 at the selector phase's start)."""
        start = self.n_evaluator_epochs(max_epochs)
        n_sel = max(max_epochs - start, 1)
        span = self.anneal_fraction * n_sel
        if epoch < start or span <= 0:
            return 0.0 if epoch >= start else 1.0
        return max(0.0, 1.0 - (epoch - start) / span)

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        module = net.module_
        phase = self.phase_at(epoch, net.max_epochs)
        if phase != module.phase:
            if phase == "evaluator" and module.phase == "teacher":
                module.start_distillation()
            elif phase != "evaluator":
                module.drop_teacher()
            module.set_phase(phase)
            net.initialize_optimizer()
        lr_factor = self.lr_factor_at(epoch, net.max_epochs)
        for group in net.optimizer_.param_groups:
            group["lr"] = net.lr * lr_factor
        factor = self.anneal_at(epoch, net.max_epochs) if phase == "selector" else 0.0
        module.context_rate = self.context_rate * factor
        module.dense_fraction = self.dense_fraction * factor
        net.history.record("phase", phase)

    def on_train_end(self, net, **kwargs):
        net.module_.drop_teacher()
        net.module_.context_rate = 0.0
        net.module_.dense_fraction = 0.0
        for p in net.module_.parameters():
            p.requires_grad_(True)


class PhaseLog(Callback):
    """Print one line per training phase: its epochs, last training loss and seconds.

    What ``verbose=1`` shows (``verbose=2`` prints skorch's table of every epoch).

    Parameters
    ----------
    sink : callable
        Receives each line.
    """

    def __init__(self, sink) -> None:
        self.sink = sink

    def _report(self, net, end: int) -> None:
        rows = net.history[self.start_ : end]
        if not rows:
            return
        line = (
            f"{rows[0]['phase']:>9} phase: epochs {self.start_ + 1}-{end}, "
            f"train loss {rows[-1]['train_loss']:.4f}, {sum(r['dur'] for r in rows):.1f} s"
        )
        if "valid_loss" in rows[-1]:
            line += f", valid loss {rows[-1]['valid_loss']:.4f}"
        self.sink(line)

    def on_train_begin(self, net, **kwargs):
        self.start_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        history = net.history
        last = len(history) - 1
        if last >= 1 and history[-2, "phase"] != history[-1, "phase"]:
            self._report(net, last)
            self.start_ = last

    def on_train_end(self, net, **kwargs):
        self._report(net, len(net.history))


class FinalPhaseEarlyStopping(EarlyStopping):
    """``EarlyStopping`` that only watches the last training phase.

    The validation loss of the evaluator phase measures another objective, so the best
    epoch is searched for (and restored) among the epochs of the final phase only.
    """

    def on_epoch_end(self, net, **kwargs):
        if net.history[-1, "phase"] in ("teacher", "evaluator"):
            return
        if len(net.history) < 2 or net.history[-2, "phase"] != net.history[-1, "phase"]:
            self.misses_ = 0
            self.dynamic_threshold_ = float("inf") if self.lower_is_better else -float("inf")
            self.best_model_weights_ = None
        super().on_epoch_end(net, **kwargs)


def device_list(device) -> list[int]:
    """CUDA device indices ``torch.random.fork_rng`` must save for ``device``."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type != "cuda":
        return []
    return [dev.index if dev.index is not None else torch.cuda.current_device()]
