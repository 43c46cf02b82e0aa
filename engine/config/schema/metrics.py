"""``metrics``: scikit-learn scorer names, the primary one, and the held-out evaluation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from engine.config.schema.base import Label, Names, NonNegative, NonNegativeFloat, Section

Calibration = Literal["none", "sigmoid", "isotonic"]
# The scorers ``auto`` gives each task, the first one primary.
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
FairnessMeasure = Literal["demographic_parity_difference", "demographic_parity_ratio",
                          "equalized_odds_difference", "equalized_odds_ratio"]


class BootstrapConfig(Section):
    """Seeded percentile-bootstrap intervals for every test metric (0 resamples: none)."""

    resamples: NonNegative = 1000
    """0 turns the intervals off."""
    confidence: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95


class OverfittingConfig(Section):
    """A training score above CV by more than ``max_gap`` (a fraction of it) is flagged."""

    max_gap: NonNegativeFloat = 0.05
    """Flag a run whose training score beats CV by more than this fraction of the CV score (the
    test score without CV)."""


class DiagnosticsConfig(Section):
    """Held-out diagnostics for the report and evaluation.json."""

    enabled: bool = True
    """Classification: confusion matrix, ROC and PR curves, calibration; regression: residuals,
    predicted vs actual, error by target decile."""
    calibration_bins: Annotated[int, Field(ge=2)] = 10
    """Bins of the reliability curve."""


class SlicesConfig(Section):
    columns: Names = []
    """Metrics per value of these columns, worst slice first."""
    bins: Annotated[int, Field(ge=2)] = 4
    """Numeric columns with many values are cut into this many quantiles."""


class FairnessLimit(Section):
    """The level of a measure that warns, and the one that fails the run (null: none)."""

    warn: NonNegativeFloat | None = None
    fail: NonNegativeFloat | None = None


class FairnessConfig(Section):
    sensitive: Names = []
    """fairlearn's MetricFrame by group of these columns (and their crossing)."""
    limits: dict[FairnessMeasure, FairnessLimit | None] = {
        "demographic_parity_difference": FairnessLimit(warn=0.1),
        "equalized_odds_difference": FairnessLimit(warn=0.1)}
    """Binary tasks: a difference above (a ratio below) a limit warns or fails; null switches a
    limit off."""


class ExplainConfig(Section):
    importance_repeats: NonNegative = 5
    """Permutation importance on the test rows (0 turns explanations off)."""
    dependence_features: NonNegative = 3
    """Partial dependence for this many of the most important columns."""
    max_rows: Annotated[int, Field(ge=1)] = 10_000
    """Explain a seeded sample of at most this many test rows."""


class MetricsConfig(Section):
    """``auto`` picks the scorers and the primary one by task."""

    primary: str = "auto"
    """auto: the task's first default scorer when it is among the scorers, else the first
    scorer."""
    scorers: Literal["auto"] | Annotated[list[str], Field(min_length=1)] = "auto"
    """scikit-learn scorer names, all "greater is better" (losses negated); auto picks by task
    (DEFAULT_SCORERS)."""
    bootstrap: BootstrapConfig = BootstrapConfig()
    overfitting: OverfittingConfig = OverfittingConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    calibration: Calibration = "none"
    """none | sigmoid | isotonic: calibrate the final model's probabilities on out-of-fold
    predictions of the training rows."""
    threshold: str | None = None
    """Binary only: tune the decision threshold on the CV folds' out-of-fold predictions for a
    scorer of labels (f1, balanced_accuracy, ...) or `cost`; the bundle then predicts with it."""
    costs: dict[Label, dict[Label, NonNegativeFloat]] | None = None
    """For threshold=cost: {actual: {predicted: cost}}, e.g. {bad: {good: 5}, good: {bad: 1}};
    unlisted cells cost 0."""
    slices: SlicesConfig = SlicesConfig()
    fairness: FairnessConfig = FairnessConfig()
    explain: ExplainConfig = ExplainConfig()

    @property
    def fits_on_folds(self) -> bool:
        """Whether the final fit also fits on every CV fold (calibration or a learned threshold
        learn from out-of-fold predictions), so it costs ``1 + folds`` fits."""
        return self.calibration != "none" or bool(self.threshold)

    def primary_for(self, task: str) -> str:
        """The primary scorer: ``auto`` is the task's first default, or the first scorer listed
        when that default is not among them."""
        default = DEFAULT_SCORERS[task][0]
        if self.primary != "auto":
            return self.primary
        return default if self.scorers == "auto" or default in self.scorers else self.scorers[0]

    @model_validator(mode="after")
    def _names(self) -> MetricsConfig:
        if self.scorers == "auto" and self.primary == "auto" and self.threshold is None:
            return self  # nothing named, so no need to import scikit-learn's list
        from sklearn.metrics import get_scorer, get_scorer_names

        from engine.config.schema.rules import check_name, refuse

        valid = get_scorer_names()
        names = [] if self.scorers == "auto" else list(self.scorers)
        for key, name in [("metrics.scorers", name) for name in names] + (
                [] if self.primary == "auto" else [("metrics.primary", self.primary)]):
            check_name(key, name, valid, "is not a scikit-learn scorer name",
                       "See sklearn.metrics.get_scorer_names() for the full list.")
        if self.threshold is not None:
            check_name("metrics.threshold", self.threshold, [*valid, "cost"],
                       "is neither a scikit-learn scorer name nor 'cost'",
                       "Use e.g. f1, balanced_accuracy, or cost with metrics.costs.")
        if self.threshold not in (None, "cost") and \
                get_scorer(self.threshold)._response_method != "predict":
            refuse(f"metrics.threshold: {self.threshold} scores probabilities, so no threshold "
                   "changes it. Use a scorer of predicted labels such as f1, balanced_accuracy "
                   "or accuracy, or cost.")
        if self.threshold == "cost" and not self.costs:
            refuse("metrics.threshold: cost needs metrics.costs, e.g. 'metrics.costs={bad: "
                   "{good: 5}, good: {bad: 1}}' (actual -> predicted -> cost).")
        return self
