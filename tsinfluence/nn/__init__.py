"""Pure PyTorch layer: scorer, selection strategies, selector, heads, losses, framework.

Nothing here depends on scikit-learn.
"""

from .adapters import ModuleAdapter, apply_mask
from .conv import ConvHead, ConvScorer
from .framework import PHASES, InfluenceFramework
from .generator import INTERVENTION_TYPES, CounterfactualGenerator
from .heads import AttentionPoolingHead, MLPHead
from .losses import CombinedLoss, InfoNCECritic, dpp_diversity_loss, mi_loss
from .objectives import fidelity_loss, random_subset_masks, structured_subset_masks
from .positional import LearnedPositionalEncoding, SinusoidalPositionalEncoding
from .scorer import AttentionScorer
from .selection import (
    GumbelTopKSelection,
    SelectionStrategy,
    ThresholdSelection,
    TopKSelection,
    make_selection,
    resolve_k,
)
from .selector import TimestampSelector
from .wrapper import ModelAgnosticWrapper, create_simple_framework

__all__ = [
    "INTERVENTION_TYPES",
    "PHASES",
    "AttentionPoolingHead",
    "AttentionScorer",
    "CombinedLoss",
    "ConvHead",
    "ConvScorer",
    "CounterfactualGenerator",
    "GumbelTopKSelection",
    "InfoNCECritic",
    "InfluenceFramework",
    "LearnedPositionalEncoding",
    "MLPHead",
    "ModelAgnosticWrapper",
    "ModuleAdapter",
    "SelectionStrategy",
    "SinusoidalPositionalEncoding",
    "ThresholdSelection",
    "TimestampSelector",
    "TopKSelection",
    "apply_mask",
    "create_simple_framework",
    "dpp_diversity_loss",
    "fidelity_loss",
    "make_selection",
    "mi_loss",
    "random_subset_masks",
    "resolve_k",
    "structured_subset_masks",
]
