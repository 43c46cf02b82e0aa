"""Metrics are scikit-learn scorer names; this picks the defaults per task and checks names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sklearn.metrics import get_scorer

from engine.config.schema.metrics import DEFAULT_SCORERS, MetricsConfig
from engine.errors import ConfigError

BINARY_ONLY_SCORERS = {
    "roc_auc": "roc_auc_ovr", "average_precision": "f1_macro", "precision": "precision_macro",
    "recall": "recall_macro", "f1": "f1_macro", "jaccard": "jaccard_macro",
    "neg_brier_score": "neg_log_loss",
}


@dataclass(frozen=True)
class MetricSet:
    """The scorers a run reports, the first of which (``primary``) is the one optimised."""

    primary: str
    scorers: tuple[str, ...]

    def answered_by(self, model: Any) -> MetricSet:
        """The scorers ``model`` can answer: a family a search picked may lack predict_proba,
        and its scores then leave out what only probabilities give (log loss, Brier)."""
        missing = unanswered(self.scorers, model)
        return MetricSet(self.primary, tuple(n for n in self.scorers if n not in missing))


def response_methods(name: str) -> tuple[str, ...]:
    """The prediction methods scorer ``name`` reads, the first the model has: ROC AUC and
    average precision take ``decision_function`` or ``predict_proba``, log loss only the latter."""
    method = get_scorer(name)._response_method
    return (method,) if isinstance(method, str) else tuple(method)


def needs_probabilities(name: str) -> bool:
    """Whether scorer ``name`` reads class probabilities and nothing else."""
    return response_methods(name) == ("predict_proba",)


def missing_method(name: str, model: Any) -> str | None:
    """The method scorer ``name`` needs and ``model`` lacks (None: it can be scored)."""
    methods = response_methods(name)
    return None if any(hasattr(model, m) for m in methods) else " or ".join(methods)


def unanswered(names: Iterable[str], model: Any) -> dict[str, str]:
    """``{scorer: the method it needs}`` for each of ``names`` that ``model`` cannot answer."""
    return {name: method for name in names
            if (method := missing_method(name, model)) is not None}


def resolve_metrics(
    metrics: MetricsConfig, task: str, *, has_probabilities: bool = True
) -> MetricSet:
    """The primary scorer and the full list for ``task``, checked to suit the task.

    The ``auto`` list leaves out scorers of probabilities (log loss) for a model that gives
    none, such as an SVC without ``probability``; asking for one by name is an error.
    """
    scorers = metrics.scorers
    if scorers == "auto":
        names = [n for n in DEFAULT_SCORERS[task]
                 if has_probabilities or not needs_probabilities(n)]
    else:
        names = list(scorers)
    primary = metrics.primary_for(task)
    if primary not in names:
        names.insert(0, primary)
    for name in names:
        _check_suits_task(name, task)
        if not has_probabilities and needs_probabilities(name):
            raise ConfigError(
                f"metrics: '{name}' scores class probabilities, which this model does not give. "
                "Drop it from metrics.scorers, or use a model with predict_proba."
            )
    return MetricSet(primary=primary, scorers=tuple(names))


def _check_suits_task(name: str, task: str) -> None:
    # scikit-learn keeps regression metrics in sklearn.metrics._regression
    is_regression_scorer = get_scorer(name)._score_func.__module__.endswith("_regression")
    if task == "regression" and not is_regression_scorer:
        raise ConfigError(
            f"metrics: '{name}' is a classification scorer but the task is regression. "
            f"Use regression scorers such as {', '.join(DEFAULT_SCORERS['regression'])}."
        )
    if task != "regression" and is_regression_scorer:
        raise ConfigError(
            f"metrics: '{name}' is a regression scorer but the task is {task}. "
            f"Use scorers such as {', '.join(DEFAULT_SCORERS[task][:3])}."
        )
    if task == "multiclass" and name in BINARY_ONLY_SCORERS:
        raise ConfigError(
            f"metrics: '{name}' works for binary targets only and this target is multiclass. "
            f"Use '{BINARY_ONLY_SCORERS[name]}' instead."
        )
