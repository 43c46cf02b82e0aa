"""``python -m engine monitor``: one real run (a logistic regression on 2,000 rows of a CSV file),
judged against real files, a real prediction log, real labels and a real HTTP receiver."""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.config.schema.monitor import LogConfig
from engine.deploy.batch_predict import check_rows, predict_features
from engine.deploy.bundle import load_bundle
from engine.experiment import run_experiment
from engine.monitoring.prediction_log import PredictionLog
from engine.monitoring.summary import MonitorRecord
from engine.tracking.records import read_record
from tests.conftest import REPO, run_main

CITIES = ["paris", "oslo", "rome"]


def population(rows: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """Labels drawn from a fixed P(y | x): a ``shift`` moves the inputs only (covariate shift)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1.0, rows)
    x2 = rng.normal(0.0, 1.0, rows)
    city = rng.choice(CITIES, rows, p=[0.5, 0.3, 0.2])
    logit = 1.5 * x1 - 1.0 * x2 + np.where(city == "rome", 0.8, 0.0)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"id": np.arange(rows) + seed * 100_000, "x1": x1.round(4),
                         "x2": x2.round(4), "city": city, "label": label})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run for the whole module: held-out rows scored, profiled and calibrated."""
    tmp = tmp_path_factory.mktemp("monitor")
    data = tmp / "train.csv"
    population(2000, 0).to_csv(data, index=False)
    run_dir = tmp / "run"
    run_dir.mkdir()
    spec = compose_spec(["dataset=titanic", f"dataset.path={data}", "dataset.target=label",
                         "dataset.drop=[id]", "model=logistic_regression",
                         "split.cv.n_splits=2", "report=false",
                         "metrics.bootstrap.resamples=200"])
    run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))
    return run_dir


def monitor(tmp_path: Path, *args: object) -> tuple[int, str, str]:
    done = run_main(["monitor", *map(str, args)], tmp_path)
    return done.returncode, done.stdout, done.stderr


def written(directory: Path) -> MonitorRecord:
    assert (directory / "monitor.html").is_file()
    return read_record(directory / "monitor.json", MonitorRecord)


def test_clean_rows_cross_no_threshold(trained: Path, tmp_path: Path) -> None:
    rows = tmp_path / "clean.csv"
    population(1500, 1).drop(columns="label").to_csv(rows, index=False)
    code, out, err = monitor(tmp_path, trained, rows, "--chunk", "500rows", "-o", tmp_path / "o")
    assert code == 0, out + err
    assert "no threshold crossed" in out
    record = written(tmp_path / "o")
    assert [chunk.rows for chunk in record.chunks] == [500, 500, 500]
    assert not any(chunk.dataset_drift for chunk in record.chunks)
    assert record.labelled == 0 and not record.failed
    for chunk in record.chunks:  # no labels: estimated, said to be an estimate, not decayed
        assert chunk.estimated is not None and chunk.estimated.valid
        assert {m.metric for m in chunk.estimated.metrics} == {"accuracy", "roc_auc"}
        assert not any(m.decayed for m in chunk.estimated.metrics)
    assert "estimated: an estimate" in out


def test_a_drifted_file_exits_1_and_names_the_drifted_column(trained: Path,
                                                              tmp_path: Path) -> None:
    frame = population(800, 2)
    frame["x2"] = frame["x2"] + 1.0  # one standard deviation
    frame["city"] = np.where(np.arange(800) % 2 == 0, "rome", frame["city"])
    rows = tmp_path / "drifted.csv"
    frame.drop(columns="label").to_csv(rows, index=False)
    code, out, err = monitor(tmp_path, trained, rows, "-o", tmp_path / "o")
    assert code == 1, out + err
    assert "dataset_drift" in out and "x2" in out and "city" in out
    (chunk,) = written(tmp_path / "o").chunks
    assert chunk.dataset_drift and {"x2", "city"} <= set(chunk.drifted_columns)
    assert "x1" not in chunk.drifted_columns
    html = (tmp_path / "o" / "monitor.html").read_text()
    assert "x2: reference vs current" in html and "city: reference vs current" in html
    assert "x1: reference vs current" not in html


def test_which_alerts_fail_is_declared(trained: Path, tmp_path: Path) -> None:
    """One drifted column of three is a warning under the default drift share; failing on any
    drifted column, or on prediction drift, is a setting."""
    frame = population(800, 4)
    frame["x1"] = frame["x1"] + 1.0
    rows = tmp_path / "one_column.csv"
    frame.drop(columns="label").to_csv(rows, index=False)
    code, out, _ = monitor(tmp_path, trained, rows, "-o", tmp_path / "default")
    (chunk,) = written(tmp_path / "default").chunks
    assert code == 0 and chunk.drifted_columns == ["x1"] and not chunk.dataset_drift
    assert "prediction_drift" in out and "no threshold crossed" not in out
    assert not any(alert.fails for alert in written(tmp_path / "default").alerts)
    code, _, err = monitor(tmp_path, trained, rows, "-o", tmp_path / "strict",
                           "alerts.fail_on=[dataset_drift,prediction_drift]")
    record = written(tmp_path / "strict")
    assert code == 1, err
    assert [alert.kind for alert in record.alerts if alert.fails] == ["prediction_drift"]
    code, _, _ = monitor(tmp_path, trained, rows, "-o", tmp_path / "any", "drift.drift_share=0.01")
    assert code == 1 and written(tmp_path / "any").chunks[0].dataset_drift
    code, _, err = monitor(tmp_path, trained, rows, "alerts.fail_on=[prediction_drfit]")
    assert code == 2 and "prediction_drfit" in err and "prediction_drift" in err


def test_labels_show_the_realised_decay_the_estimate_cannot_see(trained: Path,
                                                                tmp_path: Path) -> None:
    """Labels flipped for a third of the rows: P(y | x) changed, which no estimate from the
    inputs can notice, but the joined labels measure (every scorer, with its interval)."""
    frame = population(900, 3)
    rows, labels = tmp_path / "rows.csv", tmp_path / "labels.csv"
    frame.drop(columns="label").to_csv(rows, index=False)
    flipped = np.where(np.arange(900) % 3 == 0, 1 - frame["label"], frame["label"])
    pd.DataFrame({"id": frame["id"], "label": flipped}).to_csv(labels, index=False)
    code, out, err = monitor(tmp_path, trained, rows, "--labels", labels, "--key", "id",
                             "-o", tmp_path / "o")
    assert code == 1, out + err
    record = written(tmp_path / "o")
    (chunk,) = record.chunks
    assert chunk.labelled == 900 and record.labelled == 900
    measured = {m.metric: m for m in chunk.performance}
    assert {"roc_auc", "accuracy", "f1", "neg_log_loss"} <= set(measured)
    accuracy = measured["accuracy"]
    assert accuracy.decayed and accuracy.value is not None and accuracy.reference is not None
    assert accuracy.low is not None and accuracy.high is not None
    assert accuracy.low <= accuracy.value <= accuracy.high < accuracy.reference
    assert any(a.kind == "decay" and "accuracy" in a.message for a in record.alerts)
    assert chunk.estimated is not None and chunk.estimated.missed  # the estimate missed it
    assert chunk.target_drift is not None


def test_the_prediction_log_chunked_by_day_with_feedback_and_the_webhook(
        trained: Path, tmp_path: Path) -> None:
    """Rows logged on two days through the log's own writer, feedback for the first day; the
    summary is POSTed to a real local HTTP server."""
    bundle = load_bundle(trained)
    root = tmp_path / "log"
    log = PredictionLog(root, LogConfig(), columns=[c["name"] for c in bundle.schema["columns"]],
                        model="m")
    day = datetime(2026, 11, 20, 9, tzinfo=UTC)
    for index, frame in enumerate([population(600, 4), population(600, 5, shift=1.5)]):
        features, _ = check_rows(bundle, frame)
        moment = day + timedelta(days=index)
        log.record(features, predict_features(bundle, features), request_id=f"r{index}",
                   at=moment)
        if index == 0:
            for row, label in enumerate(frame["label"]):
                log.record_feedback(f"r{index}", int(label), row=row,
                                    at=moment + timedelta(hours=1))
    log.close()
    with receiver() as (url, received):
        code, out, err = monitor(tmp_path, trained, "--chunk", "1d", f"log.path={root}",
                                 f"alerts.webhook={url}", "-o", tmp_path / "o")
    assert code == 1, out + err  # the second day's x1 moved 1.5 standard deviations
    record = written(tmp_path / "o")
    assert [c.label[:10] for c in record.chunks] == ["2026-11-20", "2026-11-21"]
    first, second = record.chunks
    assert first.labelled == 600 and second.labelled == 0
    assert not first.dataset_drift and "x1" in second.drifted_columns
    assert first.performance and not second.performance
    assert record.webhook is not None and record.webhook.delivered
    (payload,) = received
    assert payload["model"] == record.model and len(payload["chunks"]) == 2
    assert "webhook: posted to" in out


def test_a_webhook_that_fails_is_reported_not_raised(trained: Path, tmp_path: Path) -> None:
    rows = tmp_path / "clean.csv"
    population(300, 6).drop(columns="label").to_csv(rows, index=False)
    with receiver(status=500) as (url, received):
        code, out, err = monitor(tmp_path, trained, rows, f"alerts.webhook={url}",
                                 "-o", tmp_path / "o")
    assert code == 0, out + err
    assert len(received) == 2  # one retry
    hook = written(tmp_path / "o").webhook
    assert hook is not None and not hook.delivered and hook.status == 500 and hook.attempts == 2
    assert "webhook failed" in out


def test_bad_inputs_are_one_line_exit_2_and_write_nothing(trained: Path,
                                                          tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    timed = population(50, 7).drop(columns="label")
    timed["_time"] = pd.date_range("2026-11-01", periods=50, freq="h", tz="UTC")
    timed.to_csv(rows, index=False)
    missing = tmp_path / "missing.csv"
    timed.drop(columns=["x2"]).to_csv(missing, index=False)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": [-1, -2], "label": [0, 1]}).to_csv(labels, index=False)
    older = tmp_path / "older"
    shutil.copytree(trained, older)
    manifest = json.loads((older / "model" / "MANIFEST.json").read_text())
    for name in ("reference_profile.json", "reference_sample.parquet"):
        (older / "model" / name).unlink()
        manifest["sha256"].pop(name)
    (older / "model" / "MANIFEST.json").write_text(json.dumps(manifest))
    out_dir = tmp_path / "o"
    cases = [
        ((trained, missing), "missing 1 column"),
        ((older, rows), "older engine"),
        ((trained, rows, "--since", "2027-01-01"), "no row of"),
        ((trained, rows, "--labels", labels, "--key", "id"), "none of the 2 labels"),
        ((trained, rows, "--chunk", "5000 rows"), "--chunk"),
        ((trained, rows, "--chunk", "0d"), "--chunk"),
        ((trained, rows, "drift.drift_shar=0.3"), "Did you mean 'drift_share'"),
        ((trained, rows, "alerts.webhook=file:///etc/passwd"), "not an http(s) URL"),
        ((trained, rows, "--since", "yesterday"), "not an ISO 8601 time"),
        ((trained,), "no predictions logged"),
    ]
    for args, expected in cases:
        code, out, err = monitor(tmp_path, *args, "-o", out_dir)
        assert code == 2, (args, out, err)
        assert expected in err, (args, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert not out_dir.exists(), args
    assert not (trained / "monitoring").exists()


@pytest.mark.slow
def test_the_report_renders_in_chromium_and_the_estimate_agrees_with_the_labels(
        trained: Path, tmp_path: Path) -> None:
    from tests.reporting.test_reports import check_renders

    frame = population(1000, 8, shift=1.0)
    rows = tmp_path / "rows.csv"
    frame.to_csv(rows, index=False)  # the target column: measured beside estimated
    code, out, err = monitor(tmp_path, trained, rows, "--chunk", "250rows", "-o", tmp_path / "o")
    assert code in (0, 1), out + err
    rendered = check_renders(tmp_path / "o" / "monitor.html", tmp_path / "monitor.png",
                             {"Summary", "Drifted columns", "Drift over time", "Performance",
                              "Data quality"})
    assert rendered.svg_count >= 6
    assert "estimate" in rendered.text
    for chunk in written(tmp_path / "o").chunks:  # covariate shift: CBPE within the labels' CI
        assert chunk.estimated is not None and not chunk.estimated.missed
        measured = {m.metric: m for m in chunk.performance}
        for guess in chunk.estimated.metrics:
            real = measured[guess.metric]
            assert real.low is not None and real.high is not None and guess.value is not None
            assert real.low <= guess.value <= real.high, (chunk.label, guess, real)


class _Receiver(BaseHTTPRequestHandler):
    status = 200
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class receiver:
    """A real HTTP server on a free local port, collecting the JSON bodies POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[dict[str, Any]] = []
        handler = type("Handler", (_Receiver,), {"status": status, "received": self.received})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> tuple[str, list[dict[str, Any]]]:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook", self.received

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


