"""A server following a registry alias: real server processes, a real registry, a real client,
and the alias moved under them while requests keep coming."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.deploy.registry import Registry
from engine.errors import DataError
from engine.monitoring.prediction_log import read_log
from tests.conftest import run_main
from tests.deploy.conftest import eventually, start_server

ROW = {"city": "oslo", "size": 42.0, "member": False}
WITHOUT_MEMBER = {"city": "oslo", "size": 42.0}
@pytest.fixture(scope="module")
def registry(trained_run: Path, narrow_run: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """churn 1 (the champion) and 2: the trained run and a copy; 3: the narrow run; 4: a copy
    whose bundle changed after it was registered."""
    tmp = tmp_path_factory.mktemp("registry")
    registry = Registry(tmp / "registry.db")
    registry.register(trained_run, "churn", alias="champion")
    for number in (2, 4):
        shutil.copytree(trained_run, tmp / f"copy{number}",
                        ignore=shutil.ignore_patterns("prediction_log"))
    registry.register(tmp / "copy2", "churn")
    registry.register(narrow_run, "churn")
    registry.register(tmp / "copy4", "churn")
    manifest = tmp / "copy4" / "model" / "MANIFEST.json"
    manifest.write_text(manifest.read_text().replace("{", "{ ", 1))
    return registry


@pytest.fixture(scope="module")
def log_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("log") / "predictions"


@pytest.fixture(scope="module")
def server(registry: Registry, log_root: Path) -> Iterator[tuple[str, Path]]:
    """``serve churn@champion --follow 0.2``: its URL, and the file its stderr goes to."""
    stderr = log_root.parent / "stderr.txt"
    command = shlex.join([sys.executable, "-m", "engine", "serve", "churn@champion",
                          "--registry", str(registry.path), "--follow", "0.2",
                          "--log", str(log_root), "--port", "{port}"])
    for url in start_server(command=["sh", "-c", f"exec {command} 2>{shlex.quote(str(stderr))}"]):
        yield url, stderr


@pytest.fixture(scope="module")
def pinned(registry: Registry) -> Iterator[str]:
    """``serve churn@champion --follow 0``: the version it started with, whatever the alias."""
    yield from start_server("churn@champion", "--registry", str(registry.path), "--follow", "0",
                            "--no-log")


def answering(url: str, record: dict[str, Any] = ROW) -> int:
    """The version that answered one prediction (the body and the header agree)."""
    answer = httpx.post(f"{url}/predict", json={"records": [record]})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-model-version"] == str(answer.json()["model_version"])
    return int(answer.json()["model_version"])


def serving(url: str, version: int) -> bool | None:
    """True once /ready names ``version``."""
    return httpx.get(f"{url}/ready").json()["model_version"] == version or None


def metric(url: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} (\S+)$", httpx.get(f"{url}/metrics").text,
                      re.MULTILINE)
    return float(found[1]) if found else None


@pytest.mark.slow
def test_a_promotion_and_a_rollback_are_followed_without_a_failed_request(
        server: tuple[str, Path], pinned: str, registry: Registry, log_root: Path) -> None:
    url, _ = server
    answers: list[httpx.Response] = []
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=url) as client:
            while not stop.is_set():
                answers.append(client.post("/predict", json={"records": [ROW]}))

    def latest() -> int:
        return int(answers[-1].json()["model_version"]) if answers else 0

    sender = threading.Thread(target=send)
    sender.start()
    try:
        eventually(lambda: latest() == 1 or None, "no answer from version 1")
        registry.set_alias("churn", "champion", 2)
        eventually(lambda: latest() == 2 or None, "the server did not follow the promotion")
        assert answering(pinned) == 1  # --follow 0 keeps the version it started with
        registry.rollback("churn")
        eventually(lambda: latest() == 1 or None, "the server did not follow the rollback")
    finally:
        stop.set()
        sender.join()

    assert [answer.status_code for answer in answers] == [200] * len(answers)
    versions = [answer.json()["model_version"] for answer in answers]
    assert [answer.headers["x-model-version"] for answer in answers] == list(map(str, versions))
    assert [v for i, v in enumerate(versions) if i == 0 or versions[i - 1] != v] == [1, 2, 1]
    assert metric(url, "engine_model_version") == 1 and metric(url, "engine_model_swaps_total") == 2
    assert httpx.get(f"{url}/metadata").json()["model_version"] == 1
    assert httpx.get(f"{pinned}/ready").json()["model_version"] == 1

    sent = {answer.json()["request_id"]: str(answer.json()["model_version"])
            for answer in answers}

    def logged() -> dict[str, str] | None:
        try:
            frame = read_log(log_root)
        except DataError:
            return None
        found = dict(zip(frame["_request_id"], frame["_version"], strict=True))
        return found if sent.keys() <= found.keys() else None

    found = eventually(logged, "the answers were not all logged")
    assert {request: found[request] for request in sent} == sent  # each row: its version


def test_a_version_whose_bundle_changed_is_not_swapped_in(server: tuple[str, Path],
                                                          registry: Registry) -> None:
    url, stderr = server
    registry.set_alias("churn", "champion", 4)
    failures = 'engine_model_load_failures_total{version="4"}'
    assert eventually(lambda: metric(url, failures), "no load failure counted") == 1
    assert [answering(url) for _ in range(5)] == [1] * 5  # still the version it had
    registry.delete_alias("churn", "champion")
    gone = "serve churn@champion: the registry names no version (no such alias in it any more)"
    eventually(lambda: gone in stderr.read_text() or None, "no warning of the alias' removal")
    assert answering(url) == 1
    registry.set_alias("churn", "champion", 2)  # a version that loads: followed after all
    eventually(lambda: serving(url, 2), "the server stopped following")
    lines = stderr.read_text().splitlines()
    assert [line for line in lines if "version 4" in line] == [  # one line, not one a poll
        f"serve churn@champion: version 4 cannot be served (registry: churn version 4's bundle "
        f"in {registry.version('churn', 4).run_dir} changed after it was registered; register "
        "the run again to serve it); still serving version 1, trying again in 60 s if champion "
        "still points at it"]
    assert [line for line in lines if line.startswith(gone)] == [
        f"{gone}; still serving version 1"]
    registry.set_alias("churn", "champion", 1)
    eventually(lambda: serving(url, 1), "the server did not go back to version 1")


def test_a_follow_interval_below_zero_is_one_line(tmp_path: Path) -> None:
    done = run_main(["serve", "churn@champion", "--follow", "-1"], tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == (
        "error: engine serve: argument --follow: -1 must be a finite number of seconds, 0 or "
        "more (see engine serve --help)")


def test_each_version_checks_requests_against_its_own_columns(
        server: tuple[str, Path], registry: Registry) -> None:
    url, _ = server
    for _ in range(3):
        answering(url)
    member = 'engine_drift_jensenshannon{column="member"}'
    eventually(lambda: metric(url, member), "version 1's window gauged no drift")

    registry.set_alias("churn", "champion", 3)
    eventually(lambda: serving(url, 3), "the server did not follow to version 3")
    assert metric(url, "engine_drift_window_rows") == 0 and metric(url, member) is None
    assert answering(url, WITHOUT_MEMBER) == 3
    mlflow = httpx.post(f"{url}/invocations", json={"dataframe_records": [WITHOUT_MEMBER]})
    assert mlflow.status_code == 200 and mlflow.headers["x-model-version"] == "3"
    assert mlflow.json()["model_version"] == 3
    metadata = httpx.get(f"{url}/metadata").json()
    assert [column["name"] for column in metadata["schema"]["columns"]] == ["city", "size"]
    assert metadata["following"] == "churn@champion"

    registry.set_alias("churn", "champion", 1)
    eventually(lambda: serving(url, 1), "the server did not go back to version 1")
    refused = httpx.post(f"{url}/predict", json={"records": [WITHOUT_MEMBER]})
    assert refused.status_code == 422 and refused.headers["x-model-version"] == "1"
    assert refused.json() == {"error": "record 0, column 'member': Field required."}
    spec = httpx.get(f"{url}/openapi.json").json()
    assert "Record" not in spec["components"]["schemas"]  # no one version's columns promised
    assert "FollowedPredictRequest" in spec["components"]["schemas"]
