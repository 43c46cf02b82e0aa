"""The example dataset configs for ../shared/data run end to end and reach sensible scores."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_DATA

# dataset -> (file, primary metric, a floor well below the published reference scores)
CASES = {
    "adult": ("adult.csv", "roc_auc", 0.90),
    "german_credit": ("german_credit.csv", "roc_auc", 0.70),
    "titanic": ("titanic.csv", "roc_auc", 0.80),
    "california_housing": ("california_housing.csv", "neg_root_mean_squared_error", -60000.0),
}


@pytest.mark.shared_data
@pytest.mark.parametrize("dataset", sorted(CASES))
def test_shared_dataset_runs_end_to_end(run, dataset: str) -> None:
    file, primary, floor = CASES[dataset]
    if not (SHARED_DATA / file).is_file():
        pytest.skip(f"{SHARED_DATA / file} is not present")
    result = run(f"dataset={dataset}", f"paths.shared_data={SHARED_DATA}", "split.cv.n_splits=3")
    assert result.primary == primary
    assert result.metrics["test"][primary] > floor
    assert result.objective > floor
