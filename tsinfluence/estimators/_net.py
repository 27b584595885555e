"""The private skorch net behind the estimators, and its training callbacks."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.utils import to_tensor

from ..nn.framework import InfluenceFramework

__all__ = [
    "LOSS_COMPONENTS",
    "AdaptGuard",
    "FINAL_TEMPERATURE_SCALE",
    "FinalPhaseEarlyStopping",
    "InfluenceNet",
    "PhaseLog",
    "PhaseSchedule",
    "TEACHER_SHARE",
]

#: Share of the epochs of a ``"two_stage"`` fit spent in the ``"adapt"`` phase (taken from
#: the predictor's share ``schedule__evaluator_fraction``): 400 of the 3,200 steps of a default fit.
ADAPT_FRACTION = 1 / 8

#: Share of the teacher in the predictor's epochs before the selector phase (the evaluator
#: has the rest): a teacher given twice the evaluator's steps was measured more accurate,
#: and so was the evaluator warm-started from it (``benchmarks/RESULTS.md``, accuracy
#: analysis).
TEACHER_SHARE = 2 / 3

#: Where the selector phase's sampling temperature ends, as a multiple of the selection
#: temperature: it is annealed geometrically from 1 to this over the phase, so the subsets
#: sampled for score-function gradients approach the top-k used at prediction (measured
#: against a constant temperature in ``benchmarks/RESULTS.md``, accuracy analysis). The
#: influence scores are the inclusion probabilities at this final temperature.
FINAL_TEMPERATURE_SCALE = 0.25

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

    #: Weight of each (encoded) class when training batches are drawn (``class_weight``), or
    #: None: batches are then shuffled. Set by ``_build.build_net``.
    class_weights_: np.ndarray | None = None

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

    def get_iterator(self, dataset, training=False):
        """Batches of ``dataset``; with ``class_weights_``, training batches are drawn by class.

        Each training series is drawn with probability proportional to its class's weight,
        with replacement, as many times per epoch as there are series: every phase's loss
        (teacher, evaluator, selector rewards, adapt) is then, in expectation, the
        class-weighted loss, without a weight in any of them.
        """
        if not training or self.class_weights_ is None:
            return super().get_iterator(dataset, training=training)
        weights = torch.as_tensor(self.class_weights_[series_targets(dataset)])
        sampler = torch.utils.data.WeightedRandomSampler(weights, len(weights))
        kwargs = self.get_params_for("iterator_train")
        kwargs.pop("shuffle", None)  # the sampler draws the order
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return self.iterator_train(dataset, sampler=sampler, **kwargs)

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


def series_targets(dataset) -> np.ndarray:
    """The encoded targets of a skorch ``Dataset``, or of a ``Subset`` of one (a split)."""
    if isinstance(dataset, torch.utils.data.Subset):
        return series_targets(dataset.dataset)[np.asarray(dataset.indices)]
    return np.asarray(dataset.y)


class PhaseSchedule(Callback):
    """Switch the module between training phases and run the selector-phase curricula.

    Parameters
    ----------
    scheme : {"joint", "two_stage", "frozen"}
        ``"joint"`` trains selector and predictor together for all epochs.
        ``"two_stage"`` first trains the predictor (``evaluator_fraction`` of the epochs,
        less the :data:`ADAPT_FRACTION` of the last phase): first (:data:`TEACHER_SHARE`) as
        a full-series teacher, then as an evaluator on random masks, warm-started from the
        teacher's weights and distilled from its predictions; then the selector against the
        evaluator, frozen; then (``"adapt"``) the predictor again, on the frozen selector's
        selections of other series.
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
    keep_teacher : bool, default=False
        Keep the full-series teacher after training (``"two_stage"``), for a model that
        predicts with it (an estimator's ``prediction="full"``).

    The optimiser is re-created at every phase switch (see
    :meth:`InfluenceNet.initialize_optimizer`); the selector phase's sampling temperature
    is annealed (:meth:`temperature_scale_at`), its last value kept as the module's
    ``influence_temperature_scale`` (the influence scores are the inclusion probabilities
    at the temperature the selector was last trained at), and the learning rate decays
    from ``lr`` along a half cosine within each phase.
    """

    def __init__(
        self,
        scheme: str = "two_stage",
        evaluator_fraction: float = 0.5,
        context_rate: float = 0.0,
        dense_fraction: float = 0.0,
        anneal_fraction: float = 0.5,
        keep_teacher: bool = False,
    ) -> None:
        self.scheme = scheme
        self.evaluator_fraction = evaluator_fraction
        self.context_rate = context_rate
        self.dense_fraction = dense_fraction
        self.anneal_fraction = anneal_fraction
        self.keep_teacher = keep_teacher

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
        n_adapt = round(ADAPT_FRACTION * max_epochs) if n_pred else 0
        if n_pred - n_adapt < 2:  # too short to split: no adapt phase
            n_adapt = 0
        n_first = n_pred - n_adapt  # teacher and evaluator; the evaluator gets at least one
        n_teacher = max(min(round(TEACHER_SHARE * n_first), n_first - 1), 0)
        end_selector = max_epochs - n_adapt
        bounds = {
            "teacher": (0, n_teacher),
            "evaluator": (n_teacher, n_pred - n_adapt),
            "selector": (n_pred - n_adapt, end_selector),
            "adapt": (end_selector, max_epochs),
        }
        return {phase: (a, b) for phase, (a, b) in bounds.items() if b > a}

    def final_phase(self, max_epochs: int) -> str:
        """The phase of the last epoch (the one early stopping watches)."""
        return list(self.phase_bounds(max_epochs))[-1]

    def phase_at(self, epoch: int, max_epochs: int) -> str:
        """The phase of 0-based ``epoch`` out of ``max_epochs``."""
        for phase, (_, end) in self.phase_bounds(max_epochs).items():
            if epoch < end:
                return phase
        return self.final_phase(max_epochs)

    def lr_factor_at(self, epoch: int, max_epochs: int) -> float:
        """Learning-rate multiplier of ``epoch``: a half cosine from 1 within its phase."""
        start, end = self.phase_bounds(max_epochs).get(
            self.phase_at(epoch, max_epochs), (epoch, epoch + 1)
        )
        return 0.5 * (1.0 + math.cos(math.pi * (epoch - start) / max(end - start, 1)))

    def anneal_at(self, epoch: int, max_epochs: int) -> float:
        """Multiplier in [0, 1] of the curricula at ``epoch`` (1 at the selector phase's start)."""
        start, end = self.phase_bounds(max_epochs).get("selector", (max_epochs, max_epochs))
        n_sel = max(end - start, 1)
        span = self.anneal_fraction * n_sel
        if epoch < start or span <= 0:
            return 0.0 if epoch >= start else 1.0
        return max(0.0, 1.0 - (epoch - start) / span)

    def temperature_scale_at(self, epoch: int, max_epochs: int) -> float:
        """Sampling-temperature multiplier at ``epoch`` (1 outside the selector phase).

        Decreases geometrically from 1 at the selector phase's first epoch to
        :data:`FINAL_TEMPERATURE_SCALE` at its last.
        """
        start, end = self.phase_bounds(max_epochs).get("selector", (max_epochs, max_epochs))
        if not start <= epoch < end:
            return 1.0
        return FINAL_TEMPERATURE_SCALE ** ((epoch - start) / max(end - start - 1, 1))

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        module = net.module_
        phase = self.phase_at(epoch, net.max_epochs)
        if phase != module.phase:
            if phase == "evaluator" and module.phase == "teacher":
                module.start_distillation()
            elif phase != "evaluator" and not self.keep_teacher:
                module.drop_teacher()
            module.set_phase(phase)
            net.initialize_optimizer()
        lr_factor = self.lr_factor_at(epoch, net.max_epochs)
        for group in net.optimizer_.param_groups:
            group["lr"] = net.lr * lr_factor
        factor = self.anneal_at(epoch, net.max_epochs) if phase == "selector" else 0.0
        module.context_rate = self.context_rate * factor
        module.dense_fraction = self.dense_fraction * factor
        module.temperature_scale = self.temperature_scale_at(epoch, net.max_epochs)
        if module.uses_score_function():  # influence scores: the last sampling temperature
            module.influence_temperature_scale = module.temperature_scale
        net.history.record("phase", phase)

    def on_train_end(self, net, **kwargs):
        if not self.keep_teacher:
            net.module_.drop_teacher()
        net.module_.context_rate = 0.0
        net.module_.dense_fraction = 0.0
        net.module_.temperature_scale = 1.0
        for p in net.module_.parameters():
            p.requires_grad_(True)


class AdaptGuard(Callback):
    """Undo the ``"adapt"`` phase when it did not help the model as it predicts.

    The adapt phase trains the predictor on *other* series' selections. Where the selected
    steps are at the same places in every series (aligned real data) those teach it the
    selector's subsets; where each series has its own (an event at a random time), they
    show it the wrong steps, and the predictor may get worse on its own selections. At the
    start of the phase the predictor's weights and its mean loss on the selector's own
    selections (:meth:`InfluenceFramework.selection_loss`, weighted by ``class_weight``; on
    the validation split if there is one, else on the training series) are kept; at the end
    of training the weights are restored if that loss went up. Records ``adapt_kept`` (bool)
    in the last history row.
    """

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        module = net.module_
        if module.phase != "adapt" or getattr(self, "weights_", None) is not None:
            return
        self.data_ = dataset_valid if dataset_valid is not None else dataset_train
        self.weights_ = copy.deepcopy(module.predictor.state_dict())
        self.loss_ = self._selection_loss(net)

    def _selection_loss(self, net) -> float:
        module = net.module_
        was_training = module.training
        module.eval()
        total, count = 0.0, 0.0
        for batch_x, batch_y in net.get_iterator(self.data_, training=False):
            x = to_tensor(batch_x["x"], device=net.device)
            padding_mask = to_tensor(batch_x["padding_mask"], device=net.device)
            loss = module.selection_loss(x, to_tensor(batch_y, device=net.device), padding_mask)
            weight = torch.ones_like(loss)  # the series' class weight, as in training
            if net.class_weights_ is not None:
                weight = torch.as_tensor(
                    net.class_weights_[np.asarray(batch_y)], dtype=loss.dtype, device=loss.device
                )
            total += float((loss * weight).sum())
            count += float(weight.sum())
        module.train(was_training)
        return total / max(count, 1e-12)

    def on_train_end(self, net, **kwargs):
        if getattr(self, "weights_", None) is None:
            return
        kept = self._selection_loss(net) <= self.loss_
        if not kept:
            net.module_.predictor.load_state_dict(self.weights_)
        net.history.record("adapt_kept", kept)
        # no data or weights stay in the fitted net
        self.data_ = self.weights_ = self.loss_ = None


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
        if rows[-1].get("adapt_kept") is False:
            line += " (undone: no gain on the selector's own selections)"
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

    The validation losses of the earlier phases measure other objectives (and stopping
    there would skip the phases after them), so the best epoch is searched for (and
    restored) among the epochs of the final phase of the net's :class:`PhaseSchedule` only.
    """

    def on_epoch_end(self, net, **kwargs):
        schedule = dict(net.callbacks_)["phase"]
        if net.history[-1, "phase"] != schedule.final_phase(net.max_epochs):
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
