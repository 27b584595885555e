"""Training phases of :class:`~tsinfluence.nn.InfluenceFramework`: what trains, and what it sees."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn

from .adapters import CallableAdapter, ModuleAdapter
from .selection import SelectionStrategy

if TYPE_CHECKING:
    from .framework import InfluenceFramework

__all__ = ["ADAPT_FULL_RATE", "PHASES", "TrainingPhases"]

#: Training phases of :class:`~tsinfluence.nn.InfluenceFramework`.
#: ``"joint"`` trains selector and predictor together; ``"teacher"`` trains the predictor on
#: every valid step (a full-series model whose weights warm-start the evaluator);
#: ``"evaluator"`` trains the predictor on random masks drawn independently of the data
#: (REAL-X's evaluator), distilled from the teacher when there is one; ``"selector"`` trains
#: the selector against a frozen predictor; ``"adapt"`` fine-tunes the predictor on the
#: frozen selector's selections of *other* series of the batch (so the selection pattern of
#: a series never reaches its own label) and on some full series.
PHASES = ("joint", "teacher", "evaluator", "selector", "adapt")

#: Share of the series shown whole (every valid step) in the ``"adapt"`` phase, so the
#: predictor keeps its full-series output (``fidelity``, black-box references).
ADAPT_FULL_RATE = 0.2


class TrainingPhases:
    """Switching between the :data:`PHASES` of :class:`~tsinfluence.nn.InfluenceFramework`.

    A mixin of the framework (it reads the framework's ``phase``, ``selector``,
    ``predictor``, ``teacher`` and ``dense_fraction``): which parts train in each phase, the
    teacher's lifecycle, train/eval modes, and the masks the training phases show the
    predictor (other series' selections in ``"adapt"``, the dense-to-sparse budget of
    ``"selector"``), kept apart from how the framework is built and predicts.
    """

    def set_phase(self, phase: str) -> None:
        """Switch training phase; in ``"selector"`` the predictor is frozen and in eval mode.

        ``"teacher"``, ``"evaluator"`` and ``"adapt"`` freeze the selector; ``"selector"``
        freezes the predictor (and trains a learned :class:`MaskBaseline` fill, if any);
        ``"joint"`` trains both. The predictor is put in eval mode by :meth:`train`.

        Parameters
        ----------
        phase : str
            One of :data:`PHASES`.

        Raises
        ------
        ValueError
            If ``phase`` is not one of :data:`PHASES`.
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}.")
        self.phase = phase
        for p in self.predictor.parameters():
            p.requires_grad_(phase != "selector")
        for p in self.selector.parameters():
            p.requires_grad_(phase in ("joint", "selector"))
        fill = self._fill()
        if fill is not None:  # a learned baseline is trained with the selector
            for p in fill.parameters():
                p.requires_grad_(phase == "selector")

    def start_distillation(self) -> None:
        """Keep a frozen copy of the predictor as :attr:`teacher` for the ``"evaluator"`` phase.

        Called after the ``"teacher"`` phase: the predictor, now a full-series model, goes on
        training as the evaluator from these weights (warm start), pulled towards the
        teacher's class probabilities on every random mask (distillation).
        """
        teacher = copy.deepcopy(self.predictor).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        self.teacher = teacher

    def drop_teacher(self) -> None:
        """Forget the teacher (training needs it only in the ``"evaluator"`` phase)."""
        self.teacher = None

    def keep_teacher(self) -> None:
        """Give the module a teacher shaped like the predictor, to load saved weights into.

        A model fitted with a kept teacher (an estimator's ``prediction="full"``) stores the
        teacher's weights with the rest; a fresh module needs the submodule before
        :meth:`torch.nn.Module.load_state_dict` can fill it.
        """
        self.start_distillation()

    def _fill(self) -> nn.Module | None:
        return (
            getattr(self.predictor, "fill", None)
            if isinstance(self.predictor, ModuleAdapter | CallableAdapter)
            else None
        )

    def train(self, mode: bool = True) -> InfluenceFramework:
        """Set train/eval mode; a frozen predictor stays in eval mode (no dropout).

        In the ``"evaluator"`` phase after a teacher, and in the ``"adapt"`` phase, the
        predictor's batch normalisation layers keep the teacher's full-series statistics
        (eval mode; their scale and shift still train): statistics of a batch of masked
        series depend on how much of each series the masks hide, and running averages of
        them match neither full series nor any one selection size.

        The fill of unselected steps (:class:`MaskBaseline`) follows ``mode``, so a noise
        baseline draws fresh noise in training.

        Parameters
        ----------
        mode : bool, default=True
            Training mode (True) or eval mode (False), as in :meth:`torch.nn.Module.train`.

        Returns
        -------
        InfluenceFramework
            ``self``.
        """
        super().train(mode)
        if self.phase == "adapt" or (self.phase == "evaluator" and self.teacher is not None):
            for sub in self.predictor.modules():
                if isinstance(sub, nn.modules.batchnorm._BatchNorm):
                    sub.eval()
        if self.phase == "adapt":
            self.selector.eval()
        if self.phase == "selector":
            self.predictor.eval()
            fill = self._fill()
            if fill is not None:
                fill.train(mode)
        return self

    def _adapt_masks(
        self, x: torch.Tensor, valid: torch.Tensor, padding_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Masks of the ``"adapt"`` phase: each series gets another series' selection.

        The frozen selector's hard selections of the batch are handed round a random cycle
        (a series never gets its own), cut to the series' valid steps; with probability
        :data:`ADAPT_FULL_RATE` a series is shown whole instead. The predictor thus learns to
        predict from the kind of subsets the selector picks while the pattern of a series'
        own selection stays independent of its label (no encoding). A batch of one series is
        shown whole.
        """
        with torch.no_grad():
            own = self.selector(x, padding_mask)
        n = x.shape[0]
        order = torch.randperm(n, device=x.device)
        donor = torch.empty_like(order)
        donor[order] = order.roll(1)
        whole = torch.rand(n, device=x.device) < ADAPT_FULL_RATE
        if n < 2:
            whole[:] = True
        mask = own[donor].to(x.dtype) * valid.to(x.dtype)
        return torch.where(whole[:, None], valid.to(x.dtype), mask)

    def _training_k(self, length: int):
        """The selection budget, widened by ``dense_fraction`` (dense-to-sparse curriculum)."""
        k = self.selector.strategy.k
        base = min(k / length if isinstance(k, int) else float(k), 1.0)
        return min(1.0, base + self.dense_fraction * (1.0 - base))

    def _select(
        self, x: torch.Tensor, padding_mask: torch.Tensor | None, dense: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The selector's mask, with the budget widened by ``dense_fraction`` if ``dense``."""
        strategy = self.selector.strategy
        if not dense or not isinstance(strategy, SelectionStrategy) or strategy.k is None:
            return self.selector(x, padding_mask, return_scores=True)
        saved = strategy.k
        strategy.k = self._training_k(x.shape[1])
        try:
            return self.selector(x, padding_mask, return_scores=True)
        finally:
            strategy.k = saved
