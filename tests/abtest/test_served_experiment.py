"""``abtest`` over the log a real server writes: two registered versions trained by the engine
(a logistic regression as the control, the majority class as the challenger) split 50/50 by
key, a shadow beside them, labels sent to ``POST /feedback``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from engine.abtest.command import abtest
from engine.deploy.registry import Registry
from engine.errors import DataError
from engine.monitoring.prediction_log import read_log
from tests.abtest.experiment_logs import exit_status
from tests.abtest.trained_runs import train_pair
from tests.deploy.conftest import eventually, mixed_frame, start_server

ROWS, PER_REQUEST = 2000, 50


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """churn 1 (champion): a logistic regression; 2 (challenger): the majority class; 3
    (candidate, the shadow): the majority class too."""
    tmp = tmp_path_factory.mktemp("abtest-registry")
    good, worse = train_pair(tmp)
    registry = Registry(tmp / "registry.db")
    registry.register(good, "churn", alias="champion")
    registry.register(worse, "churn", alias="challenger")
    registry.register(worse, "churn", alias="candidate")
    return registry


@pytest.fixture(scope="module")
def served(registry: Registry, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, Path]]:
    """The experiment served, its rows predicted in requests of 50 and every row's label sent
    back; the server's URL and its log once every label is joined."""
    root = tmp_path_factory.mktemp("abtest-log") / "log"
    server = start_server("churn@champion", "churn@challenger", "--split", "50/50", "--key",
                          "id", "--shadow", "churn@candidate", "--registry", str(registry.path),
                          "--log", str(root))
    url = next(server)
    try:
        rows = mixed_frame(ROWS, 1)
        for start in range(0, ROWS, PER_REQUEST):
            chunk = rows.iloc[start:start + PER_REQUEST]
            records = json.loads(chunk.drop(columns="label").to_json(orient="records"))
            answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=60)
            assert answer.status_code == 200, answer.text
            request = answer.json()["request_id"]
            sent = httpx.post(f"{url}/feedback", json={"feedback": [
                {"request_id": request, "row": row, "label": label}
                for row, label in enumerate(chunk["label"])]}, timeout=60)
            assert sent.status_code == 200, sent.text
        eventually(lambda: labelled(root), "the rows and labels were not all logged")
        yield url, root
    finally:
        server.close()


@pytest.fixture(scope="module")
def log(served: tuple[str, Path]) -> Path:
    return served[1]


def labelled(root: Path) -> pd.DataFrame | None:
    """The log once each live row and each shadow row has its label."""
    try:
        frame = read_log(root)
    except DataError:
        return None
    return frame if frame["_target"].notna().sum() == 2 * ROWS else None


@pytest.mark.slow
def test_a_worse_challenger_on_a_real_server_is_rejected(
        log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        abtest([str(log), "--split", "50/50", "--json"])
    assert stopped.value.code == 1
    found: dict[str, Any] = json.loads(capsys.readouterr().out)
    control, challenger, shadow = found["variants"]
    assert (control["name"], challenger["name"]) == ("control", "challenger")
    assert shadow["name"] == "shadow:churn@candidate" and shadow["rows"] == ROWS
    assert control["rows"] + challenger["rows"] == ROWS
    assert control["measured"] == control["rows"]
    assert control["metric"] > challenger["metric"]
    assert control["latency_p99"] > 0
    assert found["sample_ratio"]["unit"] == "rows" and not found["sample_ratio"]["mismatch"]
    assert found["shadows"]["shadow:churn@candidate"]["coverage"] == 1.0
    assert found["verdict"] == "stop and reject"
    assert found["reason"] == ("challenger: challenger is worse than control: p = "
                               f"{found['comparisons'][0]['test']['p_value']:.3g} < 0.05")


@pytest.mark.slow
def test_abtest_of_the_server_s_url_reads_its_log_and_split_and_records_the_rejection(
        served: tuple[str, Path], registry: Registry,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The log's ``_model`` is the models' own names: the registered one comes from the
    versions the server pinned (churn/1, churn/2)."""
    url, root = served
    assert exit_status([url, "--json", "--promote", "--registry", str(registry.path)]) == 1
    captured = capsys.readouterr()
    found = json.loads(captured.out)
    assert found["sample_ratio"]["expected"] == {"control": ROWS / 2, "challenger": ROWS / 2}
    assert found["verdict"] == "stop and reject"
    assert captured.err.strip() == ("nothing moves: the challengers are rejected; the rejection "
                                    "of churn/2 is recorded")
    decision = registry.decisions("churn")[-1]
    assert (decision["outcome"], decision["log"]) == ("rejected", str(root.resolve()))
    assert registry.alias_version("churn", "champion") == 1
