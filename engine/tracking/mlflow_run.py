"""Log a finished run directory to MLflow: params, metrics, tags, artifacts, the model, the
search's trials (nested, when asked) and the registry entry (mirrored).

Called after run.json is written, so the run directory is complete whatever happens here: a
store that cannot be reached is a warning, never a failed experiment.
"""

from __future__ import annotations

import time
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from mlflow.utils.requirements_utils import warn_dependency_requirement_mismatches

from engine.config.schema.tracking import TrackingConfig
from engine.deploy.bundle import BUNDLE_DIR, MANIFEST_FILE
from engine.errors import first_line
from engine.tracking.files import locked_folder, write_json
from engine.tracking.mlflow_registry import mirror_version
from engine.tracking.mlflow_store import Store, TrackingUnavailable
from engine.tracking.mlflow_sweep import parent_run_id
from engine.tracking.mlflow_tracker import WARNING_FILE
from engine.tracking.mlflow_values import (
    BUNDLE_ARTIFACT,
    TAG_PREFIX,
    flat_params,
    read_run,
    run_metrics,
    run_tags,
)
from engine.tracking.registry_mirror import MLFLOW_FILE, logged_record

MODEL_CODE = Path(__file__).with_name("mlflow_pyfunc.py")
REPORT_FILE = "report.html"
TRIALS_FILE = Path("tuning") / "trials.csv"


def log_run(run_dir: Path, settings: TrackingConfig, store: Store) -> dict[str, Any]:
    """Log ``run_dir`` to ``store`` and write mlflow.json; what was logged. A store that
    fails is TrackingUnavailable with the reason."""
    try:
        logged = _log(run_dir, settings, store)
    except (TrackingUnavailable, MlflowException, OSError) as error:
        raise TrackingUnavailable(first_line(error)) from None
    write_json(run_dir / MLFLOW_FILE, logged)
    return logged


def log_once(run_dir: Path, settings: TrackingConfig, store: Store) -> dict[str, Any]:
    """:func:`log_run`, unless the run is logged already (its mlflow.json): one process at a
    time logs a run (a background helper, ``runs sync``), so none is logged twice."""
    with locked_folder(run_dir):
        logged = logged_record(run_dir)
        if logged is not None:
            return logged
        (run_dir / WARNING_FILE).unlink(missing_ok=True)  # not copied to MLflow with the run
        return log_run(run_dir, settings, store)


def _log(run_dir: Path, settings: TrackingConfig, store: Store) -> dict[str, Any]:
    client = store.client
    metrics, run = read_run(run_dir)
    _delete_unfinished(store, run.run_dir)
    parent = parent_run_id(run_dir)
    tags = run_tags(run) | ({MLFLOW_PARENT_RUN_ID: parent} if parent else {})
    created = client.create_run(store.experiment_id, tags=tags,
                                run_name=f"{run.dataset.name}-{run.model}-{run_dir.name}")
    run_id = created.info.run_id
    stamp = int(time.time() * 1000)
    client.log_batch(run_id, params=[Param(k, v) for k, v in flat_params(run_dir).items()],
                     metrics=[Metric(name, value, stamp, step)
                              for name, values in run_metrics(metrics, run).items()
                              for step, value in enumerate(values)])
    if (run_dir / REPORT_FILE).is_file():
        client.log_artifact(run_id, str(run_dir / REPORT_FILE))
    client.log_artifacts(run_id, str(run_dir), "run")
    logged: dict[str, Any] = {"tracking_uri": store.uri, "experiment_id": store.experiment_id,
                              "run_id": run_id, **({"parent_run_id": parent} if parent else {})}
    if settings.log_model and (run_dir / BUNDLE_DIR / MANIFEST_FILE).is_file():
        logged["model_uri"] = _log_model(store.uri, run_id, run_dir / BUNDLE_DIR)
        entry = run.deploy.get("registry")
        if entry:
            logged["registered"] = mirror_version(client, store.uri, entry,
                                                  logged["model_uri"])
    if settings.nested_trials and (run_dir / TRIALS_FILE).is_file():
        logged["trial_runs"] = _log_trials(store, run_id, pd.read_csv(run_dir / TRIALS_FILE))
    client.set_terminated(run_id, RunStatus.to_string(
        RunStatus.FINISHED if run.status == "ok" else RunStatus.FAILED))
    return logged


def _delete_unfinished(store: Store, run_dir: str) -> None:
    """Delete what an attempt to log ``run_dir`` that was stopped left in MLflow: a run never
    ended, tagged with the directory, and its trials' runs."""
    client = store.client
    for found in client.search_runs([store.experiment_id],
                                    filter_string="attributes.status = 'RUNNING'"):
        if found.data.tags.get(f"{TAG_PREFIX}run_dir") != run_dir:
            continue
        nested = f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{found.info.run_id}'"
        for trial in client.search_runs([store.experiment_id], filter_string=nested):
            client.delete_run(trial.info.run_id)
        client.delete_run(found.info.run_id)


def _log_model(uri: str, run_id: str, bundle: Path) -> str:
    """Log the bundle as a pyfunc model (code, not a pickle); return its model URI."""
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model", python_model=str(MODEL_CODE),
            artifacts={BUNDLE_ARTIFACT: str(bundle)}, pip_requirements=model_requirements())
    return str(info.model_uri)


def model_requirements() -> list[str]:
    """What the pyfunc model needs installed: this engine and MLflow's client."""
    return [f"engine=={metadata.version('engine')}", f"mlflow-skinny=={mlflow.__version__}"]


def warm_up() -> None:
    """What a process's first model log does once, done ahead: the model code's imports, and
    MLflow's check of the model's requirements against the installed packages (whose map of
    every package to its modules takes a second to build, then is cached)."""
    import engine.tracking.mlflow_pyfunc  # noqa: F401  (what loading the model code imports)

    warn_dependency_requirement_mismatches(model_requirements())


TRIAL_STATUS = {"COMPLETE": RunStatus.FINISHED, "PRUNED": RunStatus.KILLED,
                "FAIL": RunStatus.FAILED}
TRIAL_COLUMNS = ("number", "state", "duration_s", "pruned_at_step", "worker", "error")


def _log_trials(store: Store, run_id: str, trials: pd.DataFrame) -> int:
    """One nested run per trial of the search: its params, objective values and seconds."""
    client = store.client
    objectives = [c for c in trials.columns
                  if c not in TRIAL_COLUMNS and not c.startswith("param_")]
    for row in trials.to_dict("records"):
        trial = client.create_run(store.experiment_id, run_name=f"trial {row['number']}",
                                  tags={MLFLOW_PARENT_RUN_ID: run_id,
                                        "engine.trial_state": str(row["state"])})
        client.log_batch(
            trial.info.run_id,
            params=[Param(c.removeprefix("param_"), str(row[c])) for c in trials.columns
                    if c.startswith("param_") and not pd.isna(row[c])],
            metrics=[Metric(c, float(row[c]), int(time.time() * 1000), 0)
                     for c in [*objectives, "duration_s"] if not pd.isna(row[c])])
        client.set_terminated(trial.info.run_id, RunStatus.to_string(
            TRIAL_STATUS.get(str(row["state"]), RunStatus.FAILED)))
    return len(trials)
