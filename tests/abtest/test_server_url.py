"""``abtest http://HOST:PORT``: the experiment read from a server's ``GET /metadata`` over real
HTTP. The server here is a small one in a thread that answers ``/metadata`` in the engine
server's layout (``VariantRouter.describe``), with answers the engine's server would not give
(no experiment fields, a log elsewhere), and checks the bearer token;
``test_served_experiment`` runs the engine's own server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.deploy.registry import Registry
from engine.errors import ConfigError, DataError
from engine.monitoring.columns import MODEL, VARIANT
from tests.abtest.experiment_logs import exit_status, experiment_frame, write_log
from tests.abtest.trained_runs import train_pair

TOKEN = "s3cret"


METADATA: dict[str, Any] = {}
"""What the server answers at ``/metadata``, set by each test with :func:`answer_with`."""


def answer_with(body: dict[str, Any]) -> None:
    METADATA.clear()
    METADATA.update(body)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, {"detail": "missing or wrong bearer token"})
        elif self.path != "/metadata":
            self._answer(404, {"detail": "Not Found"})
        else:
            self._answer(200, METADATA)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def experiment(log: Path | None, split: dict[str, float] | None) -> dict[str, Any]:
    """``/metadata`` of ``serve churn@champion churn@challenger [--split]`` logging to ``log``."""
    return {"model_version": 1, "experiment": {
        "variants": [
            {"variant": "control", "reference": "churn@champion", "pinned": "churn/1",
             "model_version": 1, "share": 90.0},
            {"variant": "challenger", "reference": "churn@challenger", "pinned": "churn/2",
             "model_version": 2, "share": 10.0},
            {"variant": "shadow:churn@candidate", "reference": "churn@candidate",
             "pinned": "churn/3", "model_version": 3, "share": None}],
        "split": split, "ramp": None if split else "10,50@10m", "key": "id", "seed": 0,
        "log": None if log is None else str(log)}}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 90/10 experiment whose challenger is better, logged with the models' own names."""
    frame = experiment_frame(6000, accuracy={"control": 0.80, "challenger": 0.86},
                             split={"control": 0.9, "challenger": 0.1}, latency_ms={})
    frame[MODEL] = frame[VARIANT].map({"control": "logistic_regression", "challenger": "dummy"})
    return write_log(tmp_path_factory.mktemp("abtest-url") / "log", frame)


def test_the_server_names_the_log_and_the_split(
        url: str, log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answer_with(experiment(log, {"control": 90.0, "challenger": 10.0}))
    assert exit_status([url, "--token", TOKEN, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["sample_ratio"]["expected"] == {"control": 5400.0, "challenger": 600.0}
    assert found["verdict"] == "stop and adopt"


def test_a_canary_s_split_is_not_checked(url: str, log: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    answer_with(experiment(log, None))
    assert exit_status([url, "--token", TOKEN, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sample_ratio"] is None


def test_the_winner_is_promoted_by_the_name_the_server_pinned(
        url: str, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, worse = train_pair(tmp_path)
    registry = Registry(tmp_path / "registry.db")
    registry.register(good, "churn", alias="champion")
    registry.register(worse, "churn")
    answer_with(experiment(log, {"control": 90.0, "challenger": 10.0}))
    assert exit_status([url, "--token", TOKEN, "--promote", "--registry",
                        str(registry.path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(
        "churn@champion -> version 2 (was 1); churn@previous -> version 1")
    assert registry.decisions("churn")[0]["log"] == str(log.resolve())


def test_the_token_comes_from_the_environment(
        url: str, log: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    answer_with(experiment(log, {"control": 90.0, "challenger": 10.0}))
    monkeypatch.setenv("ENGINE_SERVE_TOKEN", TOKEN)
    assert exit_status([url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "stop and adopt"


@pytest.mark.parametrize(("body", "error", "message"), [
    ({"experiment": None}, DataError, r"^abtest http://\S+: the server answers with one model, "
     r"not an experiment; serve several variants"),
    ({"experiment": [{"variant": "control"}]}, DataError, r"^abtest http://\S+: GET /metadata "
     r"does not give the experiment's split and log \(the server runs an older engine\); "
     r"analyse its log folder instead: python -m engine abtest LOG --split 90/10\.$"),
    ("no log", DataError, r"^abtest http://\S+: the server keeps no prediction log \(started "
     r"with --no-log\)"),
    ("elsewhere", DataError, r"^abtest http://\S+: the server's prediction log /nowhere/log is "
     r"not a folder on this machine; run abtest where the server writes it"),
])
def test_what_a_server_does_not_give_is_one_line(
        url: str, log: Path, body: Any, error: type[Exception], message: str) -> None:
    named = {"no log": experiment(None, None), "elsewhere": experiment(Path("/nowhere/log"), None)}
    answer_with(named[body] if isinstance(body, str) else body)
    with pytest.raises(error, match=message):
        exit_status([url, "--token", TOKEN])


def test_a_missing_token_is_one_line(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^abtest http://\S+: the server wants its bearer "
                                          r"token \(401\); pass --token TOKEN or set "
                                          r"ENGINE_SERVE_TOKEN\.$"):
        exit_status([url, "--token", "wrong"])


def test_no_server_is_one_line(url: str) -> None:
    with pytest.raises(DataError, match=r"^abtest http://127\.0\.0\.1:1: no engine server "
                                        r"answers there \(.*\); start one with python -m engine "
                                        r"serve, or give the log folder instead\.$"):
        exit_status(["http://127.0.0.1:1", "--token", TOKEN])
