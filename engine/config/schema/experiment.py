"""The whole experiment config: one section per group, and the rules that span groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from engine.config.schema.base import Section, Workers
from engine.config.schema.card import CardConfig
from engine.config.schema.dataset import TaggedDataset
from engine.config.schema.deploy import DeployConfig
from engine.config.schema.features import FeaturesConfig
from engine.config.schema.lifecycle import LifecycleConfig
from engine.config.schema.metrics import DEFAULT_SCORERS, MetricsConfig
from engine.config.schema.monitor import MonitorConfig
from engine.config.schema.quality import QualityConfig
from engine.config.schema.rules import refuse
from engine.config.schema.split import NEEDS_GROUPS, NEEDS_TIME, UNPARTITIONED, SplitConfig
from engine.config.schema.tracking import TrackingConfig
from engine.config.schema.tune import TuneConfig


class PathsConfig(Section):
    """Where data comes from and runs land."""

    shared_data: str = "../shared/data"
    output_dir: str = "outputs"


class ExperimentConfig(Section):
    """One composed experiment; the model section is checked against its class's signature."""

    paths: PathsConfig = PathsConfig()
    dataset: TaggedDataset
    features: FeaturesConfig = FeaturesConfig()
    split: SplitConfig = SplitConfig()
    model: dict[str, Any]
    metrics: MetricsConfig = MetricsConfig()
    tune: TuneConfig = TuneConfig()
    deploy: DeployConfig = DeployConfig()
    monitor: MonitorConfig = MonitorConfig()
    lifecycle: LifecycleConfig = LifecycleConfig()
    """How a deployed model is retrained and promoted (``retrain``, ``lifecycle run``)."""
    quality: QualityConfig = QualityConfig()
    card: CardConfig = CardConfig()
    """What only people know about the model, for its MODEL_CARD.md."""
    tracking: TrackingConfig = TrackingConfig()
    """Where each run is logged besides its run directory (MLflow)."""
    budget: Annotated[float, Field(gt=0.0)] | None = None
    """Seconds of wall time for the whole command (loading, checks, search, refit, evaluation,
    writing); the search gets what is left after a reserve for the stages after it. null: no
    limit."""
    seed: int = 42
    """Seeds every split, sample, model and search: the same config and seed give the same
    metrics."""
    n_jobs: Workers = 1
    """Worker processes for cross-validation (-1 = every core)."""
    report: bool = True
    """Write report.html, a self-contained page of the run's scores, plots, slices and
    fairness."""
    allowed_targets: list[str] = []
    """Module prefixes a `_target_` may load beyond engine., sklearn., torch. and optuna."""

    @model_validator(mode="before")
    @classmethod
    def _studies_beside_the_runs(cls, values: Any) -> Any:
        """A tune file that leaves ``studies_dir`` out keeps its studies under the run's
        ``paths.output_dir``, as the shipped ones say (``${paths.output_dir}/studies``)."""
        if not isinstance(values, dict) or not isinstance(values.get("tune"), dict) or \
                values["tune"].get("studies_dir") is not None:
            return values
        paths = values.get("paths") if isinstance(values.get("paths"), dict) else {}
        output_dir = (paths or {}).get("output_dir") or PathsConfig().output_dir
        return {**values, "tune": {**values["tune"], "studies_dir": f"{output_dir}/studies"}}

    @field_validator("allowed_targets", mode="before")
    @classmethod
    def _prefixes(cls, value: Any) -> Any:
        if not isinstance(value, list):
            refuse(f"allowed_targets: expected a list of module prefixes, got {value!r}. Write "
                   f"it as a list: 'allowed_targets=[{value}]'.")
        for prefix in value:
            if not isinstance(prefix, str) or not prefix.endswith("."):
                refuse(f"allowed_targets: {prefix!r} must be a module prefix ending in '.', such"
                       " as 'mypackage.', so that it cannot also allow 'mypackage_other'.")
        return value

    @model_validator(mode="after")
    def _across_groups(self) -> ExperimentConfig:
        split, dataset = self.split, self.dataset
        for key, strategy in (("split.test_strategy", split.test_strategy),
                              ("split.cv.strategy", split.cv.strategy)):
            if strategy in NEEDS_GROUPS and not dataset.group_column:
                refuse(f"{key}={strategy} needs dataset.group_column (the column whose values "
                       "group rows, e.g. a patient id), which is not set. Set it, e.g. "
                       "dataset.group_column=patient_id, or use split=default.")
            if strategy in NEEDS_TIME and not dataset.time_column:
                refuse(f"{key}={strategy} needs dataset.time_column (the column giving each "
                       "row's time), which is not set. Set it, e.g. dataset.time_column=date, "
                       "or use split=default.")
        if self.tune.searching and split.cv.strategy == "none":
            refuse(f"tune.method={self.tune.method}: a search scores each trial by "
                   "cross-validation, but split.cv.strategy is none. Use split=default (or set "
                   "split.cv.strategy).")
        if self.metrics.fits_on_folds and split.cv.strategy in UNPARTITIONED:
            refuse(f"split.cv.strategy={split.cv.strategy}: metrics.threshold and "
                   "metrics.calibration learn from out-of-fold predictions, which need folds that "
                   "cover each training row once (kfold, stratified, group, stratified_group or "
                   "auto). Change the split or drop those options.")
        if self.tune.searching and self.tune.ensemble.size:
            _check_ensemble(self.tune.ensemble.size, split.cv.strategy, self.deploy.targets)
        if split.test_size == 0 and (self.metrics.slices.columns or
                                     self.metrics.fairness.sensitive):
            refuse("metrics.slices / metrics.fairness: they are measured on the test rows, but "
                   "split.test_size is 0. Give the split a test share (e.g. 0.2).")
        tune = self.tune
        if tune.searching and tune.n_trials is None and tune.timeout is None and \
                self.budget is None and not tune.auto:
            refuse("tune: give a budget: budget=<seconds> (the whole command), "
                   "tune.n_trials=<count>, tune.timeout=<seconds> (the search), or several.")
        if self.tune.searching:
            tasks = DEFAULT_SCORERS if dataset.task == "auto" else [dataset.task]
            self.tune.check_pick(list(dict.fromkeys(self.metrics.primary_for(t) for t in tasks)))
        return self


def _check_ensemble(size: int, strategy: str, targets: Sequence[str]) -> None:
    """An ensemble learns from out-of-fold predictions and exports to neither ONNX nor
    TorchScript."""
    if strategy in UNPARTITIONED:
        refuse(f"tune.ensemble.size={size}: the ensemble is selected on out-of-fold predictions, "
               f"which need folds that cover each training row once, but split.cv.strategy="
               f"{strategy}. Use kfold, stratified, group, stratified_group or auto, or set "
               "tune.ensemble.size=0.")
    exports = [target for target in targets if target in ("onnx", "torchscript")]
    if exports:
        refuse(f"deploy.targets: {' and '.join(exports)} cannot export an ensemble "
               f"(tune.ensemble.size={size}); the bundle serves it. Drop {exports[0]} from "
               "deploy.targets, or set tune.ensemble.size=0.")
