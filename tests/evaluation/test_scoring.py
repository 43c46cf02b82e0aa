"""Which scorers a model can answer, and the held-out scores of one without probabilities."""

from __future__ import annotations

import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from engine.config.schema.metrics import MetricsConfig
from engine.errors import ConfigError
from engine.evaluation.metrics import DEFAULT_SCORERS, MetricSet, resolve_metrics, unanswered
from engine.evaluation.responses import Responses
from engine.evaluation.scoring import score_responses

BINARY = MetricSet("roc_auc", (*DEFAULT_SCORERS["binary"], "average_precision", "neg_brier_score"))


def test_an_svc_answers_roc_auc_and_average_precision_but_not_probabilities() -> None:
    assert unanswered(BINARY.scorers, SVC()) == {"neg_log_loss": "predict_proba",
                                                 "neg_brier_score": "predict_proba"}
    answered = BINARY.answered_by(make_pipeline(StandardScaler(), SVC()))
    assert answered == MetricSet("roc_auc", (
        "roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1",
        "average_precision"))


def test_a_model_with_probabilities_keeps_every_scorer() -> None:
    assert BINARY.answered_by(make_pipeline(StandardScaler(), LogisticRegression())) == BINARY
    assert BINARY.answered_by(CalibratedClassifierCV(SVC())) == BINARY


def test_held_out_roc_auc_of_an_svc_is_that_of_its_decision_values() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    pipeline = make_pipeline(StandardScaler(), SVC(C=0.05, random_state=0)).fit(X_train, y_train)
    responses = Responses(pipeline[-1], pipeline[:-1].transform(X_test))
    scores = score_responses(responses, y_test, BINARY.answered_by(pipeline))
    decision = pipeline.decision_function(X_test)
    assert scores["roc_auc"] == roc_auc_score(y_test, decision)
    assert scores["average_precision"] == average_precision_score(y_test, decision)
    assert scores["roc_auc"] < 1.0  # decision values, not the 0/1 labels, were ranked
    assert "neg_log_loss" not in scores and "neg_brier_score" not in scores


def test_auto_scorers_of_a_model_without_probabilities_leave_out_what_needs_them() -> None:
    auto = MetricsConfig()
    assert resolve_metrics(auto, "binary", has_probabilities=False).scorers == (
        "roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1")
    assert resolve_metrics(auto, "multiclass", has_probabilities=False).scorers == (
        "f1_macro", "accuracy", "balanced_accuracy", "precision_macro", "recall_macro")
    assert resolve_metrics(auto, "binary").scorers == DEFAULT_SCORERS["binary"]


@pytest.mark.parametrize("name", ["neg_log_loss", "d2_log_loss_score", "roc_auc_ovr"])
def test_naming_a_probability_scorer_for_a_model_without_them_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"metrics: '{name}' scores class probabilities, which "
                                          "this model does not give"):
        resolve_metrics(MetricsConfig(scorers=["accuracy", name]), "multiclass"
                        if name == "roc_auc_ovr" else "binary", has_probabilities=False)
