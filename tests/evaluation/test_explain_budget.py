"""Explanations under a budget: as many test rows as the seconds left allow, none when too few
are, and untouched without a budget."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from engine.config.schema.metrics import MetricsConfig
from engine.evaluation.explain_budget import MIN_ROWS, explain_within


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, pd.DataFrame]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rows = pd.concat([X] * 8, ignore_index=True)  # 4,552 rows to explain
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y), rows


def test_without_a_budget_or_with_time_enough_nothing_changes(
        fitted: tuple[Pipeline, pd.DataFrame]) -> None:
    pipeline, X = fitted
    settings = MetricsConfig()
    assert explain_within(settings, pipeline, X, None) == (settings, None)
    assert explain_within(settings, pipeline, X, 3600.0) == (settings, None)


def test_a_short_budget_explains_fewer_rows_and_says_so(
        fitted: tuple[Pipeline, pd.DataFrame]) -> None:
    pipeline, X = fitted
    full = explain_within(MetricsConfig(), pipeline, X, 3600.0)[0].explain.max_rows
    settings, note = explain_within(MetricsConfig(), pipeline, X, 0.05)
    if settings.explain.importance_repeats:  # a fast machine: some rows fit in 0.05 s
        assert MIN_ROWS <= settings.explain.max_rows < min(full, len(X))
        assert note is not None and "explanations computed on" in note
    else:
        assert note is not None and "left out" in note


def test_no_time_left_leaves_the_explanations_out(fitted: tuple[Pipeline, pd.DataFrame]) -> None:
    pipeline, X = fitted
    settings, note = explain_within(MetricsConfig(), pipeline, X, 0.0)
    assert settings.explain.importance_repeats == 0
    assert note is not None and note.startswith("budget: permutation importance and partial "
                                                "dependence left out")
