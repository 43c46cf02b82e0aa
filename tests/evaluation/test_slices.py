"""Slices: bins, per-slice scores equal to scikit-learn's on the subset, worst first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

from engine.config.schema.metrics import BootstrapConfig
from engine.evaluation.responses import Responses
from engine.evaluation.slices import slice_labels, slice_metrics


def test_many_valued_numbers_are_cut_into_quantiles_and_missing_values_kept_apart() -> None:
    values = pd.Series([*range(100), np.nan])
    labels = slice_labels(values, bins=4)
    assert labels.nunique() == 5 and labels.iloc[-1] == "(missing)"
    assert labels.iloc[:100].value_counts().tolist() == [25, 25, 25, 25]
    few = slice_labels(pd.Series(["a", "b", "a"]), bins=4)
    assert few.tolist() == ["a", "b", "a"]


def test_slice_scores_equal_scikit_learns_on_the_slice_and_come_worst_first() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    group = np.where(rng.random(400) < 0.5, "easy", "hard")
    noise = np.where(group == "easy", 0.2, 2.0)  # the hard group's labels are mostly noise
    y = (X[:, 0] + rng.normal(scale=noise) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    records = slice_metrics(pd.DataFrame({"group": group}), ["group"], y, Responses(model, X),
                            ["roc_auc", "accuracy"], "roc_auc", bins=4,
                            bootstrap=BootstrapConfig(resamples=200), seed=0)
    assert [r["slice"] for r in records] == ["hard", "easy"]
    for record in records:
        rows = group == record["slice"]
        assert record["rows"] == rows.sum()
        assert record["scores"]["roc_auc"] == pytest.approx(
            roc_auc_score(y[rows], model.predict_proba(X[rows])[:, 1]))
        assert record["scores"]["accuracy"] == pytest.approx(
            accuracy_score(y[rows], model.predict(X[rows])))
        interval = record["interval"]
        assert interval["low"] <= record["scores"]["roc_auc"] <= interval["high"]


def test_a_slice_with_one_class_has_no_auc_rather_than_an_error() -> None:
    X = np.arange(10, dtype=float).reshape(-1, 1)
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    model = LogisticRegression().fit(X, y)
    column = pd.DataFrame({"half": ["low"] * 5 + ["high"] * 5})
    records = slice_metrics(column, ["half"], y, Responses(model, X), ["roc_auc"], "roc_auc",
                            bins=4, bootstrap=BootstrapConfig(resamples=50), seed=0)
    assert all(np.isnan(r["scores"]["roc_auc"]) for r in records)
