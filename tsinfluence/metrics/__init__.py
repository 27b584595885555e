"""Metrics for timestamp / cell importance scores.

*With ground truth* (:func:`auroc`, :func:`auprc`, :func:`aup`, :func:`aur`,
:func:`precision_at_k`, :func:`recall_at_k`): ``scores`` is ``(n, T)`` (one score per step) or
``(n, T, D)`` (one per cell) and ``truth`` a bool array of the same shape. ``padding_mask`` is an
optional bool ``(n, T)`` array, True where a step is *padding*: padded steps (all their cells)
are excluded everywhere.

*Without ground truth* (:func:`comprehensiveness`, :func:`sufficiency`, the deletion / insertion
curves): ``predict_fn`` maps an array shaped like ``X`` to class probabilities ``(n, C)`` or to
regression values ``(n,)``. Inputs are masked by whole timestamps when ``scores`` is ``(n, T)``
and by cells when it is ``(n, T, D)``; masked values are replaced by a baseline.
"""

from ._encoding import EncodingGap, encoding_gap
from ._ground_truth import aup, auprc, aur, auroc, precision_at_k, recall_at_k, topk_mask
from ._removal import (
    comprehensiveness,
    deletion_auc,
    deletion_curve,
    insertion_auc,
    insertion_curve,
    sufficiency,
)

__all__ = [
    "EncodingGap",
    "aup",
    "auprc",
    "aur",
    "auroc",
    "comprehensiveness",
    "deletion_auc",
    "deletion_curve",
    "encoding_gap",
    "insertion_auc",
    "insertion_curve",
    "precision_at_k",
    "recall_at_k",
    "sufficiency",
    "topk_mask",
]
