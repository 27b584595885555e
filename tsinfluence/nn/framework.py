"""InfluenceFramework: selector, predictor and loss in one module, with training phases."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .conv import ConvHead
from .generator import CounterfactualGenerator
from .heads import AttentionPoolingHead, CallableAdapter, MaskBaseline, MLPHead, ModuleAdapter
from .losses import CombinedLoss
from .objectives import fidelity_loss, score_function_loss, structured_subset_masks
from .selection import SelectionStrategy, TopKSelection, resolve_k
from .selection.base import standardize
from .selection.inclusion import inclusion_probabilities
from .selector import TimestampSelector

__all__ = [
    "OBJECTIVES",
    "PHASES",
    "SCORE_FUNCTION_SAMPLES",
    "SELECTOR_GRADIENTS",
    "InfluenceFramework",
    "build_predictor",
]

#: Training phases of :class:`InfluenceFramework`.
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

#: What the selector is trained to preserve: ``"task"`` the likelihood of the target ``y``
#: under the predictor on the selected steps; ``"fidelity"`` the predictor's own output on
#: the full series (explaining a frozen model, black-box mode).
OBJECTIVES = ("task", "fidelity")

#: How the selector phase computes the selector's gradient (see ``selector_gradient``).
SELECTOR_GRADIENTS = ("straight_through", "score_function")

#: The built-in predictors by name (:func:`build_predictor`).
PREDICTORS = ("cnn", "attention", "mlp")

#: Subsets sampled per series by ``selector_gradient="score_function"``.
SCORE_FUNCTION_SAMPLES = 8

#: Temperature of the distillation of the teacher's class probabilities into the evaluator.
DISTILLATION_TEMPERATURE = 2.0


def build_predictor(
    predictor: str | nn.Module | Callable,
    input_dim: int,
    output_dim: int,
    hidden_dim: int,
    dropout: float,
    positional_encoding: str | None,
    max_len: int,
    max_k: int,
    baseline: MaskBaseline | None = None,
    fill: str = "zeros",
) -> nn.Module:
    """Build a predictor head by name, or adapt a user ``nn.Module`` or numpy callable.

    ``baseline`` fills the unselected steps for a user module or callable; ``fill`` those of
    the built-in ``"cnn"`` head (:class:`ConvHead`).
    """
    if isinstance(predictor, nn.Module):
        if isinstance(
            predictor, AttentionPoolingHead | ConvHead | MLPHead | ModuleAdapter | CallableAdapter
        ):
            return predictor
        return ModuleAdapter(predictor, baseline)
    if callable(predictor):
        return CallableAdapter(predictor, baseline)
    if predictor == "attention":
        return AttentionPoolingHead(
            input_dim, output_dim, hidden_dim, dropout, positional_encoding, max_len
        )
    if predictor == "mlp":
        return MLPHead(input_dim, output_dim, max_k, hidden_dim, dropout)
    if predictor == "cnn":
        return ConvHead(input_dim, output_dim, hidden_dim, dropout, fill=fill)
    raise ValueError(
        "predictor must be 'cnn', 'attention', 'mlp', a torch.nn.Module or a callable, got "
        f"{predictor!r}."
    )


class InfluenceFramework(nn.Module):
    """Selector, predictor and loss in one module.

    ``forward(x, padding_mask)`` returns ``(prediction, mask, scores)``: the predictor sees
    only the selected steps.

    Parameters
    ----------
    input_dim : int
        Channels ``D``.
    hidden_dim : int, default=128
        Width of scorer and predictor.
    selection_method : {"topk", "gumbel", "threshold"}, default="topk"
        Selection strategy.
    k : int, float or None, default=None
        Steps to select (``None``: a quarter of each series).
    task_loss_fn : callable, optional
        Task loss; ``MSELoss`` for regression, ``CrossEntropyLoss`` for classification.
    use_counterfactual : bool, default=True
        Attach a :class:`CounterfactualGenerator` as ``counterfactual_generator``.
    output_dim : int, default=1
        Predictor outputs (classes for classification).
    task : {"regression", "classification"}, default="regression"
        Chooses the default task loss.
    num_heads, num_layers, temperature, dropout, positional_encoding, causal, threshold
        Passed to :class:`TimestampSelector`.
    predictor : {"attention", "mlp"}, torch.nn.Module or callable, default="attention"
        The predictor head; a user module receives the masked ``(n, T, D)`` series; any
        other callable is a model without gradient, run on the masked series as numpy
        (:class:`CallableAdapter`; only ``selector_gradient="score_function"`` can train a
        selector against it).
    alpha_diversity, alpha_mi, use_mi, sigma
        Passed to :class:`CombinedLoss`.
    max_len : int, default=4096
        Longest series (learned positional encodings, MLP head size).
    objective : {"task", "fidelity"}, default="task"
        What the selector preserves in the ``"selector"`` phase: the target's likelihood, or
        the predictor's output on the full series (:func:`fidelity_loss`; black-box mode,
        where ``y`` is not used by the loss).
    baseline : MaskBaseline, optional
        Fill of the unselected steps for a user ``predictor`` module (zeros by default).
    alpha_deletion : float, default=0.0
        Weight of the deletion term of the ``"selector"`` phase (see :meth:`compute_loss`).
    selector_gradient : {"straight_through", "score_function"}, default="straight_through"
        How the ``"selector"`` phase trains the selector: the straight-through gradient of
        the task loss on its hard selection, or :func:`score_function_loss` (REINFORCE with a
        leave-one-out baseline over :data:`SCORE_FUNCTION_SAMPLES` sampled subsets, rewarded
        by real evaluations of the frozen predictor, all samples of a batch in one call of
        the predictor; top-k and Gumbel strategies only, the diversity and MI terms are then
        not used).
    scorer : {"attention", "cnn"}, default="attention"
        Passed to :class:`TimestampSelector`.
    fill : {"zeros", "interpolate"}, default="zeros"
        How the built-in ``"cnn"`` predictor fills unselected steps (see :class:`ConvHead`).

    Attributes
    ----------
    phase : str
        One of :data:`PHASES`; ``"joint"`` by default.
    context_rate : float
        Random context in the ``"selector"`` phase: in training, each unselected valid step
        is also shown to the predictor with this probability (drawn independently of the
        data), so a step that only matters together with another one (an interaction)
        still earns credit. Annealed to 0 by the training schedule; 0 by default.
    dense_fraction : float
        Dense-to-sparse curriculum in the ``"selector"`` phase: in training, the selection
        budget is raised from ``k`` towards the whole series by this fraction of the gap
        (0: exactly ``k``). Annealed to 0 by the training schedule; 0 by default.
    temperature_scale : float
        Multiplier of the selection temperature with which the ``"selector"`` phase samples
        subsets for score-function gradients. Annealed by the training schedule from 1
        towards a small value, so that the sampled subsets approach the deterministic top-k
        used at prediction; 1 by default.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int = 128,
        selection_method: str = "topk",
        k: int | float | None = None,
        task_loss_fn: Callable | None = None,
        use_counterfactual: bool = True,
        output_dim: int = 1,
        task: str = "regression",
        num_heads: int = 4,
        num_layers: int = 1,
        temperature: float = 1.0,
        dropout: float = 0.1,
        positional_encoding: str | None = "sinusoidal",
        causal: bool = False,
        threshold: float = 0.5,
        predictor: str | nn.Module | Callable = "attention",
        alpha_diversity: float = 0.1,
        alpha_mi: float = 0.05,
        use_mi: bool = False,
        sigma: float = 1.0,
        max_len: int = 4096,
        objective: str = "task",
        baseline: MaskBaseline | None = None,
        alpha_deletion: float = 0.0,
        selector_gradient: str = "straight_through",
        scorer: str = "attention",
        fill: str = "zeros",
    ) -> None:
        super().__init__()
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}.")
        if selector_gradient not in SELECTOR_GRADIENTS:
            raise ValueError(
                f"selector_gradient must be one of {SELECTOR_GRADIENTS}, got {selector_gradient!r}."
            )
        self.selector_gradient = selector_gradient
        self.n_samples = SCORE_FUNCTION_SAMPLES
        self.task = task
        self.objective = objective
        self.phase = "joint"
        self.context_rate = 0.0
        self.dense_fraction = 0.0
        self.temperature_scale = 1.0
        self.alpha_deletion = float(alpha_deletion)
        self.selector = TimestampSelector(
            input_dim,
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            selection_method=selection_method,
            k=k,
            temperature=temperature,
            dropout=dropout,
            num_layers=num_layers,
            positional_encoding=positional_encoding,
            causal=causal,
            threshold=threshold,
            max_len=max_len,
            scorer=scorer,
        )
        max_k = int(self.selector.k) if isinstance(self.selector.k, int) else max_len
        self.predictor = build_predictor(
            predictor,
            input_dim,
            output_dim,
            hidden_dim,
            dropout,
            positional_encoding,
            max_len,
            max(1, min(max_k, max_len)),
            baseline,
            fill,
        )
        if task_loss_fn is None:
            task_loss_fn = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()
        if not getattr(self.predictor, "has_gradient", True):
            if selector_gradient != "score_function" or not isinstance(
                self.selector.strategy, TopKSelection
            ):
                raise ValueError(
                    "The predictor has no gradient (a model run outside torch), so the "
                    "selector can only be trained with selector_gradient='score_function' "
                    "and a 'topk' or 'gumbel' selection; got selector_gradient="
                    f"{selector_gradient!r} with {type(self.selector.strategy).__name__}."
                )
        self.loss_fn = CombinedLoss(
            task_loss_fn,
            alpha_diversity=alpha_diversity,
            alpha_mi=alpha_mi,
            use_mi=use_mi,
            sigma=sigma,
            input_dim=input_dim,
        )
        self.counterfactual_generator = (
            CounterfactualGenerator(input_dim, hidden_dim) if use_counterfactual else None
        )
        self.teacher: nn.Module | None = None

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

    def series_prediction(
        self, x: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The full-series model's output (differentiable in ``x``).

        The kept :attr:`teacher` on every valid step when there is one (a two-stage fit
        that keeps it), else the predictor on every valid step (as :meth:`full_prediction`,
        which runs without gradient).

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, the only steps hidden from the model.

        Returns
        -------
        torch.Tensor of shape (n, output_dim)
            Logits or regression values.
        """
        model = self.predictor if self.teacher is None else self.teacher
        return _on_every_step(model, x, padding_mask)

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

    def predict_masked(
        self, x: torch.Tensor, mask: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the predictor on the steps ``mask`` keeps.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        mask : torch.Tensor of shape (n, T)
            Selection mask in [0, 1]; the predictor cannot see the unselected steps.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps.

        Returns
        -------
        output : torch.Tensor of shape (n, output_dim)
            Logits or regression values.
        weights : torch.Tensor of shape (n, T) or None
            The predictor's influence map (attention head), else None.
        """
        return self.predictor(x, mask, padding_mask)

    def forward(
        self, x: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Select, then predict from the selection.

        In training mode during the ``"evaluator"`` phase, the predictor sees random masks
        independent of the data instead of the selector's (the returned mask is that random
        mask); during the ``"teacher"`` phase it sees every valid step; during the
        ``"adapt"`` phase, other series' selections (:meth:`_adapt_masks`). In the
        ``"selector"`` phase the training curriculum (``dense_fraction``, ``context_rate``)
        applies.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, which are never selected.

        Returns
        -------
        prediction : torch.Tensor of shape (n, output_dim)
            The predictor's output on the selected steps (plus the random context of
            ``context_rate`` in the ``"selector"`` training phase).
        mask : torch.Tensor of shape (n, T)
            The selection, in the dtype of ``x`` (0 at padded steps).
        scores : torch.Tensor of shape (n, T)
            The selector's logits, ``-inf`` at padded steps (0 at valid steps in the
            ``"teacher"``, ``"evaluator"`` and ``"adapt"`` training phases).
        """
        valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if padding_mask is not None:
            valid = ~padding_mask
        if self.training and self.phase in ("teacher", "evaluator", "adapt"):
            if self.phase == "teacher":
                mask = valid.to(x.dtype)
            elif self.phase == "adapt":
                mask = self._adapt_masks(x, valid, padding_mask)
            else:
                mask = structured_subset_masks(valid, self.selector.k).to(x.dtype)
            scores = torch.zeros_like(mask).masked_fill(~valid, float("-inf"))
            prediction, _ = self.predict_masked(x, mask, padding_mask)
            return prediction, mask, scores
        curriculum = self.training and self.phase == "selector"
        mask, scores = self._select(x, padding_mask, curriculum and self.dense_fraction > 0)
        shown = mask
        if curriculum and self.context_rate > 0:
            context = (torch.rand(mask.shape, device=x.device) < self.context_rate) & valid
            context = context.to(mask.dtype)
            shown = mask + context * (1.0 - mask)  # union; gradient reaches mask off-context
        prediction, _ = self.predict_masked(x, shown, padding_mask)
        return prediction, mask, scores

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

    def influence(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-step influence ``(n, T)``: the probability that the selector selects each step.

        One pass of the scorer, no sampling (``selection.inclusion.inclusion_probabilities``):
        for the top-k and Gumbel strategies, the inclusion probability of each step under
        Gumbel top-k sampling of ``k`` steps from ``standardize(logits) / temperature`` (the
        distribution ``selector_gradient="score_function"`` trains), so each row sums to
        ``k`` over its valid steps and a step the selector always needs scores near 1 however
        it ranks among the others; for ``"threshold"``, the gate probability
        ``sigmoid(logit / temperature)``. Values lie in ``[0, 1]``, are an increasing
        function of the logit within a series (rankings are those of the logits) and are
        exactly 0 at padded steps. The result is float64 (float32 on MPS) so that
        probabilities near 1 stay distinct.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            Series.
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps.

        Returns
        -------
        torch.Tensor of shape (n, T)
            Inclusion probabilities; each row sums to the series' ``k`` (top-k, Gumbel).
        """
        scores = self.selector.scorer(x, padding_mask)
        return inclusion_probabilities(
            self.selector.strategy, scores, padding_mask, self.selector.k
        )

    def compute_loss(
        self,
        outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Total loss and its components for the outputs of :meth:`forward`.

        ``"teacher"`` phase: the task loss on the full series; ``"evaluator"``: the
        distillation loss (:meth:`_distillation_loss`) on random masks, or the task loss
        without a teacher; ``"adapt"``: the task loss on other series' selections.
        ``"joint"`` and ``"selector"``
        phases: the task loss on the selection (``objective="task"``) or
        :func:`fidelity_loss` to the full-series output (``objective="fidelity"``), plus
        the strategy's budget penalty and, in the ``"selector"`` phase with
        ``alpha_deletion > 0``, a deletion term: the predictor on the *complement* of the
        selection should know no more than with nothing at all,
        ``alpha_deletion * mean(relu(loss(nothing) - loss(complement)))`` per series (for
        ``"fidelity"``: the complement's output should be as far from the full-series
        output as the output on nothing is). Sufficiency alone stops adding steps once the
        prediction is right; deletion credits every step that carries information, so
        redundant copies of an event and each half of an interaction are selected.

        Parameters
        ----------
        outputs : tuple of torch.Tensor
            ``(prediction, mask, scores)`` as returned by :meth:`forward`.
        x : torch.Tensor of shape (n, T, D)
            The series given to :meth:`forward`.
        y : torch.Tensor of shape (n,)
            Targets: class indices (classification) or values (regression).
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps.

        Returns
        -------
        total : torch.Tensor
            Scalar loss to minimise (with gradient).
        parts : dict of str to torch.Tensor
            Detached scalar components: ``"task"``, ``"diversity"``, ``"mi"``,
            ``"budget"``, ``"deletion"`` and ``"total"``.
        """
        prediction, mask, scores = outputs
        if self.phase in ("teacher", "evaluator", "adapt"):
            if self.phase == "evaluator" and self.teacher is not None and self.training:
                total = self._distillation_loss(x, padding_mask, prediction)
                zero = total.new_zeros(())
                parts = {"task": total.detach(), "diversity": zero, "mi": zero, "budget": zero}
                parts["total"] = total.detach()
            else:
                total, parts = self.loss_fn(prediction, y)
            return total, {**parts, "deletion": total.new_zeros(())}
        budget = self.selector.budget_loss(scores, padding_mask)
        reference = None
        if self.objective == "fidelity":  # one run of the model on the full series
            reference = self.full_prediction(x, padding_mask)
        deletion = None
        if self.phase == "selector" and self.alpha_deletion > 0:
            deletion = self._deletion_term(x, y, mask, padding_mask, reference)
        if self.objective == "fidelity":
            task = fidelity_loss(prediction, reference, self.task)
            zero = task.new_zeros(())
            total = task + self.loss_fn.alpha_budget * budget
            parts = {"task": task, "diversity": zero, "mi": zero, "budget": budget}
        else:
            total, parts = self.loss_fn(
                prediction, y, features=x, mask=mask, padding_mask=padding_mask, budget=budget
            )
        parts = {name: value.detach() for name, value in parts.items()}
        if self._uses_score_function():
            # The task terms above are logged; the selector learns from sampled subsets.
            total = self._score_function_term(x, y, scores, padding_mask, reference)
            total = total + self.loss_fn.alpha_budget * budget
        parts["deletion"] = total.new_zeros(())
        if deletion is not None:
            total = total + self.alpha_deletion * deletion
            parts["deletion"] = deletion.detach()
        parts["total"] = total.detach()
        return total, parts

    def _distillation_loss(
        self, x: torch.Tensor, padding_mask: torch.Tensor | None, prediction: torch.Tensor
    ) -> torch.Tensor:
        """How far the evaluator's ``prediction`` is from the teacher on the full series.

        Classification: ``T^2 KL(p_teacher^T || p^T)`` at temperature
        :data:`DISTILLATION_TEMPERATURE` (Hinton et al. 2015). Regression: the Gaussian
        negative log-likelihood of the teacher's mean under the evaluator (mean, log-variance)
        output, or the squared error for a single output.
        """
        with torch.no_grad():
            reference = _on_every_step(self.teacher, x, padding_mask)
        if self.task == "classification":
            t = DISTILLATION_TEMPERATURE
            return t * t * fidelity_loss(prediction / t, reference / t, self.task)
        return self._per_sample_loss(prediction, reference[:, 0], None).mean()

    def _uses_score_function(self) -> bool:
        return (
            self.phase == "selector"
            and self.selector_gradient == "score_function"
            and isinstance(self.selector.strategy, TopKSelection)  # Gumbel is a subclass
        )

    def _score_function_term(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        scores: torch.Tensor,
        padding_mask: torch.Tensor | None,
        reference: torch.Tensor | None,
    ) -> torch.Tensor:
        """:func:`score_function_loss` of the selector, rewarded by the frozen predictor.

        In training, subsets are drawn with the curriculum's budget and shown together with
        random context, as in the straight-through path.
        """
        valid = ~torch.isneginf(scores)
        if padding_mask is not None:
            valid &= ~padding_mask
        curriculum = self.training and self.dense_fraction > 0
        k = self._training_k(x.shape[1]) if curriculum else self.selector.strategy.k
        ks = resolve_k(k, valid)
        temperature = self.selector.strategy.temperature * self.temperature_scale

        def reward(masks: torch.Tensor) -> torch.Tensor:
            # All samples in one call of the predictor: (S, n, T) masks -> (S, n) rewards.
            n_samples, n = masks.shape[:2]
            masks = masks.to(x.dtype)
            if self.training and self.context_rate > 0:
                context = (torch.rand(masks.shape, device=x.device) < self.context_rate) & valid
                masks = torch.maximum(masks, context.to(x.dtype))

            def repeat(t: torch.Tensor | None) -> torch.Tensor | None:
                if t is None:
                    return None
                return t.unsqueeze(0).expand(n_samples, *t.shape).reshape(-1, *t.shape[1:])

            prediction = self.predict_masked(repeat(x), masks.flatten(0, 1), repeat(padding_mask))[
                0
            ]
            loss = self._per_sample_loss(prediction, repeat(y), repeat(reference))
            return -loss.reshape(n_samples, n)

        logits = standardize(scores.masked_fill(~valid, float("-inf"))) / temperature
        return score_function_loss(logits, ks, valid, reward, self.n_samples)

    def selection_loss(
        self, x: torch.Tensor, y: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-series task loss of the prediction from the selector's own selection.

        What the model does at inference (hard selection, then the predictor), without
        gradient: the negative log-likelihood of ``y`` (cross-entropy, or the Gaussian
        likelihood of a mean and variance output; squared error for a single output).

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        y : torch.Tensor of shape (n,)
            Targets: class indices (classification) or values (regression).
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps.

        Returns
        -------
        torch.Tensor of shape (n,)
        """
        with torch.no_grad():
            mask = self.selector(x, padding_mask)
            prediction, _ = self.predict_masked(x, mask, padding_mask)
            return self._per_sample_loss(prediction, y, None)

    def _per_sample_loss(
        self, prediction: torch.Tensor, y: torch.Tensor, reference: torch.Tensor | None
    ) -> torch.Tensor:
        """Per-series loss ``(n,)``: NLL of ``y``, or divergence from ``reference``."""
        if reference is not None:
            if self.task == "classification":
                log_p = F.log_softmax(reference, dim=-1)
                log_q = F.log_softmax(prediction, dim=-1)
                return (log_p.exp() * (log_p - log_q)).sum(dim=-1)
            return (prediction[:, 0] - reference[:, 0]) ** 2
        if self.task == "classification":
            return F.cross_entropy(prediction, y.long(), reduction="none")
        target = y.reshape(-1).to(prediction.dtype)
        if prediction.shape[1] == 1:
            return (prediction[:, 0] - target) ** 2
        log_var = prediction[:, 1].clamp(-10.0, 10.0)
        return 0.5 * (log_var + (target - prediction[:, 0]) ** 2 * torch.exp(-log_var))

    def _deletion_term(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        mask: torch.Tensor,
        padding_mask: torch.Tensor | None,
        reference: torch.Tensor | None = None,
    ) -> torch.Tensor:
        valid = torch.ones_like(mask) if padding_mask is None else (~padding_mask).to(mask.dtype)
        if self.objective == "fidelity" and reference is None:
            reference = self.full_prediction(x, padding_mask)
        complement, _ = self.predict_masked(x, valid * (1.0 - mask), padding_mask)
        with torch.no_grad():
            nothing, _ = self.predict_masked(x, torch.zeros_like(mask), padding_mask)
            floor = self._per_sample_loss(nothing, y, reference)
        return torch.relu(floor - self._per_sample_loss(complement, y, reference)).mean()

    def full_prediction(
        self, x: torch.Tensor, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The predictor's output on every valid step, without gradient.

        Parameters
        ----------
        x : torch.Tensor of shape (n, T, D)
            The series (padded steps hold 0).
        padding_mask : torch.Tensor of shape (n, T), bool, optional
            True at padded steps, the only steps hidden from the predictor.

        Returns
        -------
        torch.Tensor of shape (n, output_dim)
            Logits or regression values.
        """
        with torch.no_grad():
            return _on_every_step(self.predictor, x, padding_mask)


def _on_every_step(
    model: nn.Module, x: torch.Tensor, padding_mask: torch.Tensor | None
) -> torch.Tensor:
    """A predictor's output (logits or values) with every valid step selected."""
    valid = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    if padding_mask is not None:
        valid = (~padding_mask).to(x.dtype)
    return model(x, valid, padding_mask)[0]
