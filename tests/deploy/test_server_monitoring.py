"""Serving with the prediction log: a real server process, a real client, the log's real files."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.errors import DataError
from engine.experiment import run_experiment
from engine.monitoring.prediction_log import read_log
from engine.monitoring.summary import MonitorRecord
from engine.tracking.records import read_record
from tests.conftest import REPO, run_main
from tests.deploy.conftest import eventually, mixed_frame, start_server

FEATURES = ["city", "size", "member"]
WINDOW_ROWS = 40
@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logistic regression on mixed rows, whose log flushes every 0.2 s and whose drift
    window holds 40 rows."""
    tmp = tmp_path_factory.mktemp("monitored")
    data = tmp / "mixed.csv"
    mixed_frame(400, 0).to_csv(data, index=False)
    spec = compose_spec(["dataset=titanic", f"dataset.path={data}", "dataset.target=label",
                         "dataset.drop=[id]", "model=logistic_regression",
                         "split.cv.n_splits=3", "report=false",
                         "monitor.log.flush_seconds=0.2", f"monitor.window_rows={WINDOW_ROWS}"])
    run_experiment(spec, tmp / "run", project_dir=REPO, console=Console(quiet=True))
    return tmp / "run"


@pytest.fixture(scope="module")
def log_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("log") / "predictions-log"


@pytest.fixture(scope="module")
def server(run: Path, log_root: Path) -> Iterator[str]:
    yield from start_server(str(run), "--log", str(log_root))


def records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(rows[FEATURES].to_json(orient="records"))


def logged(root: Path, *request_ids: str, labelled: int = 0) -> pd.DataFrame | None:
    """The log's rows of ``request_ids`` once all are there with ``labelled`` labels."""
    try:
        frame = read_log(root)
    except DataError:
        return None
    rows = frame[frame["_request_id"].isin(request_ids)]
    complete = set(rows["_request_id"]) == set(request_ids)
    return rows if complete and rows["_target"].notna().sum() >= labelled else None


@pytest.fixture(scope="module")
def order(server: str) -> httpx.Response:
    """Three rows predicted under the client's own request id."""
    return httpx.post(f"{server}/predict", json={"records": records(mixed_frame(3, 5))},
                      headers={"X-Request-ID": "order-17"})


def test_each_answer_carries_a_request_id_and_its_rows_are_logged_with_feedback(
        server: str, log_root: Path, order: httpx.Response, run: Path, tmp_path: Path) -> None:
    assert order.status_code == 200, order.text
    assert order.headers["x-request-id"] == order.json()["request_id"] == "order-17"
    sent = mixed_frame(2, 6)
    other = httpx.post(f"{server}/invocations", json={"dataframe_records": records(sent)},
                       headers={"X-Request-ID": "not a token!"})  # replaced by a new id
    generated = other.json()["request_id"]
    assert other.headers["x-request-id"] == generated and uuid.UUID(generated)
    one = httpx.post(f"{server}/feedback",
                     json={"request_id": "order-17", "row": 2, "label": "yes"})
    assert one.json() == {"received": 1, "matched": [True]}
    many = httpx.post(f"{server}/feedback", json={"feedback": [
        {"request_id": generated, "label": "no"},  # every row of that request
        {"request_id": "answered-by-another-process", "row": 5, "label": "yes"}]})
    assert many.status_code == 200 and many.json() == {"received": 2, "matched": [True, False]}
    unknown = httpx.post(f"{server}/feedback", json={"feedback": [
        {"request_id": "never-answered", "label": "yes"},
        {"request_id": "nor-this", "label": "no"}]})
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["error"] == (
        "feedback: unknown request id 'never-answered', 'nor-this': this server keeps the ids "
        "of the last 100000 requests it answered and logged, since it started; send the "
        "request_id (X-Request-ID) of one of its answers. Nothing was logged.")

    rows = eventually(lambda: logged(log_root, "order-17", generated, labelled=3),
                      "the requests and their feedback were not logged")
    first = rows[rows["_request_id"] == "order-17"]
    assert first["_row"].tolist() == [0, 1, 2]
    pd.testing.assert_frame_equal(first[FEATURES].reset_index(drop=True),
                                  mixed_frame(3, 5)[FEATURES], check_dtype=False)
    assert first["_prediction"].tolist() == order.json()["predictions"]
    assert first["_probability:yes"].tolist() == pytest.approx(
        [p["yes"] for p in order.json()["probabilities"]], abs=1e-12)
    assert first["_target"].fillna("none").tolist() == ["none", "none", "yes"]
    second = rows[rows["_request_id"] == generated]
    assert second["_target"].tolist() == ["no", "no"]
    assert second["_prediction"].tolist() == other.json()["predictions"]
    assert set(rows["_model"]) == {"logistic_regression"} and rows["_version"].isna().all()
    assert rows["_registered"].isna().all()  # a run directory: no registered reference
    feedback = pd.concat(map(pd.read_parquet, (log_root / "feedback").rglob("*.parquet")))
    assert "answered-by-another-process" in set(feedback["_request_id"])  # kept, unmatched
    assert not {"never-answered", "nor-this"} & set(feedback["_request_id"])  # the 404's

    # monitor over the server's log: the served rows, with the feedback joined as labels
    done = run_main(["monitor", str(run), f"log.path={log_root}", "--chunk", "1000rows",
                     "-o", str(tmp_path / "monitored")], tmp_path)
    assert done.returncode in (0, 1), done.stderr
    record = read_record(tmp_path / "monitored" / "monitor.json", MonitorRecord)
    assert record.source == str(log_root) and record.rows >= 5 and record.labelled >= 3


@pytest.mark.parametrize(("body", "message"), [
    ({"request_id": "order-17", "row": 3, "label": "yes"},
     "feedback: row 3 is out of range: request order-17 had 3 row(s), numbered from 0"),
    ({"feedback": [{"request_id": "order-17", "label": "no"},
                   {"request_id": "order-17", "label": "maybe"}]},
     "feedback[1]: label 'maybe' is not one of the model's classes ('no', 'yes')"),
    ({"request_id": "order-17", "label": None},
     "feedback: label None is not one of the model's classes ('no', 'yes')"),
    ({"request_id": "order-17"}, "label: Field required"),
    ({"request_id": "order-17", "label": "no", "weight": 2}, "weight: Extra inputs are not "
                                                             "permitted"),
    ({"request_id": "has spaces", "label": "no"}, "request_id: String should match pattern"),
    ({"request_id": "order-17", "row": "1", "label": "no"}, "row: Input should be a valid "
                                                            "integer"),
    ({"request_id": "order-17", "row": -1, "label": "no"}, "row: Input should be greater than "
                                                           "or equal to 0"),
    ({"feedback": []}, "feedback: List should have at least 1 item"),
    ([1, 2], "the body"),
])
def test_malformed_feedback_is_a_422_naming_the_problem(server: str, order: httpx.Response,
                                                       body: Any, message: str) -> None:
    answer = httpx.post(f"{server}/feedback", json=body)
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["error"] and "\n" not in answer.json()["error"]


def metric(url: str, name: str, text: str | None = None, **labels: str) -> float | None:
    """A sample's value in /metrics (or in ``text``, a page of it already read), or None when it
    is not there."""
    text = httpx.get(f"{url}/metrics").text if text is None else text
    wanted = "{" + ",".join(f'{key}="{value}"' for key, value in labels.items()) + "}"
    found = re.search(rf"^{name}{re.escape(wanted) if labels else ''} (\S+)$", text, re.MULTILINE)
    return float(found[1]) if found else None


def test_metrics_count_logged_rows_and_unseen_categories_and_gauge_drift(server: str) -> None:
    unseen = mixed_frame(3, 7).assign(city="lima")
    assert httpx.post(f"{server}/predict", json={"records": records(unseen)}).status_code == 200
    assert eventually(lambda: metric(server, "engine_unseen_categories_total", column="city"),
                      "no unseen-category count") == 3
    assert "engine_unseen_categories_total{column=\"member\"}" not in httpx.get(
        f"{server}/metrics").text
    assert eventually(lambda: metric(server, "engine_logged_rows_total") or None,
                      "no rows logged") >= 3

    def drift_of(size: float) -> dict[str, float] | None:
        """Each column's gauge once the window holds only rows sent after this point, all read
        from one page of /metrics so that no gauge comes from an older window."""
        page = httpx.get(f"{server}/metrics").text
        gauges = {column: metric(server, "engine_drift_jensenshannon", page, column=column)
                  for column in [*FEATURES, "_prediction"]}
        full = metric(server, "engine_drift_window_rows", page) == WINDOW_ROWS
        return gauges if full and gauges["size"] is not None and \
            (gauges["size"] > 0.5) == (size > 100) else None  # type: ignore[return-value]

    shifted = mixed_frame(WINDOW_ROWS, 8).assign(size=lambda f: f["size"] + 200)
    assert httpx.post(f"{server}/predict", json={"records": records(shifted)}).status_code == 200
    drifted = eventually(lambda: drift_of(250), "the shifted sizes did not move the gauge")
    assert drifted["city"] < 0.3 and drifted["member"] < 0.3  # as in training
    clean = mixed_frame(WINDOW_ROWS, 9)
    assert httpx.post(f"{server}/predict", json={"records": records(clean)}).status_code == 200
    settled = eventually(lambda: drift_of(50), "the window did not slide past the shift")
    assert settled["size"] < 0.3
    assert metric(server, "engine_feedback_labels_total", matched="true") is not None


@pytest.fixture(scope="module")
def older(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run as an older engine wrote it: no reference profile or sample in its bundle."""
    older = tmp_path_factory.mktemp("older") / "run"
    shutil.copytree(run, older, ignore=shutil.ignore_patterns("prediction_log"))
    manifest = json.loads((older / "model" / "MANIFEST.json").read_text())
    for name in ("reference_profile.json", "reference_sample.parquet"):
        (older / "model" / name).unlink()
        del manifest["sha256"][name]
    (older / "model" / "MANIFEST.json").write_text(json.dumps(manifest))
    return older


@pytest.mark.slow
def test_an_older_bundle_serves_and_a_server_without_a_log_refuses_feedback(
        older: Path) -> None:
    serving = start_server(str(older), "--no-log")
    url = next(serving)
    answer = httpx.post(f"{url}/predict", json={"records": records(mixed_frame(2, 3))})
    assert answer.status_code == 200, answer.text
    refused = httpx.post(f"{url}/feedback", json={"request_id": "a", "label": "yes"})
    assert refused.status_code == 409 and "--no-log" in refused.json()["error"]
    assert eventually(lambda: metric(url, "engine_drift_window_rows") or None,
                      "the window did not take the rows in") == 2
    assert "engine_drift_jensenshannon{" not in httpx.get(f"{url}/metrics").text  # no profile
    serving.close()
    assert not (older / "prediction_log").exists()


def test_predict_logs_a_file_as_one_request_with_the_defaults_of_an_older_bundle(
        older: Path, tmp_path: Path) -> None:
    rows = mixed_frame(5, 4)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    done = run_main(["predict", str(older), str(tmp_path / "rows.csv"), "-o",
                     str(tmp_path / "out.csv"), "--log"], tmp_path)
    assert done.returncode == 0, done.stderr
    frame = read_log(older / "prediction_log")  # monitor.log's default place
    request_id = frame["_request_id"].iloc[0]
    assert f"logged 5 rows as request {request_id} -> {older / 'prediction_log'}" in done.stderr
    assert frame["_row"].tolist() == list(range(5)) and frame["id"].tolist() == list(range(5))
    assert frame["_prediction"].tolist() == pd.read_csv(tmp_path / "out.csv")["prediction"].tolist()
