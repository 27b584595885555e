"""The training losses of :class:`~tsinfluence.nn.InfluenceFramework`, phase by phase."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .heads import predict_every_step
from .objectives import fidelity_loss, score_function_loss
from .selection import TopKSelection, resolve_k
from .selection.base import standardize

__all__ = ["DISTILLATION_TEMPERATURE", "SUFFICIENT_LOSS", "PhaseLosses"]

#: Temperature of the distillation of the teacher's class probabilities into the evaluator.
DISTILLATION_TEMPERATURE = 2.0

#: A classifier's series whose sampled subsets all have a cross-entropy below this (each gives
#: the label a probability above 0.9) is one the label likelihood no longer ranks subsets of:
#: only on such series does the score-function reward carry the deletion term (a tie-breaker
#: among sufficient subsets: on the other series the likelihood still ranks subsets, and
#: scoring their complements would cost a call of the predictor; ``docs/faithfulness_notes.md``).
SUFFICIENT_LOSS = 0.1


class PhaseLosses:
    """What :class:`~tsinfluence.nn.InfluenceFramework` minimises in each training phase.

    A mixin of the framework (it reads the framework's ``phase``, ``selector``,
    ``predictor``, ``teacher``, ``loss_fn``, ``objective``, ``task``, curriculum attributes
    and ``predict_masked``): the task, distillation, score-function and deletion terms,
    kept apart from how the framework selects and predicts.
    """

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
        ``alpha_deletion * relu(loss(nothing) - loss(complement))`` per series (for
        ``"fidelity"``: the complement's output should be as far from the full-series
        output as the output on nothing is). Sufficiency alone stops adding steps once the
        prediction is right; deletion credits every step that carries information, so
        redundant copies of an event, each half of an interaction and the rest of a
        window are selected. With score-function gradients the term is part of each
        sampled subset's reward (its complement scored by the predictor; for a classifier
        trained on the labels only on the series whose subsets are all sufficient, see
        :meth:`_score_function_term`), so it needs no gradient of the predictor; otherwise
        it is averaged over the batch and added to the loss, its gradient reaching the
        selector through the straight-through selection.

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
        score_function = self.uses_score_function()
        deletion = None
        if self.phase == "selector" and self.alpha_deletion > 0 and not score_function:
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
        if score_function:
            # The task terms above are logged; the selector learns from sampled subsets,
            # whose rewards carry the deletion term.
            total, deletion = self._score_function_term(x, y, scores, padding_mask, reference)
            total = total + self.loss_fn.alpha_budget * budget
        elif deletion is not None:
            total = total + self.alpha_deletion * deletion
        parts["deletion"] = total.new_zeros(()) if deletion is None else deletion.detach()
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
            reference = predict_every_step(self.teacher, x, padding_mask)
        if self.task == "classification":
            t = DISTILLATION_TEMPERATURE
            return t * t * fidelity_loss(prediction / t, reference / t, self.task)
        return self._per_sample_loss(prediction, reference[:, 0], None).mean()

    def uses_score_function(self) -> bool:
        """Whether the current phase trains the selector by score-function gradients.

        Returns
        -------
        bool
            True in the ``"selector"`` phase with ``selector_gradient="score_function"``
            and a top-k or Gumbel strategy.
        """
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
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:func:`score_function_loss` of the selector, rewarded by the frozen predictor.

        In training, subsets are drawn with the curriculum's budget and shown together with
        random context, as in the straight-through path. With ``objective="task"`` (the
        predictor trained here, on these very series, so that most rewards are close to 0)
        each series' advantages are normalised by its spread of rewards (measured on real
        data: ``benchmarks/results/accuracy_analysis.md``); explaining a frozen model
        (``"fidelity"``) keeps the raw advantages it was measured with. With
        ``alpha_deletion > 0`` each subset's reward also loses
        ``alpha_deletion * relu(loss(nothing) - loss(complement))``: for a classifier
        trained on the labels, only on the series whose sampled subsets all have a loss
        below :data:`SUFFICIENT_LOSS` (the label likelihood no longer tells them apart, so
        the deletion term breaks the tie), otherwise on every series.

        Returns the loss and the mean deletion penalty of the sampled subsets (``None``
        without a deletion term).
        """
        valid = ~torch.isneginf(scores)
        if padding_mask is not None:
            valid &= ~padding_mask
        curriculum = self.training and self.dense_fraction > 0
        k = self._training_k(x.shape[1]) if curriculum else self.selector.strategy.k
        ks = resolve_k(k, valid)
        temperature = self.selector.strategy.temperature * self.temperature_scale
        deletions = []

        def pick(t: torch.Tensor | None, rows: torch.Tensor | slice) -> torch.Tensor | None:
            return None if t is None else t[rows]

        def losses(rows: torch.Tensor | slice, shown: torch.Tensor) -> torch.Tensor:
            # Masks (S, m, T) of the series ``rows``, all in one call -> losses (S, m).
            copies = len(shown)

            def repeat(t: torch.Tensor | None) -> torch.Tensor | None:
                t = pick(t, rows)
                if t is None:
                    return None
                return t.unsqueeze(0).expand(copies, *t.shape).reshape(-1, *t.shape[1:])

            prediction, _ = self.predict_masked(
                repeat(x), shown.flatten(0, 1), repeat(padding_mask)
            )
            loss = self._per_sample_loss(prediction, repeat(y), repeat(reference))
            return loss.reshape(copies, -1)

        def reward(masks: torch.Tensor) -> torch.Tensor:
            # (S, n, T) masks -> (S, n) rewards.
            masks = masks.to(x.dtype)
            shown = masks
            if self.training and self.context_rate > 0:
                context = (torch.rand(masks.shape, device=x.device) < self.context_rate) & valid
                shown = torch.maximum(masks, context.to(x.dtype))
            loss = losses(slice(None), shown)
            if self.alpha_deletion <= 0:
                return -loss
            # The deletion term, on the series whose subsets the loss no longer ranks (every
            # series when explaining a frozen model, or for a regressor): their complements
            # in a second call.
            tied = torch.ones_like(valid[:, 0])
            if self.task == "classification" and self.objective == "task":
                tied = loss.max(dim=0).values < SUFFICIENT_LOSS
            deletion = torch.zeros_like(loss)
            rows = tied.nonzero().squeeze(1)
            if len(rows):
                floor = self._loss_without_steps(
                    x[rows], y[rows], pick(padding_mask, rows), pick(reference, rows)
                )
                complement = valid[rows].to(x.dtype) * (1.0 - masks[:, rows])
                deletion[:, rows] = torch.relu(floor - losses(rows, complement))
            deletions.append(deletion.mean())
            return -loss - self.alpha_deletion * deletion

        logits = standardize(scores.masked_fill(~valid, float("-inf"))) / temperature
        loss = score_function_loss(
            logits, ks, valid, reward, self.n_samples, normalize=self.objective == "task"
        )
        return loss, (deletions[0] if deletions else None)

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
        floor = self._loss_without_steps(x, y, padding_mask, reference)
        return torch.relu(floor - self._per_sample_loss(complement, y, reference)).mean()

    @torch.no_grad()
    def _loss_without_steps(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        padding_mask: torch.Tensor | None,
        reference: torch.Tensor | None,
    ) -> torch.Tensor:
        """Per-series loss ``(n,)`` of the predictor shown no step: the deletion term's floor."""
        nothing, _ = self.predict_masked(x, x.new_zeros(x.shape[:2]), padding_mask)
        return self._per_sample_loss(nothing, y, reference)
