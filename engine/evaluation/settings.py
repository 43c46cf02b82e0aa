"""The evaluation options of the ``metrics`` group, checked before any data is loaded.

    metrics:
      diagnostics: {enabled: true, calibration_bins: 10}
      calibration: none            # none | sigmoid | isotonic
      threshold: null              # binary: a scorer name or `cost`, tuned on the CV folds
      costs: null                  # {actual: {predicted: cost}}, for threshold: cost
      slices: {columns: [], bins: 4}
      fairness: {sensitive: [], limits: {demographic_parity_difference: {warn: 0.1}}}
      explain: {importance_repeats: 5, dependence_features: 3, max_rows: 10000}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sklearn.metrics import get_scorer_names

from engine.config.checks import check_flag, check_keys, check_mapping
from engine.data.validation import check_choice
from engine.errors import ConfigError, did_you_mean

CALIBRATION_METHODS = ("none", "sigmoid", "isotonic")
FAIRNESS_MEASURES = ("demographic_parity_difference", "demographic_parity_ratio",
                     "equalized_odds_difference", "equalized_odds_ratio")


@dataclass(frozen=True)
class FairnessSettings:
    """Sensitive columns and, per fairlearn measure, the levels that warn and fail a run."""

    sensitive: tuple[str, ...] = ()
    limits: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationSettings:
    """What the held-out evaluation computes beyond the scores and their intervals."""

    diagnostics: bool = True
    calibration_bins: int = 10
    calibration: str = "none"
    threshold: str | None = None
    costs: dict[str, dict[str, float]] = field(default_factory=dict)
    slice_columns: tuple[str, ...] = ()
    slice_bins: int = 4
    fairness: FairnessSettings = field(default_factory=FairnessSettings)
    importance_repeats: int = 5
    dependence_features: int = 3
    explain_rows: int = 10_000


def evaluation_settings(metrics: Mapping[str, Any]) -> EvaluationSettings:
    """``metrics``' evaluation keys as checked, typed settings (ConfigError naming the key)."""
    diagnostics = _options(metrics, "diagnostics", {"enabled", "calibration_bins"})
    slices = _options(metrics, "slices", {"columns", "bins"})
    fairness = _options(metrics, "fairness", {"sensitive", "limits"})
    explain = _options(metrics, "explain", {"importance_repeats", "dependence_features",
                                            "max_rows"})
    calibration = check_choice(metrics.get("calibration") or "none", CALIBRATION_METHODS,
                               key="metrics.calibration", what="method")
    threshold = metrics.get("threshold")
    if threshold is not None and threshold != "cost" and threshold not in get_scorer_names():
        raise ConfigError(
            f"metrics.threshold: {threshold!r} is neither a scikit-learn scorer name nor "
            f"'cost'.{did_you_mean(threshold, [*get_scorer_names(), 'cost'])} Use e.g. f1, "
            "balanced_accuracy, or cost with metrics.costs."
        )
    costs = _costs(metrics.get("costs"))
    if threshold == "cost" and not costs:
        raise ConfigError("metrics.threshold: cost needs metrics.costs, e.g. "
                          "'metrics.costs={bad: {good: 5}, good: {bad: 1}}' (actual -> "
                          "predicted -> cost).")
    return EvaluationSettings(
        diagnostics=check_flag(diagnostics.get("enabled", True), "metrics.diagnostics.enabled"),
        calibration_bins=_whole(diagnostics.get("calibration_bins", 10),
                                "metrics.diagnostics.calibration_bins", low=2),
        calibration=calibration,
        threshold=threshold,
        costs=costs,
        slice_columns=_names(slices.get("columns"), "metrics.slices.columns"),
        slice_bins=_whole(slices.get("bins", 4), "metrics.slices.bins", low=2),
        fairness=FairnessSettings(
            sensitive=_names(fairness.get("sensitive"), "metrics.fairness.sensitive"),
            limits=_limits(fairness.get("limits")),
        ),
        importance_repeats=_whole(explain.get("importance_repeats", 5),
                                  "metrics.explain.importance_repeats", low=0),
        dependence_features=_whole(explain.get("dependence_features", 3),
                                   "metrics.explain.dependence_features", low=0),
        explain_rows=_whole(explain.get("max_rows", 10_000), "metrics.explain.max_rows", low=1),
    )


def _options(metrics: Mapping[str, Any], key: str, valid: set[str]) -> dict[str, Any]:
    options = check_mapping(metrics.get(key), f"metrics.{key}", f"{{{sorted(valid)[0]}: ...}}")
    check_keys(options, valid, f"metrics.{key}.")
    return options


def _whole(value: Any, key: str, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key}: must be a whole number >= {low}; got {value!r}.")
    return value


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{key}: must be a number >= 0; got {value!r}.")
    return float(value)


def _names(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: must be a list of column names, e.g. [sex, race]; "
                          f"got {value!r}.")
    return tuple(value)


def _costs(value: Any) -> dict[str, dict[str, float]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError("metrics.costs: must map each actual class to {predicted class: "
                          f"cost}}, e.g. {{bad: {{good: 5}}, good: {{bad: 1}}}}; got {value!r}.")
    return {str(actual): {str(predicted): _number(cost, f"metrics.costs.{actual}.{predicted}")
                          for predicted, cost in row.items()}
            for actual, row in value.items()}


def _limits(value: Any) -> dict[str, dict[str, float | None]]:
    limits: dict[str, dict[str, float | None]] = {}
    for measure, levels in check_mapping(value, "metrics.fairness.limits",
                                         "{demographic_parity_difference: {warn: 0.1}}").items():
        check_choice(measure, FAIRNESS_MEASURES, key="metrics.fairness.limits", what="measure")
        levels = check_mapping(levels, f"metrics.fairness.limits.{measure}",
                               "{warn: 0.1, fail: 0.2}")
        for level in levels:
            check_choice(level, ("warn", "fail"), key=f"metrics.fairness.limits.{measure}",
                         what="level")
        limits[measure] = {
            level: None if levels.get(level) is None
            else _number(levels[level], f"metrics.fairness.limits.{measure}.{level}")
            for level in ("warn", "fail")
        }
    return limits
