"""scikit-learn's own estimator checks on the PyTorch estimators.

Every check runs; scikit-learn's check_array_api_input skips itself unless SCIPY_ARRAY_API is
set (the estimators take NumPy and pandas input, not other array libraries). Two settings
differ from the defaults, so that the checks test the contract rather than our defaults:
``categorical_features=None``, because ``auto`` reads integer-typed DataFrame columns as
category codes (what features=embeddings produces), so the check that fits the same integers as
an array and as a DataFrame would compare two different networks; and more epochs on small
batches for the regressor, whose check needs R² > 0.5 on 200 rows.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from engine.models.torch import TorchClassifier, TorchRegressor

ESTIMATORS = [
    TorchClassifier(module__width=32, max_epochs=20, categorical_features=None, device="cpu",
                    random_state=0),
    TorchRegressor(module__width=32, max_epochs=100, batch_size=32, categorical_features=None,
                   device="cpu", random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)
