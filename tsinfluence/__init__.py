"""tsinfluence: learn which timestamps of a time series drive a prediction.

The scikit-learn estimators :class:`InfluenceClassifier` and :class:`InfluenceRegressor`
are the main entry points; the seed-compatible PyTorch API (:class:`TimestampSelector`,
:class:`CombinedLoss`, :class:`InfluenceFramework`, ...) lives in :mod:`tsinfluence.nn` and
is re-exported here. Submodules: :mod:`tsinfluence.datasets`, :mod:`tsinfluence.metrics`,
:mod:`tsinfluence.counterfactual`, :mod:`tsinfluence.utils`, :mod:`tsinfluence.plotting`
(needs matplotlib), :mod:`tsinfluence.persistence`.
"""

from ._version import __version__
from .counterfactual import (
    CounterfactualExplainer,
    CounterfactualGenerator,
    CounterfactualResult,
    generate_counterfactuals,
)
from .estimators import InfluenceClassifier, InfluenceRegressor
from .nn import (
    CombinedLoss,
    InfluenceFramework,
    ModelAgnosticWrapper,
    TimestampSelector,
    create_simple_framework,
)
from .persistence import load_model, save_model

__all__ = [
    "CombinedLoss",
    "CounterfactualExplainer",
    "CounterfactualGenerator",
    "CounterfactualResult",
    "InfluenceClassifier",
    "InfluenceFramework",
    "InfluenceRegressor",
    "ModelAgnosticWrapper",
    "TimestampSelector",
    "__version__",
    "create_simple_framework",
    "generate_counterfactuals",
    "load_model",
    "save_model",
]
