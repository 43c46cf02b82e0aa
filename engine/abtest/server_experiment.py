"""``abtest http://HOST:PORT``: the experiment a running server declares, read from its
``GET /metadata``: the variants (the first is the control) with the registered version each is
pinned to, the declared split (none for a canary, whose share ramps) and the folder its
prediction log is written to, as ``engine.deploy.variant_router.VariantRouter.describe`` gives
them. The fields read::

    "experiment": {"variants": [{"variant": "control", "pinned": "churn/1",
                                 "model_version": 1, "share": 90.0, ...}, ...],
                   "split": {"control": 90.0, "challenger": 10.0} | null,
                   "log": "/path/of/the/prediction_log" | null, ...}

The log's folder is read where ``abtest`` runs: on the server's machine, or a shared disk.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, DataError

TOKEN_VARIABLE = "ENGINE_SERVE_TOKEN"
TIMEOUT_S = 30


@dataclass(frozen=True)
class ServedExperiment:
    """A server's experiment: the control's name, the split in percent in the order
    ``abtest --split`` takes (the control's first, then the others by name; None: a canary),
    the log's folder and, for each variant pinned to a registered version, the registered
    model's name."""

    control: str
    split: tuple[float, ...] | None
    log: Path
    names: dict[str, str]


def is_server(target: str) -> bool:
    """Whether ``abtest``'s argument is a server's URL rather than a log folder."""
    return target.startswith(("http://", "https://"))


def read_served_experiment(url: str, token: str | None) -> ServedExperiment:
    """The experiment the server at ``url`` declares; one line when it cannot be read, the
    server runs none, or does not say its split and log (an older engine)."""
    described = _metadata(url.rstrip("/"), token).get("experiment")
    if described is None:
        raise DataError(f"abtest {url}: the server answers with one model, not an experiment; "
                        "serve several variants (python -m engine serve NAME@champion "
                        "NAME@challenger --split 90/10).")
    missing = [key for key in ("variants", "split", "log") if key not in described] if \
        isinstance(described, dict) else ["split", "log"]
    if missing:
        raise DataError(f"abtest {url}: GET /metadata does not give the experiment's "
                        f"{' and '.join(missing)} (the server runs an older engine); analyse "
                        "its log folder instead: python -m engine abtest LOG --split 90/10.")
    if described["log"] is None:
        raise DataError(f"abtest {url}: the server keeps no prediction log (started with "
                        "--no-log), so there is nothing to judge; serve with the log on.")
    log = Path(described["log"])
    if not log.is_dir():
        raise DataError(f"abtest {url}: the server's prediction log {log} is not a folder on "
                        "this machine; run abtest where the server writes it, or give the "
                        "folder: python -m engine abtest LOG.")
    variants = [entry for entry in described["variants"] if entry.get("share") is not None]
    control = str(variants[0]["variant"])
    declared: dict[str, Any] | None = described["split"]
    split = None if declared is None else (
        float(declared[control]),
        *(float(declared[name]) for name in sorted(declared) if name != control))
    return ServedExperiment(control, split, log, {
        str(entry["variant"]): str(entry["pinned"]).rpartition("/")[0]
        for entry in described["variants"] if entry.get("model_version") is not None})


def _metadata(url: str, token: str | None) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/metadata", headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            return dict(json.load(answer))
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise ConfigError(f"abtest {url}: the server wants its bearer token (401); pass "
                              f"--token TOKEN or set {TOKEN_VARIABLE}.") from None
        raise DataError(f"abtest {url}: GET /metadata answered {error.code} {error.reason}; "
                        "is this an engine model server?") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise DataError(f"abtest {url}: no engine server answers there ({reason}); start one "
                        "with python -m engine serve, or give the log folder instead.") from None
