"""tsinfluence: learn which timestamps of a time series drive a prediction."""

from ._version import __version__
from .estimators import InfluenceClassifier, InfluenceRegressor
from .nn import (
    CombinedLoss,
    CounterfactualGenerator,
    InfluenceFramework,
    ModelAgnosticWrapper,
    TimestampSelector,
    create_simple_framework,
)

__all__ = [
    "CombinedLoss",
    "CounterfactualGenerator",
    "InfluenceClassifier",
    "InfluenceFramework",
    "InfluenceRegressor",
    "ModelAgnosticWrapper",
    "TimestampSelector",
    "__version__",
    "create_simple_framework",
]
