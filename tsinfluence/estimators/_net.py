"""The private skorch net behind the estimators, and its training callbacks."""

from __future__ import annotations

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.utils import to_tensor

from ..nn.framework import InfluenceFramework

__all__ = ["LOSS_COMPONENTS", "FinalPhaseEarlyStopping", "InfluenceNet", "PhaseSchedule"]

#: Loss components recorded per batch and averaged per epoch in the history.
LOSS_COMPONENTS = ("task", "diversity", "mi", "budget")


class InfluenceNet(NeuralNet):
    """A skorch ``NeuralNet`` whose module returns ``(prediction, mask, scores)``.

    ``get_loss`` asks the module (an :class:`InfluenceFramework`) for the total loss of its
    current phase and records each component in the history as ``train_<name>`` /
    ``valid_<name>``.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        module: InfluenceFramework = self.module_
        x = to_tensor(X["x"], device=self.device)
        padding_mask = to_tensor(X["padding_mask"], device=self.device)
        y_true = to_tensor(y_true, device=self.device)
        total, parts = module.compute_loss(y_pred, x, y_true, padding_mask)
        prefix = "train_" if training else "valid_"
        for name in LOSS_COMPONENTS:
            self.history.record_batch(prefix + name, float(parts[name]))
        return total


class PhaseSchedule(Callback):
    """Switch the module between training phases and anneal the selection budget.

    Parameters
    ----------
    scheme : {"joint", "two_stage"}
        ``"joint"`` trains selector and predictor together for all epochs.
        ``"two_stage"`` first trains the predictor as an evaluator on random masks
        (``evaluator_fraction`` of the epochs), then the selector against it, frozen.
    evaluator_fraction : float
        Share of the epochs spent in the evaluator phase of ``"two_stage"``.
    """

    def __init__(self, scheme: str = "two_stage", evaluator_fraction: float = 0.5) -> None:
        self.scheme = scheme
        self.evaluator_fraction = evaluator_fraction

    def phase_at(self, epoch: int, max_epochs: int) -> str:
        """The phase of 0-based ``epoch`` out of ``max_epochs``."""
        if self.scheme == "joint":
            return "joint"
        n_eval = min(max(1, round(self.evaluator_fraction * max_epochs)), max_epochs - 1)
        return "evaluator" if epoch < n_eval else "selector"

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        phase = self.phase_at(epoch, net.max_epochs)
        if phase != net.module_.phase:
            net.module_.set_phase(phase)
        net.history.record("phase", phase)

    def on_train_end(self, net, **kwargs):
        for p in net.module_.parameters():
            p.requires_grad_(True)


class FinalPhaseEarlyStopping(EarlyStopping):
    """``EarlyStopping`` that only watches the last training phase.

    The validation loss of the evaluator phase measures another objective, so the best
    epoch is searched for (and restored) among the epochs of the final phase only.
    """

    def on_epoch_end(self, net, **kwargs):
        if net.history[-1, "phase"] == "evaluator":
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
