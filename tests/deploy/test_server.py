"""The REST service, as a real server process answering a real HTTP client."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_main
from tests.deploy.conftest import mixed_frame

FEATURES = ["city", "size", "member"]


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """New rows (another seed), missing values included."""
    return mixed_frame(40, 1)[["id", *FEATURES]]


@pytest.fixture(scope="module")
def batch(trained_run: Path, rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
          ) -> pd.DataFrame:
    """``python -m engine predict`` on the same rows, read back from its CSV."""
    tmp = tmp_path_factory.mktemp("batch")
    rows.to_csv(tmp / "rows.csv", index=False)
    done = run_main(["predict", str(trained_run), str(tmp / "rows.csv"), "-o",
                     str(tmp / "out.csv")], tmp)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(tmp / "out.csv")


def records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN as null."""
    return json.loads(rows.to_json(orient="records"))


def formats(rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
    split = json.loads(rows.to_json(orient="split", index=False))
    return {
        "dataframe_split": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": records(rows)},
        "instances": {"instances": records(rows)},
        "inputs (columns)": {"inputs": {k: [r[k] for r in records(rows)] for k in rows}},
        "inputs (lists)": {"inputs": split["data"]},
    }


def test_every_mlflow_format_and_csv_predict_as_the_batch_command(
        server: str, rows: pd.DataFrame, batch: pd.DataFrame) -> None:
    features = rows[FEATURES]
    for name, payload in formats(features).items():
        answer = httpx.post(f"{server}/invocations", json=payload)
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json()["predictions"] == batch["prediction"].tolist(), name
    answer = httpx.post(f"{server}/invocations", content=features.to_csv(index=False),
                        headers={"content-type": "text/csv"})
    assert answer.json()["predictions"] == batch["prediction"].tolist()


def test_predict_returns_the_batch_commands_probabilities(
        server: str, rows: pd.DataFrame, batch: pd.DataFrame) -> None:
    answer = httpx.post(f"{server}/predict", json={"records": records(rows[FEATURES])})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == batch["prediction"].tolist()
    served = np.array([[row["no"], row["yes"]] for row in body["probabilities"]])
    np.testing.assert_allclose(served, batch[["proba_no", "proba_yes"]].to_numpy(),
                               rtol=0, atol=1e-9)
    assert body["warnings"] == []


@pytest.mark.parametrize(("endpoint", "body", "status", "names"), [
    ("/predict", {"records": [{"city": "oslo", "size": 3.0}]}, 422,
     ["record 0, column 'member'", "required"]),
    ("/predict", {"records": [{"city": "oslo", "size": False, "member": True}]}, 422,
     ["column 'size'", "valid number", "(got False)"]),
    ("/invocations", {"dataframe_records": [{"city": "oslo", "size": 3.0}]}, 422, ["member"]),
    ("/invocations", {"dataframe_records": [{"city": "oslo", "size": "big", "member": True}]},
     422, ["'size'", "'big'"]),
    ("/predict", {"records": [{"city": "oslo", "size": 3.0, "member": "maybe"}]}, 422,
     ["column 'member'", "'maybe' is not a true/false"]),
    ("/invocations", {"dataframe_split": {"columns": ["city"], "data": [["oslo", 1]]}}, 400,
     ["dataframe_split", "1 values"]),
    ("/invocations", {"records": []}, 400, ["dataframe_split", "dataframe_records"]),
    ("/invocations", [1, 2], 400, ["JSON object"]),
    ("/invocations", {"instances": [{"city": {"a": 1}, "size": 1, "member": True}]}, 400,
     ["'city'", "nested"]),
    ("/predict", {"records": []}, 422, ["at least 1"]),
])
def test_bad_payloads_get_a_4xx_naming_the_problem(server: str, endpoint: str, body: Any,
                                                   status: int, names: list[str]) -> None:
    answer = httpx.post(f"{server}{endpoint}", json=body)
    assert answer.status_code == status, answer.text
    for name in names:
        assert name in answer.text


def test_limits_and_unreadable_bodies(server: str, rows: pd.DataFrame) -> None:
    many = {"dataframe_records": records(mixed_frame(51, 2)[FEATURES])}
    answer = httpx.post(f"{server}/invocations", json=many)
    assert answer.status_code == 413 and "51 rows; the limit is 50" in answer.text
    huge = httpx.post(f"{server}/invocations", content=b"x" * 70_000)
    assert huge.status_code == 413 and "larger than 65,536 bytes" in huge.text
    chunked = httpx.post(f"{server}/invocations", content=iter([b"x" * 40_000] * 2))
    assert chunked.status_code == 413 and "larger than 65,536 bytes" in chunked.text
    assert httpx.post(f"{server}/invocations", content=b"{not json").status_code == 400
    assert httpx.post(f"{server}/invocations", content=b"\xff\xfe",
                      headers={"content-type": "text/csv"}).status_code == 400
    assert httpx.post(f"{server}/invocations", content=b"a",
                      headers={"content-type": "application/xml"}).status_code == 400
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}  # still up


def test_health_ready_metadata_and_metrics(server: str, trained_run: Path) -> None:
    assert httpx.get(f"{server}/ready").json() == {"ready": True, "reason": "ready",
                                                   "model_version": None}
    metadata = httpx.get(f"{server}/metadata").json()
    assert metadata["model_version"] is None and metadata["following"] is None
    assert [c["name"] for c in metadata["schema"]["columns"]] == FEATURES
    assert metadata["model"] == "logistic_regression" and metadata["classes"] == ["no", "yes"]
    assert metadata["lineage"]["run_dir"] == str(trained_run.resolve())
    assert metadata["metrics"]["test"]["roc_auc"] > 0.5
    httpx.post(f"{server}/invocations", content=b"{not json")
    text = httpx.get(f"{server}/metrics").text
    assert 'engine_requests_total{endpoint="/invocations",status="400"}' in text
    assert 'engine_request_errors_total{endpoint="/invocations",kind="client"}' in text
    assert 'engine_request_latency_seconds_bucket{endpoint="/invocations",le="0.005"}' in text
    assert "engine_predicted_rows_total" in text


def test_concurrent_clients_each_get_their_own_rows_predictions(
        server: str, rows: pd.DataFrame, batch: pd.DataFrame) -> None:
    """Concurrent requests are predicted together; each still gets exactly its own answer and
    warnings, and a bad request among them gets its own 422 without failing the others."""
    features = rows[FEATURES]
    bad = {"records": [{"city": "oslo", "size": 3.0, "member": "maybe"}]}
    unseen = {"records": [{"city": "lima", "size": 3.0, "member": True}]}

    def send(index: int) -> tuple[int, httpx.Response]:
        row = index % len(features)
        body = {9: bad, 4: unseen}.get(index % 10, {"records": records(features.iloc[[row]])})
        return row, client.post("/predict", json=body)

    with httpx.Client(base_url=server) as client, ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, range(200)))
    for index, (row, answer) in enumerate(answers):
        if index % 10 == 9:
            assert answer.status_code == 422 and "'maybe'" in answer.text
            continue
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if index % 10 == 4:
            assert len(body["predictions"]) == 1 and "('lima')" in body["warnings"][0]
            continue
        assert body["warnings"] == []
        assert body["predictions"] == [batch["prediction"][row]]
        probabilities = body["probabilities"][0]
        np.testing.assert_allclose([probabilities["no"], probabilities["yes"]],
                                   batch.loc[row, ["proba_no", "proba_yes"]].to_numpy(float),
                                   rtol=0, atol=1e-9)
    assert "engine_batch_rows_count" in httpx.get(f"{server}/metrics").text


def test_the_openapi_spec_describes_every_column(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json").json()
    record = spec["components"]["schemas"]["Record"]
    assert set(record["required"]) == set(FEATURES)
    assert {"/invocations", "/predict", "/health", "/ready", "/metadata", "/metrics"} <= set(
        spec["paths"])


def fuzz(url: str, *options: str, checks: str = "not_a_server_error") -> str:
    """schemathesis against a live server: every phase, valid and invalid (``--mode all``)
    requests generated from its OpenAPI spec; fails on any 5xx (and the other ``checks``).
    Its output. Run in a scratch folder: schemathesis keeps state in ./.schemathesis."""
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "st"), "run", f"{url}/openapi.json",
             "--checks", checks, "--mode", "all",
             "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "60",
             "--seed", "7", "--suppress-health-check", "all", "--generation-database", "none",
             *options],
            capture_output=True, text=True, timeout=900, cwd=scratch)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert generated and int(generated[1]) > 100 and generated[1] == generated[2], done.stdout
    return done.stdout


@pytest.mark.slow  # hundreds of generated requests: CI's `pytest -m slow` step runs it
def test_a_schema_driven_fuzz_run_gets_no_server_error(server: str) -> None:
    """Positive and negative requests for every endpoint, none answered with a 5xx. The
    stateful phase follows the one link schemathesis infers: an answer's request_id sent back
    to /feedback."""
    assert re.search(r"API Links:\s+1 covered / 1 selected / 1 total", fuzz(server))


def test_a_port_already_taken_is_one_line_and_exit_2(trained_run: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "engine", "serve", str(trained_run),
                               "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: serve --host 127.0.0.1 --port {port}: cannot listen "
                                  "there (")
    assert done.stderr.rstrip().endswith("Choose another port (e.g. --port 0 for any free one), "
                                         "or stop what holds it.")


@pytest.mark.parametrize(("option", "value", "message"), [
    *[("--max-body-mb", value, f"argument --max-body-mb: {value} must be a finite number above 0")
      for value in ("-1", "0", "nan", "inf")],
    ("--max-rows", "0", "argument --max-rows: 0 must be a finite number above 0"),
    ("--max-cell-chars", "-5", "argument --max-cell-chars: -5 must be a finite number above 0"),
    ("--timeout", "nan", "argument --timeout: nan must be a finite number above 0"),
    ("--token", " ", "argument --token: the token is empty; give one, or leave it out"),
    ("--port", "70000", "argument --port: 70000 is not a port: give 0 to 65535"),
    ("--port", "abc", "argument --port: invalid port value: 'abc'"),
])
def test_serve_limits_that_cannot_work_are_refused_before_starting(
        in_process_cli, trained_run: Path, option: str, value: str, message: str) -> None:
    done = in_process_cli("serve", str(trained_run), option, value)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr == f"error: engine serve: {message} (see engine serve --help)\n"
