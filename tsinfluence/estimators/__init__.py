"""scikit-learn estimators over a private skorch net."""

from .classifier import InfluenceClassifier
from .regressor import InfluenceRegressor

__all__ = ["InfluenceClassifier", "InfluenceRegressor"]
