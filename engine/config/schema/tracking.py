"""``tracking``: where each run is logged besides its run directory (``none``, or MLflow).

The URI's form is checked here, with the config; whether MLflow is installed and the host
resolves is checked before any data loads (:func:`engine.tracking.mlflow_checks.check_tracking`).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import field_validator

from engine.config.schema.base import Section
from engine.config.schema.rules import refuse
from engine.errors import did_you_mean, options_hint

SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql")
"""Tracking URI schemes MLflow's client logs to; a database scheme may name its driver
(``postgresql+psycopg``)."""


class TrackingConfig(Section):
    """The tracking backend and, for MLflow, the store, experiment and what is logged."""

    backend: Literal["none", "mlflow"] = "none"
    """``mlflow`` logs each run (params, metrics, tags, artifacts, model) to ``tracking_uri``."""
    tracking_uri: str = "sqlite:///outputs/mlflow.db"
    """The MLflow store: a local SQLite file (``sqlite:///outputs/mlflow.db``), a tracking server
    (``http://host:5000``) or a database (``postgresql+psycopg://user@host/db``)."""
    experiment_name: str = "engine"
    """The MLflow experiment the runs are logged under, created on first use."""
    log_model: bool = True
    """Log the model as an MLflow pyfunc model (loaded through the engine's bundle checks)."""
    nested_trials: bool = False
    """Log each trial of a search (tune=...) as a nested run under the run."""
    wait: bool = False
    """``false``: a single run returns once its directory is complete and its helper finishes
    logging it in the background (``python -m engine runs sync`` waits for it, and logs any run
    left unlogged). ``true``: the run returns once MLflow has it, as a CI job that ends right
    after should ask. A sweep's jobs, a run that registers a model, and runs started from Python
    (lifecycle, regress, workers) always wait."""

    @field_validator("tracking_uri")
    @classmethod
    def _well_formed(cls, uri: str) -> str:
        parts = urlsplit(uri)
        scheme = parts.scheme.split("+")[0]
        if not parts.scheme:
            refuse(f"tracking.tracking_uri={uri!r}: not a URI. Write a local store as "
                   f"sqlite:///{uri or 'outputs/mlflow.db'} or a server as http://host:5000.")
        if scheme not in SCHEMES:
            refuse(f"tracking.tracking_uri={uri!r}: unknown scheme '{parts.scheme}'."
                   f"{did_you_mean(scheme, SCHEMES)} {options_hint(SCHEMES)}")
        if scheme == "sqlite" and (not uri.startswith("sqlite:///") or uri == "sqlite:///"):
            refuse(f"tracking.tracking_uri={uri!r}: a SQLite store is sqlite:///<file> "
                   "(sqlite:///outputs/mlflow.db; four slashes for an absolute path).")
        if scheme != "sqlite" and not parts.hostname:
            refuse(f"tracking.tracking_uri={uri!r}: no host. Write it as "
                   f"{parts.scheme}://host:port (e.g. {parts.scheme}://localhost:5000).")
        return uri
