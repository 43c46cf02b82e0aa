"""The evaluation options of the ``metrics`` group (validated by its schema), as stages read them.

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

from dataclasses import dataclass, field

from engine.config.schema.metrics import MetricsConfig


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


def evaluation_settings(metrics: MetricsConfig) -> EvaluationSettings:
    """``metrics``' evaluation keys, validated by the schema, as the settings stages read."""
    limits: dict[str, dict[str, float | None]] = {
        measure: {"warn": limit.warn, "fail": limit.fail}
        for measure, limit in metrics.fairness.limits.items() if limit is not None
    }
    return EvaluationSettings(
        diagnostics=metrics.diagnostics.enabled,
        calibration_bins=metrics.diagnostics.calibration_bins,
        calibration=metrics.calibration,
        threshold=metrics.threshold,
        costs={str(actual): {str(predicted): cost for predicted, cost in row.items()}
               for actual, row in (metrics.costs or {}).items()},
        slice_columns=tuple(metrics.slices.columns),
        slice_bins=metrics.slices.bins,
        fairness=FairnessSettings(sensitive=tuple(metrics.fairness.sensitive), limits=limits),
        importance_repeats=metrics.explain.importance_repeats,
        dependence_features=metrics.explain.dependence_features,
        explain_rows=metrics.explain.max_rows,
    )
