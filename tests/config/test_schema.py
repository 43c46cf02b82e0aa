"""The config schema: every mistake found before any data loads, in one line naming the key.

In-process, as the CLI composes; two tests prove the CLI contract (exit 2, no traceback).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from omegaconf import OmegaConf
from pydantic import BaseModel

from engine.config.compose import CONFIG_DIR, compose_spec
from engine.config.defaults import schema_defaults
from engine.config.schema import (
    GROUPS,
    DeployConfig,
    ExperimentConfig,
    FeaturesConfig,
    LifecycleConfig,
    MetricsConfig,
    MonitorConfig,
    QualityConfig,
    SplitConfig,
    TuneConfig,
    json_schema,
    parse_dataset,
    parse_experiment,
    parse_section,
)
from engine.config.schema.dataset import DatasetConfig
from engine.config.schema.metrics import FairnessLimit
from engine.errors import ConfigError
from engine.experiment import validate_spec
from engine.models.estimators import model_classes
from engine.sweep_preflight import preflight_sweep
from tests.conftest import run_cli


def refused(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_spec(compose_spec(overrides))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("+metrics.bootstrapp={resamples: 10}",
         "metrics.bootstrapp: unknown key. Did you mean 'bootstrap'?"),
        ("+split.cv.shufle=false", "split.cv.shufle: unknown key. Did you mean 'shuffle'?"),
        ("+quality.max_missing=0.3",
         "quality.max_missing: unknown key. Did you mean 'max_missing_fraction'?"),
        ("+features.transformers.numeric.colums=[a]",
         "features.transformers.numeric.colums: unknown key. Did you mean 'columns'?"),
        ("+deploy.rest.prot=80", "deploy.rest.prot: unknown key. Did you mean 'port'?"),
    ],
)  # fmt: skip
def test_a_sweep_preflight_refuses_a_typo_in_every_group(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"sweep job 0 .*" + re.escape(message) +
                       ".* No job was started"):
        preflight_sweep(["seed=1,2", override])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["split.cv.shuffle='false'"], "split.cv.shuffle: must be true or false; got 'false'."),
        (["deploy=rest", "deploy.rest.port=abc"],
         "deploy.rest.port: must be an integer, got 'abc'. Use e.g. deploy.rest.port=8080."),
        (["deploy=rest", "deploy.rest.port=70000"],
         "deploy.rest.port: 70000 is not a whole number in [1, 65535]."),
        (["tune=tpe", "tune.objectives=[roc_acu]"],
         "tune.objectives: 'roc_acu' is neither a scikit-learn scorer name, auto, nor a cost. "
         "Did you mean 'roc_auc'?"),
        (["tune=cmaes", "tune.objectives=[roc_auc,fit_time]"],
         "tune.method=cmaes: cannot search 2 objectives at once."),
        (["tune=tpe", "tune.sampler_options={n_startup_trails: 5}"],
         "tune.sampler_options.n_startup_trails: TPESampler has no parameter 'n_startup_trails'."
         " Did you mean 'n_startup_trials'?"),
        (["tune=tpe", "tune.pruner=median", "tune.pruner_options={n_warmup: 2}"],
         "tune.pruner_options.n_warmup: MedianPruner has no parameter 'n_warmup'."),
        (["tune=tpe", "tune.n_trials=0"], "tune.n_trials: 0 is not a whole number >= 1."),
        (["tune=tpe", "tune.study_name='a b'"], "tune.study_name: 'a b' cannot name a study file"),
        (["split.cv.strategy=stratified_group"],
         "split.cv.strategy=stratified_group needs dataset.group_column"),
        (["split.cv.strategy=timeseries"],
         "split.cv.strategy=timeseries needs dataset.time_column"),
        (["split=repeated", "metrics.calibration=sigmoid"],
         "split.cv.strategy=repeated: metrics.threshold and metrics.calibration learn from "
         "out-of-fold predictions"),
        (["tune=tpe", "split=holdout"],
         "tune.method=tpe: a search scores each trial by cross-validation"),
        (["tune=nsga2", "tune.objectives=[roc_auc,fit_time]", "tune.pick={objective: fit_tme}"],
         "tune.pick.objective: 'fit_tme' is not one of this run's objectives ['roc_auc', "
         "'fit_time']. Did you mean 'fit_time'?"),
        (["tune=nsga2", "dataset.task=binary", "tune.objectives=[auto,fit_time]",
          "tune.pick={objective: roc_au}"],
         "tune.pick.objective: 'roc_au' is not one of this run's objectives ['roc_auc', "
         "'fit_time']. Did you mean 'roc_auc'?"),
        (["tune=tpe", "metrics.primary=accuracy", "tune.pick={objective: acuracy}"],
         "tune.pick.objective: 'acuracy' is not one of this run's objectives ['accuracy']. "
         "Did you mean 'accuracy'?"),
        (["model._target_=sklearn.cluster.KMeans", "~model.learning_rate", "~model.max_iter",
          "~model.max_leaf_nodes", "~model.min_samples_leaf", "~model.l2_regularization",
          "~model.early_stopping", "~model.search_space"],
         "model._target_: sklearn.cluster.KMeans is neither a scikit-learn classifier nor a "
         "regressor"),
        (["metrics.threshold=f2"], "metrics.threshold: 'f2' is neither a scikit-learn scorer"),
        (["metrics.threshold=roc_auc"], "metrics.threshold: roc_auc scores probabilities, so no "
                                        "threshold changes it."),
        (["split.test_size=0", "metrics.slices.columns=age"],
         "metrics.slices / metrics.fairness: they are measured on the test rows, but "
         "split.test_size is 0."),
        (["metrics.bootstrap.confidence=1.5"],
         "metrics.bootstrap.confidence: 1.5 is not a number between 0.0 and 1.0 (both "
         "excluded)."),
        (["+metrics.fairness.limits.parity={warn: 0.1}"],
         "metrics.fairness.limits: unknown measure 'parity'."),
        (["+quality.severity.leakge=info"],
         "quality.severity: unknown check 'leakge'. Did you mean 'leakage'?"),
        (["deploy.targets=[bundle,onx]"],
         "deploy.targets[1]: unknown target 'onx'. Did you mean 'onnx'?"),
        (["dataset.drop=5"], "dataset.drop: expected a list of column names, got 5."),
    ],
)  # fmt: skip
def test_mistakes_that_need_no_data_are_refused_up_front(overrides: list[str],
                                                          message: str) -> None:
    refused(overrides, message)


@pytest.mark.parametrize(("overrides", "message"), [
    (["metrics.scorers=[]"], "metrics.scorers is empty; give it at least 1 entry."),
    (["metrics.scorers=roc"], "metrics.scorers: expected a list of scikit-learn scorer names"),
    (["tune=tpe", "tune.pruner=median", "tune.pruner_options={n_warmup_steps: -1}"],
     "tune.pruner_options: MedianPruner refuses {'n_warmup_steps': -1}: Number of warmup steps "
     "cannot be negative"),
    (["tune=tpe", "tune.pruner=none", "tune.pruner_options={n_warmup_steps: 1}"],
     "tune.pruner_options: tune.pruner is none, which takes no options"),
    (["dataset.dtypes={mean radius: flaot64}"],
     "dataset.dtypes.mean radius: unknown dtype 'flaot64'. Did you mean 'float64'?"),
    (["dataset=titanic", "dataset.read_options={sepp: ';'}"],
     "dataset.read_options.sepp: pandas.read_csv has no option 'sepp'. Did you mean 'sep'?"),
    (["features.transformers.numeric.dtype=numerc"],
     "features.transformers.numeric.dtype: 'numerc' is neither a kind of column nor a pandas "
     "dtype. Did you mean 'numeric'?"),
    (["dataset=synthetic_text", "dataset.n_classes=7"],
     "dataset.n_classes: synthetic text has 5 topics"),
    (["~dataset.source"], "dataset.source is required but is not set; it says which kind of "
                          "dataset this is. Valid options: file, sklearn, sql, synthetic."),
])  # fmt: skip
def test_option_values_and_missing_tags_are_refused_up_front(overrides: list[str],
                                                            message: str) -> None:
    refused(overrides, message)


def test_a_misspelt_pick_objective_is_refused_before_the_data_loads(in_process_cli) -> None:
    missing = ("dataset=titanic", "dataset.path=/nonexistent/churn.csv", "tune=nsga2",
               "tune.objectives=[auto,fit_time]")
    typo = in_process_cli(*missing, "tune.pick={objective: fit_tme}")
    assert typo.returncode == 2
    assert typo.stderr.strip() == ("error: tune.pick.objective: 'fit_tme' is not one of this "
                                   "run's objectives ['auto', 'fit_time']. Did you mean "
                                   "'fit_time'?")
    loads = in_process_cli(*missing, "tune.pick={objective: fit_time}")  # reaches the data
    assert loads.returncode == 2 and "'/nonexistent/churn.csv' does not exist" in loads.stderr
    # While the data has not said the task, auto may be any task's primary metric.
    compose_spec(["tune=nsga2", "tune.objectives=[auto,fit_time]",
                  "tune.pick={objective: neg_root_mean_squared_error}"])


def test_null_means_the_default_and_switches_a_fairness_limit_off() -> None:
    spec = compose_spec(["dataset.drop=null", "metrics.calibration=null", "tune=tpe",
                         "tune.pruner=null",
                         "metrics.fairness.limits.demographic_parity_difference=null"])
    # tune.pruner's default, auto, is median for a search of one objective.
    assert (spec.dataset.dropped, spec.metrics.calibration, spec.tune.pruner) == ([], "none",
                                                                                   "median")
    assert spec.metrics.fairness.limits == {"demographic_parity_difference": None,
                                            "equalized_odds_difference": FairnessLimit(warn=0.1)}


@pytest.mark.parametrize(("overrides", "family"), [
    (["dataset=diabetes", "model=ridge", "model._target_=sklearn.linear_model.Ridge"],
     "regression"),
    (["model=random_forest", "model._target_=sklearn.ensemble.RandomForestClassifier"],
     "classification"),
])
def test_one_class_as_target_serves_the_family_it_learns(overrides: list[str],
                                                        family: str) -> None:
    spec = compose_spec(overrides)
    validate_spec(spec)
    assert list(model_classes(spec.model)) == [family]


def test_a_dataset_file_states_only_what_differs_from_the_defaults() -> None:
    dataset = parse_dataset({"source": "file", "path": "churn.csv", "target": "churned"})
    assert (dataset.format, dataset.task, dataset.dropped, dataset.na_values) == (
        "auto", "auto", [], None)
    with pytest.raises(ConfigError, match=r"dataset.path is required but is not set"):
        parse_dataset({"source": "file", "target": "churned"})
    with pytest.raises(ConfigError, match=r"dataset.source: unknown source 'csv'. "
                                          r"Valid options: file, sklearn, sql, synthetic."):
        parse_dataset({"source": "csv", "path": "churn.csv"})


def test_a_tune_file_without_studies_dir_keeps_studies_beside_the_runs() -> None:
    experiment = parse_experiment({"dataset": {"source": "sklearn", "loader": "iris"},
                                   "model": {}, "paths": {"output_dir": "/srv/runs"},
                                   "tune": {"method": "tpe", "n_trials": 5}})
    assert experiment.tune.studies_dir == "/srv/runs/studies"


def test_values_are_strict() -> None:
    assert parse_section(SplitConfig, {"cv": {"shuffle": False}}).cv.shuffle is False
    for bad in ("false", 0, "no"):
        with pytest.raises(ConfigError, match=r"split\.cv\.shuffle: must be true or false"):
            parse_section(SplitConfig, {"cv": {"shuffle": bad}}, "split.")
    with pytest.raises(ConfigError, match=r"tune\.n_jobs: must be an integer, got True"):
        parse_section(TuneConfig, {"n_jobs": True}, "tune.")
    assert parse_section(TuneConfig, {"pick": None}).pick.within == 0.0  # null: the defaults


def test_settings_are_frozen() -> None:
    settings = parse_section(DeployConfig, {"targets": ["bundle", "onnx"]})
    with pytest.raises(ValueError, match="frozen"):
        settings.rest.port = 1  # type: ignore[misc]


GROUP_MODELS: dict[str, Any] = {
    "features": FeaturesConfig, "split": SplitConfig, "metrics": MetricsConfig,
    "tune": TuneConfig, "deploy": DeployConfig, "monitor": MonitorConfig,
    "lifecycle": LifecycleConfig,
}


def _fields(model: Any) -> set[str]:
    return set(model.model_fields)


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*/*.yaml")), ids=lambda p: p.stem)
def test_every_key_of_every_shipped_group_file_is_known_to_its_schema(path: Path) -> None:
    group = path.parent.name
    values = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(values, dict)
    values.pop("defaults", None)
    if group == "dataset":
        members = {get_args(m.model_fields["source"].annotation)[0]: m
                   for m in get_args(DatasetConfig)}
        assert set(values) <= _fields(members[values["source"]])
    elif group in GROUP_MODELS:
        _assert_known(values, GROUP_MODELS[group], group)
    elif group == "experiment":
        for key, section in values.items():
            if key in GROUP_MODELS:
                _assert_known(section, GROUP_MODELS[key], key)
            else:
                assert key in ExperimentConfig.model_fields, key


def _assert_known(values: dict[str, Any], model: type[BaseModel], where: str) -> None:
    for key, value in values.items():
        assert key in model.model_fields, f"{where}.{key}"
        inner = model.model_fields[key].default
        if isinstance(value, dict) and isinstance(inner, BaseModel):
            _assert_known(value, type(inner), f"{where}.{key}")


DEFAULTED_GROUPS = ("split", "metrics", "tune", "deploy", "monitor", "lifecycle")


@pytest.mark.parametrize("path", sorted(path.relative_to(CONFIG_DIR) for group in DEFAULTED_GROUPS
                                        for path in (CONFIG_DIR / group).glob("*.yaml")),
                         ids=str)
def test_group_files_state_only_what_differs_from_the_schema(path: Path) -> None:
    """Defaults have one home, the schema: a shipped group file extends the schema's node (or a
    sibling that does) and states only the values it changes."""
    stated = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / path))
    assert isinstance(stated, dict)
    parents = stated.pop("defaults")
    group = path.parts[0]
    base = OmegaConf.create(schema_defaults()[group])
    assert parents[0] == f"/{group}_defaults@_here_" or (CONFIG_DIR / group /
                                                           f"{parents[0]}.yaml").is_file()
    if not parents[0].startswith("/"):
        sibling = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / group /
                                                        f"{parents[0]}.yaml"))
        assert isinstance(sibling, dict)
        sibling.pop("defaults")
        base = OmegaConf.merge(base, sibling)
    assert parents[-1] == "_self_"
    assert _same_leaves(stated, OmegaConf.to_container(base, resolve=False)) == []


def _same_leaves(stated: dict[str, Any], base: dict[str, Any], where: str = "") -> list[str]:
    """The keys ``stated`` sets to the value ``base`` already has."""
    same = []
    for key, value in stated.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            same += _same_leaves(value, base[key], f"{where}{key}.")
        elif key in base and base[key] == value:
            same.append(f"{where}{key}")
    return same


def test_every_default_is_in_the_composed_config() -> None:
    """The schema's defaults reach the composed config, so each key is overridable without '+'
    and --cfg job shows it."""
    config = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "config.yaml"))
    assert isinstance(config, dict)
    spec = compose_spec(["split.cv.n_splits=3", "metrics.explain.max_rows=50",
                         "tune.pick.within=0.01", "deploy.registry.alias=staging",
                         "monitor.drift.drift_share=0.3", "dataset=titanic",
                         "dataset.na_values=[NA]"])
    assert (spec.split.cv.n_splits, spec.metrics.explain.max_rows) == (3, 50)
    assert (spec.tune.pick.within, spec.deploy.registry.alias) == (0.01, "staging")
    assert (spec.monitor.drift.drift_share, spec.dataset.na_values) == (0.3, ["NA"])
    relaxed = compose_spec(["quality.severity.leakage=info", "seed=7"])
    assert relaxed.quality.severity == {**QualityConfig().severity, "leakage": "info"}
    assert relaxed.seed == 7
    # config.yaml states no default of its own: only the choices and Hydra's settings
    assert set(config) == {"defaults", "hydra"}


def test_the_json_schema_lists_every_group_and_forbids_unknown_keys(tmp_path: Path) -> None:
    schema = json_schema()
    assert set(schema["properties"]) >= {"dataset", "features", "split", "model", "metrics",
                                          "tune", "deploy", "quality", "seed"}
    assert schema["$defs"]["CVConfig"]["additionalProperties"] is False
    assert schema["$defs"]["CVConfig"]["properties"]["strategy"]["enum"][:2] == ["auto", "none"]
    done = run_cli(["schema", "-o", str(tmp_path / "engine.schema.json")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "engine.schema.json").read_text()) == schema


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_each_group_schema_checks_its_files_in_an_editor(group: str) -> None:
    """What a YAML editor does with ``schema --group``: every shipped file passes, a typo not."""
    schema = json_schema(group)
    files = sorted((CONFIG_DIR / group).glob("*.yaml"))
    for path in files:
        values = OmegaConf.to_container(OmegaConf.load(path))
        assert isinstance(values, dict)
        values.pop("defaults", None)
        jsonschema.validate(values, schema)
    with pytest.raises(jsonschema.ValidationError,
                       match=r"Additional properties|not valid under any of the given schemas"):
        jsonschema.validate({**values, "colour_of_the_sky": 1}, schema)


def test_the_cli_prints_one_line_and_exits_2_before_any_data(tmp_path: Path) -> None:
    done = run_cli(["deploy=rest", "deploy.rest.port=abc"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == ("error: deploy.rest.port: must be an integer, got 'abc'. "
                                   "Use e.g. deploy.rest.port=8080.")
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("metrics.json"))  # nothing was trained


def test_effective_values_show_every_default(tmp_path: Path) -> None:
    done = run_cli(["schema", "--effective", "split.cv.n_splits=3"], tmp_path)
    assert done.returncode == 0, done.stderr
    effective = OmegaConf.create(done.stdout)
    assert effective.split.cv.n_splits == 3
    assert effective.tune.max_failure_fraction == 0.5
    assert effective.deploy.rest.port == 8080


@pytest.mark.parametrize("option", sorted(path.stem for path in (CONFIG_DIR / "deploy").glob(
    "*.yaml")))
def test_deploy_settings_live_in_one_file_and_need_no_plus(option: str) -> None:
    """bundle.yaml states every deploy setting (the schema's defaults, as the test above pins);
    the other deploy files only add their target, so any setting is an override away."""
    stated = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "deploy" / f"{option}.yaml"))
    if option != "bundle":
        assert stated == {"defaults": ["bundle", "_self_"], "targets": ["bundle", option]}
    spec = compose_spec([f"deploy={option}", "deploy.registry.name=churn",
                         "deploy.rest.port=9000", "deploy.quantize=null"])
    assert (spec.deploy.registry.name, spec.deploy.rest.port) == ("churn", 9000)
    assert spec.deploy.registry.alias == "challenger"
