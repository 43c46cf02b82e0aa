"""Metrics are scikit-learn scorer names; this picks the defaults per task and checks names."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.metrics import get_scorer

from engine.config.schema.metrics import MetricsConfig
from engine.errors import ConfigError

DEFAULT_SCORERS = {
    "binary": (
        "roc_auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "neg_log_loss",
    ),
    "multiclass": (
        "f1_macro", "accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
        "roc_auc_ovr", "neg_log_loss",
    ),
    "regression": ("neg_root_mean_squared_error", "neg_mean_absolute_error", "r2"),
}
PROBABILITY_SCORERS = (
    "neg_log_loss", "neg_brier_score", "roc_auc_ovr", "roc_auc_ovo", "roc_auc_ovr_weighted",
    "roc_auc_ovo_weighted",
)
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
                 if has_probabilities or n not in PROBABILITY_SCORERS]
    else:
        names = list(scorers)
    primary = metrics.primary
    if primary == "auto":
        default = DEFAULT_SCORERS[task][0]
        primary = default if default in names else names[0]
    if primary not in names:
        names.insert(0, primary)
    for name in names:
        _check_suits_task(name, task)
        if name in PROBABILITY_SCORERS and not has_probabilities:
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
