"""The tracking checks that need no data, run with the config's before any work: MLflow is
installed, and a server's host name resolves. MLflow is not imported (``find_spec`` only)."""

from __future__ import annotations

import importlib.util
import socket
from urllib.parse import urlsplit

from engine.config.schema.tracking import TrackingConfig
from engine.errors import ConfigError

INSTALL_HINT = 'pip install -e ".[tracking]" (or pip install "engine[tracking]")'


def check_tracking(settings: TrackingConfig) -> None:
    """Refuse ``tracking=mlflow`` without MLflow, or with a host that no name server knows (a
    typo, not a server that is down: that one only warns, when the run is logged)."""
    if settings.backend != "mlflow":
        return
    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(f"tracking=mlflow: MLflow is not installed. Install the tracking extra: "
                          f"{INSTALL_HINT}, or use tracking=none.")
    uri = settings.tracking_uri
    host = urlsplit(uri).hostname
    if host is None:
        return
    try:
        socket.getaddrinfo(host, None)
    except OSError as error:
        raise ConfigError(f"tracking.tracking_uri={uri!r}: the host '{host}' is unreachable "
                          f"({error.strerror or error}). Check the name, or log to a local "
                          "store: tracking.tracking_uri=sqlite:///outputs/mlflow.db.") from None
