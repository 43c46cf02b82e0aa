"""Batched permutation importance and partial dependence equal scikit-learn's; what-if."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.inspection import partial_dependence as sklearn_partial_dependence
from sklearn.inspection import permutation_importance as sklearn_permutation_importance
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from engine.evaluation.explanations import partial_dependence, permutation_importance
from tests.conftest import FAST, only_run_dir


def mixed_frame(rows: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "n": rng.integers(0, 50, rows),
                          "colour": rng.choice(["red", "green", "blue"], rows)})
    y = ((frame["x"] + (frame["colour"] == "red") + rng.normal(0, 0.5, rows)) > 0.5).astype(int)
    return frame, y.to_numpy()


def classifier(frame: pd.DataFrame, y: np.ndarray):
    features = make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough")
    return make_pipeline(features, RandomForestClassifier(n_estimators=20, random_state=0)).fit(
        frame, y)


@pytest.mark.parametrize("scorer", ["roc_auc", "accuracy", "neg_log_loss"])
def test_permutation_importance_equals_scikit_learns(scorer) -> None:
    frame, y = mixed_frame()
    model = classifier(frame, y)
    ours = {r["column"]: r for r in permutation_importance(model, frame, y, scorer, repeats=4,
                                                          seed=3)}
    reference = sklearn_permutation_importance(model, frame, y, scoring=scorer, n_repeats=4,
                                               random_state=3)
    for index, column in enumerate(frame.columns):
        assert ours[column]["repeats"] == pytest.approx(reference.importances[index], abs=1e-12)
    assert next(iter(ours)) == frame.columns[int(np.argmax(reference.importances_mean))]


def test_partial_dependence_equals_scikit_learns_for_numbers_and_categories() -> None:
    frame, y = mixed_frame()
    model = classifier(frame, y)
    for column, categorical in (("x", False), ("n", False), ("colour", True)):
        ours = partial_dependence(model, frame, column, [0, 1])
        reference = sklearn_partial_dependence(  # which refuses integer columns
            model, frame.astype({"n": float}), [column], grid_resolution=20, kind="average",
            categorical_features=["colour"] if categorical else None)
        assert ours["grid"] == list(reference["grid_values"][0])
        assert ours["average"]["1"] == pytest.approx(reference["average"][0], abs=1e-12)


def test_partial_dependence_of_a_regressor_is_its_mean_prediction() -> None:
    frame, _ = mixed_frame()
    target = frame["x"] * 3 + frame["n"] * 0.1
    model = make_pipeline(make_column_transformer(("drop", ["colour"]), remainder="passthrough"),
                          HistGradientBoostingRegressor(max_iter=30)).fit(frame, target)
    ours = partial_dependence(model, frame, "x", [])
    reference = sklearn_partial_dependence(model, frame, ["x"], grid_resolution=20)
    assert ours["average"]["prediction"] == pytest.approx(reference["average"][0], abs=1e-9)


def test_what_if_shows_how_each_prediction_moves(in_process_cli, tmp_path) -> None:
    cli = in_process_cli
    assert cli(*FAST, "report=false", "metrics.bootstrap.resamples=0",
               "metrics.explain.importance_repeats=0").returncode == 0
    run_dir = only_run_dir(tmp_path)
    rows = pd.read_csv(run_dir / "predictions.csv")["row"]
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.drop(columns="target").iloc[rows[:40]]
    data.to_csv(tmp_path / "rows.csv", index=False)
    done = cli("predict", str(run_dir), str(tmp_path / "rows.csv"), "-o",
               str(tmp_path / "out.csv"), "--what-if", "worst concave points=0.3")
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 40
    assert (out["proba_1_change"] == out["proba_1_what_if"] - out["proba_1"]).all()
    assert out["proba_1_change"].min() < -0.1
    assert "what-if worst concave points=0.3:" in done.stderr
    data.insert(0, "id", range(40))
    data.to_csv(tmp_path / "rows.csv", index=False)
    kept = cli("predict", str(run_dir), str(tmp_path / "rows.csv"), "-o",
               str(tmp_path / "kept.csv"), "--what-if", "mean radius=", "--keep", "id",
               "--strict")
    assert kept.returncode == 0, kept.stderr
    assert pd.read_csv(tmp_path / "kept.csv")["id"].tolist() == list(range(40))
    bad = cli("predict", str(run_dir), str(tmp_path / "rows.csv"), "--what-if",
              "worst concave pont=0.3")
    assert bad.returncode == 2
    assert "Did you mean 'worst concave points'?" in bad.stderr
