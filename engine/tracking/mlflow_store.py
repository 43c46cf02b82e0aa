"""The MLflow store a run is logged to: its URI made absolute, the server asked first, the
experiment found or created. Imports MLflow: only reached when ``tracking=mlflow``."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

from engine.config.schema.tracking import TrackingConfig
from engine.errors import first_line
from engine.tracking.files import locked_folder
from engine.tracking.run_index import ARTIFACTS_DIR

SQLITE = "sqlite:///"
PROBE_SECONDS = 3.0
# A server that stops answering mid-run is retried a little, not for MLflow's default minutes;
# the engine's console, not MLflow's progress bars and INFO lines, says what was logged.
CLIENT_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
                   "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


class TrackingUnavailable(Exception):
    """The store cannot be reached now; the run is complete without it (a warning)."""


def failure_reason(error: Exception) -> str:
    """Why logging failed, in a line: the error's first line, with its type when neither the
    engine nor MLflow said what failed (a database driver's own error)."""
    if isinstance(error, TrackingUnavailable | MlflowException | OSError):
        return first_line(error)
    return f"{type(error).__name__}: {first_line(error)}"


@dataclass(frozen=True)
class Store:
    """A connected MLflow store and the experiment runs go to."""

    client: MlflowClient
    uri: str
    experiment_id: str


def store_uri(settings: TrackingConfig, project_dir: Path) -> str:
    """``tracking_uri`` with a relative SQLite path made absolute against the project."""
    uri = settings.tracking_uri
    if uri.startswith(SQLITE) and not uri.startswith(SQLITE + "/"):
        return SQLITE + str((project_dir / uri[len(SQLITE):]).resolve())
    return uri


def open_store(settings: TrackingConfig, project_dir: Path) -> Store:
    """Connect to the store (a server is asked first, for a quick answer when it is down) and
    find or create the experiment; a local store's artifacts go beside its database."""
    uri = store_uri(settings, project_dir)
    if not uri.startswith(SQLITE):
        client = connect(uri)
        return Store(client, uri, _experiment_id(client, settings.experiment_name, None))
    folder = Path(uri[len(SQLITE):]).parent
    folder.mkdir(parents=True, exist_ok=True)
    # MLflow creates or upgrades the database's tables on first use, which two processes (a
    # run's helper and `runs sync`, a sweep's jobs) must not do at once.
    with locked_folder(folder):
        client = connect(uri)
        return Store(client, uri, _experiment_id(client, settings.experiment_name,
                                                 (folder / ARTIFACTS_DIR).as_uri()))


def connect(uri: str) -> MlflowClient:
    """A client of the store at ``uri`` with the engine's retry and logging settings; a server
    is asked first (:func:`probe`)."""
    for name, value in CLIENT_SETTINGS.items():
        os.environ.setdefault(name, value)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    if not uri.startswith(SQLITE):
        probe(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _experiment_id(client: MlflowClient, name: str, artifacts: str | None) -> str:
    """The experiment's id; created if missing (a parallel job may create it first)."""
    for _ in range(2):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        try:
            return str(client.create_experiment(name, artifact_location=artifacts))
        except MlflowException as error:
            if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
    raise TrackingUnavailable(f"experiment '{name}' could be neither found nor created")


def probe(uri: str) -> None:
    """Open a connection to a server's port; refused or silent is TrackingUnavailable."""
    parts = urlsplit(uri)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    if not parts.hostname or not port:
        return  # a database URI: its driver answers for itself
    try:
        socket.create_connection((parts.hostname, port), timeout=PROBE_SECONDS).close()
    except OSError as error:
        raise TrackingUnavailable(f"the server at {uri} does not answer "
                                  f"({error.strerror or error})") from None
