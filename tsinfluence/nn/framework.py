"""InfluenceFramework: selector, predictor and loss in one module, with training phases.

How the module is built, selects and predicts is here; switching the training phases is in
:mod:`~tsinfluence.nn.phases` and the loss of each phase in :mod:`~tsinfluence.nn.phase_losses`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .adapters import MaskBaseline
from .generator import CounterfactualGenerator
from .heads import build_predictor, predict_every_step
from .losses import CombinedLoss
from .objectives import structured_subset_masks
from .phase_losses import PhaseLosses
from .phases import PHASES, TrainingPhases
from .selection import TopKSelection
from .selection.inclusion import inclusion_probabilities
from .selector import TimestampSelector

__all__ = [
    "OBJECTIVES",
    "PHASES",
    "SCORE_FUNCTION_SAMPLES",
    "SELECTOR_GRADIENTS",
    "InfluenceFramework",
]

#: What the selector is trained to preserve: ``"task"`` the likelihood of the target ``y``
#: under the predictor on the selected steps; ``"fidelity"`` the predictor's own output on
#: the full series (explaining a frozen model, black-box mode).
OBJECTIVES = ("task", "fidelity")

#: How the selector phase computes the selector's gradient (see ``selector_gradient``).
SELECTOR_GRADIENTS = ("straight_through", "score_function")


#: Subsets sampled per series by ``selector_gradient="score_function"``.
SCORE_FUNCTION_SAMPLES = 8


class InfluenceFramework(PhaseLosses, TrainingPhases, nn.Module):
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
    influence_temperature_scale : float
        Multiplier of the selection temperature in :meth:`influence`: the
        ``temperature_scale`` of the last epoch in which the selector was trained by
        score-function gradients, so that the influence scores are the inclusion
        probabilities of the distribution the selector was last trained to sample from. Set
        by the training schedule; 1 by default (and for a selector never trained that way).
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
        self.influence_temperature_scale = 1.0
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
        return predict_every_step(model, x, padding_mask)

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

    def influence(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-step influence ``(n, T)``: the probability that the selector selects each step.

        One pass of the scorer, no sampling (``selection.inclusion.inclusion_probabilities``):
        for the top-k and Gumbel strategies, the inclusion probability of each step under
        Gumbel top-k sampling of ``k`` steps from ``standardize(logits) / (temperature *
        influence_temperature_scale)`` (the distribution ``selector_gradient="score_function"``
        trains, at the sampling temperature it ended its training with), so each row sums to
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
            self.selector.strategy,
            scores,
            padding_mask,
            self.selector.k,
            temperature_scale=self.influence_temperature_scale,
        )

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
            return predict_every_step(self.predictor, x, padding_mask)
