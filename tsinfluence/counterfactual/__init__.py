"""Counterfactuals: the smallest edits of the influential steps that change a prediction.

- :func:`generate_counterfactuals` (behind ``estimator.counterfactual``) searches edits
  against a fitted estimator and returns a :class:`CounterfactualResult`;
- :class:`CounterfactualExplainer` explains any torch model (or a fitted estimator) with
  interventions and occlusion attributions computed in batched passes;
- :mod:`tsinfluence.counterfactual.metrics` scores counterfactuals (validity, proximity,
  sparsity, contiguity, plausibility, diversity, time).
"""

from ..nn.generator import INTERVENTION_TYPES, CounterfactualGenerator
from ._result import CounterfactualResult
from .explainer import CounterfactualExplainer
from .generate import METHODS, generate_counterfactuals

__all__ = [
    "INTERVENTION_TYPES",
    "METHODS",
    "CounterfactualExplainer",
    "CounterfactualGenerator",
    "CounterfactualResult",
    "generate_counterfactuals",
]
