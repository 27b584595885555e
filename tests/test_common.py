"""scikit-learn's common estimator checks on both estimators.

The checks run in float64 (``precision="float64"``): in float32, mini-batch inference can
differ from one-by-one inference in the last bits, which ``check_methods_subset_invariance``
(rtol 1e-7) would flag although nothing is wrong.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from tsinfluence import InfluenceClassifier, InfluenceRegressor

FAST = dict(
    max_epochs=3, module__hidden_dim=16, module__num_heads=2, precision="float64", random_state=0
)

#: The central map of expected check failures: {estimator class name: {check name: reason}}.
#: Empty: every check passes. A new entry needs a written reason.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "InfluenceClassifier": {},
    "InfluenceRegressor": {},
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(
    [InfluenceClassifier(**FAST), InfluenceRegressor(**FAST)],
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
