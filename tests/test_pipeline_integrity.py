"""No leakage from validation or test rows, and the same config and seed give the same metrics."""

from __future__ import annotations

import json

from engine.config.compose import compose_spec
from engine.data.sources import load_dataset
from engine.data.splits import make_cv, split_holdout
from engine.data.target_encoding import encode_target
from engine.models.pipeline import CHECK_ROWS
from tests.recording import RecordingTransformer

RECORDING_FEATURES = (
    "allowed_targets=[tests.]",
    "features.transformers.numeric.steps=[{_target_: tests.recording.RecordingTransformer}]",
)


def test_features_are_fitted_only_on_training_rows_of_each_fold(run) -> None:
    overrides = ("dataset=breast_cancer", "model=logistic_regression", *RECORDING_FEATURES)
    RecordingTransformer.fitted_rows.clear()
    run(*overrides)

    spec = compose_spec(list(overrides))
    data = load_dataset(spec.dataset, seed=spec.seed)
    train_idx, test_idx = split_holdout(data, spec.split, seed=spec.seed)
    cv, groups = make_cv(data, spec.split, seed=spec.seed, train_idx=train_idx)
    X_train = data.X.iloc[train_idx]
    y_train, _ = encode_target(data.y.iloc[train_idx], data.task)
    folds = [set(X_train.index[fit_rows]) for fit_rows, _ in cv.split(X_train, y_train, groups)]
    # The first fit is the features check on the first training rows; then one per fold; last
    # the refit on the whole training split.
    expected = [set(X_train.index[:CHECK_ROWS]), *folds, set(X_train.index)]
    test_rows = set(data.X.index[test_idx])

    assert RecordingTransformer.fitted_rows == expected
    assert all(not fitted & test_rows for fitted in RecordingTransformer.fitted_rows)


def test_same_config_and_seed_give_identical_metrics(run) -> None:
    overrides = ("model=random_forest", "model.n_estimators=30", "dataset=wine")
    first, second = run(*overrides), run(*overrides)
    other_seed = run(*overrides, "seed=7")

    def metrics(result) -> str:
        return (result.run_dir / "metrics.json").read_text()

    assert metrics(first) == metrics(second)
    assert json.loads(metrics(first))["cv"] != json.loads(metrics(other_seed))["cv"]
    assert (first.run_dir / "predictions.csv").read_text() == (
        second.run_dir / "predictions.csv"
    ).read_text()
