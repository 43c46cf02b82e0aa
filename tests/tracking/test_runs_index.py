"""``python -m engine runs``: one real run, copied into many with other datasets, models and
scores, a failed run and a damaged one; listed, filtered, sorted and shown through the CLI."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.experiment import run_experiment
from engine.tracking.records import RUN_FILE, UnfinishedRunRecord, write_record
from engine.tracking.run_index import CACHE_FILE
from tests.conftest import REPO, run_main
from tests.tracking.run_copies import copy_run

COPIES = [("adult", "svm", -0.2), ("adult", "random_forest", 0.003),
          ("wine", "random_forest", -0.1)]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/real (trained here), three sweep jobs copied from it, a failed and a damaged run."""
    root = tmp_path_factory.mktemp("outputs")
    real = root / "runs" / "real"
    real.mkdir(parents=True)
    spec = compose_spec(["model=logistic_regression", "split.cv.n_splits=3", "report=false"])
    run_experiment(spec, real, project_dir=REPO, console=Console(quiet=True))
    for job, (dataset, model, shift) in enumerate(COPIES):
        copy_run(real, root / "multiruns" / "sweep" / str(job), dataset=dataset, model=model,
                 shift=shift)
    failed = root / "runs" / "failed"
    failed.mkdir()
    write_record(failed / RUN_FILE, UnfinishedRunRecord(
        error="dataset.path: no such file", choices={"dataset": "adult", "model": "svm"}))
    damaged = root / "runs" / "damaged"
    damaged.mkdir()
    (damaged / RUN_FILE).write_text('{"status": "ok", "run_')
    return root


def runs(outputs: Path, *args: str) -> tuple[int, str, str]:
    done = run_main(["runs", *args], outputs)
    return done.returncode, done.stdout, done.stderr


def listed(outputs: Path, *args: str) -> list[dict[str, object]]:
    code, out, err = runs(outputs, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_every_run_is_listed_from_its_records_newest_first(outputs: Path) -> None:
    rows = listed(outputs)
    assert {row["run"] for row in rows} == {
        "runs/real", "runs/failed", "runs/damaged", "multiruns/sweep/0", "multiruns/sweep/1",
        "multiruns/sweep/2"}
    finished = [row["finished"] for row in rows]
    assert finished == sorted(finished, reverse=True)
    real = next(row for row in rows if row["run"] == "runs/real")
    assert (real["dataset"], real["model"], real["primary"], real["status"]) == (
        "breast_cancer", "logistic_regression", "roc_auc", "ok")
    assert 0.9 < real["test"]["roc_auc"] <= 1.0 and real["seconds"] > 0
    failed = next(row for row in rows if row["run"] == "runs/failed")
    assert (failed["status"], failed["error"]) == ("failed", "dataset.path: no such file")
    damaged = next(row for row in rows if row["run"] == "runs/damaged")
    assert damaged["status"] == "failed" and "run.json: not valid JSON" in damaged["error"]


def test_filters_keep_the_runs_of_one_dataset_and_model(outputs: Path) -> None:
    rows = listed(outputs, "--dataset", "adult", "--model", "random_forest")
    assert [row["run"] for row in rows] == ["multiruns/sweep/1"]
    assert {row["run"] for row in listed(outputs, "--status", "failed")} == {
        "runs/failed", "runs/damaged"}


def test_sort_by_a_scorer_puts_the_best_test_score_first_and_unscored_runs_last(
        outputs: Path) -> None:
    rows = listed(outputs, "--sort", "roc_auc")
    assert [row["run"] for row in rows[:4]] == [
        "multiruns/sweep/1", "runs/real", "multiruns/sweep/2", "multiruns/sweep/0"]
    assert {row["run"] for row in rows[4:]} == {"runs/failed", "runs/damaged"}
    assert [row["run"] for row in listed(outputs, "--sort", "roc_auc", "--limit", "2")] == [
        "multiruns/sweep/1", "runs/real"]


def test_csv_has_a_column_per_scorer_and_the_table_names_each_run(outputs: Path) -> None:
    code, out, _ = runs(outputs, "--format", "csv", "--sort", "accuracy")
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(table) == 6
    assert float(table[0]["test_accuracy"]) > float(table[1]["test_accuracy"])
    assert {"cv_roc_auc", "test_neg_log_loss", "dataset", "model"} <= set(table[0])
    code, out, _ = runs(outputs, "--model", "svm")
    assert code == 0 and "multiruns/sweep/0" in out and "runs/real" not in out
    assert "2 runs under" in out


def test_runs_show_prints_one_runs_summary(outputs: Path) -> None:
    code, out, err = runs(outputs, "show", "runs/real")
    assert code == 0, err
    assert "logistic_regression on breast_cancer" in out
    assert "roc_auc (primary)" in out and "choices: " in out and "model=logistic_regression" in out
    code, out, _ = runs(outputs, "show", str(outputs / "runs" / "failed"))
    assert code == 0 and "failed: dataset.path: no such file" in out


@pytest.mark.parametrize(("args", "message"), [
    (("--sort", "roc_acu"), "runs --sort roc_acu: no run has a score named 'roc_acu'. "
                            "Did you mean 'roc_auc'?"),
    (("--dataset", "adlt"), "runs --dataset adlt: no run has dataset 'adlt'. Did you mean "
                            "'adult'? Valid options: adult, breast_cancer, wine."),
    (("--dir", "no/such/folder"), "runs --dir no/such/folder: no such directory"),
    (("--limit", "0"), "runs --limit 0: give a count of 1 or more runs to show"),
    (("show", "runs/rea"), "runs show runs/rea: no run directory (with run.json) there or "
                           "under"),
])
def test_a_mistake_is_one_line_and_exit_2(outputs: Path, args: tuple[str, ...],
                                          message: str) -> None:
    code, out, err = runs(outputs, *args)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    if args[0] == "show":
        assert "Did you mean 'runs/real'?" in err


def test_a_later_listing_reads_only_the_runs_whose_records_changed(tmp_path: Path,
                                                                   outputs: Path) -> None:
    source = outputs / "runs" / "real"
    copy_run(source, tmp_path / "runs" / "a", dataset="adult", model="svm", shift=0.0)
    copy_run(source, tmp_path / "runs" / "b", dataset="adult", model="svm", shift=-0.1)
    assert [row["run"] for row in listed(tmp_path, "--sort", "roc_auc")] == ["runs/a", "runs/b"]
    assert (tmp_path / CACHE_FILE).is_file()
    shutil.rmtree(tmp_path / "runs" / "b")
    copy_run(source, tmp_path / "runs" / "b", dataset="adult", model="svm", shift=0.001)
    assert [row["run"] for row in listed(tmp_path, "--sort", "roc_auc")] == ["runs/b", "runs/a"]
    (tmp_path / CACHE_FILE).write_text("{damaged")
    assert len(listed(tmp_path)) == 2
    assert json.loads((tmp_path / CACHE_FILE).read_text())["runs"].keys() == {"runs/a", "runs/b"}
