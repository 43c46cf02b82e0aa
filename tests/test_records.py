"""Run records: written and read through their types, version 1 read as it was written before
records were versioned, newer versions and damaged files refused with one line naming the file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from engine.deploy.bundle import MANIFEST_FILE, load_bundle, save_bundle
from engine.errors import RecordError
from engine.tracking.leaderboard import collect_jobs
from engine.tracking.records import (
    BundleManifest,
    BundleMetadata,
    MetricsRecord,
    RunRecord,
    UnfinishedRunRecord,
    read_finished_run,
    read_metrics,
    read_record,
    read_run,
    write_record,
)

# The shapes python -m engine wrote before records carried a schema_version (trimmed).
METRICS_V1: dict[str, Any] = {
    "task": "binary", "primary": "roc_auc", "objective": 0.9938, "objective_source": "cv_mean",
    "cv": {"roc_auc": {"mean": 0.9938, "std": 0.0033, "folds": [0.9932, 0.9982, 0.9902]},
           "accuracy": {"mean": 0.9582, "std": 0.0189, "folds": [0.9342, 0.9803, 0.9603]}},
    "test": {"roc_auc": 0.9901, "accuracy": 0.9561},
    "test_intervals": {"roc_auc": {"low": 0.9741, "high": 0.9997, "std": 0.0067},
                       "accuracy": {"low": 0.9123, "high": 0.9912, "std": 0.0188}},
    "bootstrap": {"method": "percentile", "resamples": 1000, "confidence": 0.95, "seed": 42},
    "overfitting": {"metric": "roc_auc", "train": 1.0, "train_rows": 455, "cv": 0.9938,
                    "test": 0.9901, "max_gap": 0.05, "train_vs_cv": 0.0062,
                    "cv_vs_test": 0.0038, "train_vs_test": 0.01, "flagged": False},
    "n_train": 455, "n_test": 114, "classes": [0, 1],
}
RUN_V1: dict[str, Any] = {
    "status": "ok", "run_dir": "outputs/runs/x",
    "choices": {"model": "hist_gbm", "dataset": "breast_cancer", "tune": "none"},
    "model": "hist_gbm", "seed": 42,
    "split": {"test_size": 0.2, "cv": {"strategy": "auto", "n_splits": 3}},
    "dataset": {"name": "breast_cancer", "rows": 569, "columns": 30, "task": "binary",
                "target": "target", "fingerprint": "dc549a52"},
    "primary": "roc_auc", "objective": 0.9938,
    "timing": {"prepare_seconds": 0.26, "cv_seconds": 8.7, "fit_seconds": 0.96,
               "evaluate_seconds": 0.86, "total_seconds": 10.9},
    "warnings": [{"category": "UserWarning", "message": "X", "count": 2}],
    "packages": {"python": "3.11.7", "scikit-learn": "1.9.1"},
    "git": {"commit": "04e02f1", "dirty": True},
}
FAILED_V1 = {"status": "failed", "error": "model=random_forrest: no such model",
             "choices": {"model": "random_forrest", "dataset": "iris"}}
BUNDLE_V1: dict[str, Any] = {
    "task": "binary", "target": "target", "classes": ["no", "yes"], "model": "dummy",
    "primary": "roc_auc", "metrics": {"cv": {}, "test": {"roc_auc": 0.5}}, "seed": 0,
    "data_fingerprint": "dc549a52",
    "reading": {"na_values": ["?"], "read_options": None, "dtypes": None},
    "packages": {"python": "3.11.7"}, "git": {"commit": None, "dirty": None},
}


def write(path: Path, payload: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def test_records_round_trip_with_their_version_first_and_unset_sections_left_out(
        tmp_path: Path) -> None:
    metrics = MetricsRecord.model_validate(METRICS_V1)
    run = RunRecord.model_validate({**RUN_V1, "exports": {"onnx": {"file": "model.onnx"}}})
    write_record(tmp_path / "metrics.json", metrics)
    write_record(tmp_path / "run.json", run)
    assert read_metrics(tmp_path) == metrics
    assert read_run(tmp_path) == run
    stored = json.loads((tmp_path / "metrics.json").read_text())
    assert next(iter(stored)) == "schema_version" and stored["schema_version"] == 1
    assert "tuning" not in stored and "decision" not in stored  # not null: absent, as before
    assert stored == {"schema_version": 1, **METRICS_V1}


def test_a_score_that_could_not_be_computed_is_written_null_and_read_back_none(
        tmp_path: Path) -> None:
    write_record(tmp_path / "metrics.json",
                 MetricsRecord.model_validate({**METRICS_V1, "test": {"roc_auc": math.nan}}))
    assert '"roc_auc": null' in (tmp_path / "metrics.json").read_text()
    assert read_metrics(tmp_path).test == {"roc_auc": None}


def test_version_1_files_without_a_schema_version_are_read(tmp_path: Path) -> None:
    write(tmp_path / "metrics.json", METRICS_V1)
    write(tmp_path / "run.json", RUN_V1)
    metrics, run = read_metrics(tmp_path), read_finished_run(tmp_path, "compare")
    assert metrics.schema_version == 1 and run.schema_version == 1
    assert metrics.cv["roc_auc"].folds == [0.9932, 0.9982, 0.9902]
    assert metrics.test_intervals["accuracy"].low == 0.9123
    assert run.dataset.fingerprint == "dc549a52" and run.timing.fit_seconds == 0.96
    assert run.warnings[0].count == 2


def test_older_version_1_files_lacking_later_sections_read_with_their_defaults(
        tmp_path: Path) -> None:
    older = {k: v for k, v in METRICS_V1.items()
             if k not in ("test_intervals", "bootstrap", "overfitting")}
    write(tmp_path / "metrics.json", older)
    metrics = read_metrics(tmp_path)
    assert metrics.test_intervals == {} and metrics.overfitting is None
    assert metrics.bootstrap is None


def test_a_failed_runs_record_reads_as_unfinished_and_is_refused_where_a_model_is_needed(
        tmp_path: Path) -> None:
    write(tmp_path / "run.json", FAILED_V1)
    record = read_run(tmp_path)
    assert isinstance(record, UnfinishedRunRecord)
    assert record.error == FAILED_V1["error"] and record.choices["model"] == "random_forrest"
    with pytest.raises(RecordError, match=r"^compare: run .* stopped before it trained a model "
                                          r"\(model=random_forrest: no such model\)"):
        read_finished_run(tmp_path, "compare")


def test_a_newer_version_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = write(tmp_path / "metrics.json", {**METRICS_V1, "schema_version": 7})
    with pytest.raises(RecordError) as raised:
        read_metrics(tmp_path)
    assert str(raised.value) == (f"{path}: schema version 7 is newer than this engine reads (1);"
                                 " upgrade the engine to read it.")


@pytest.mark.parametrize(("content", "message"), [
    ('{"task": "binary",', r"metrics.json: not valid JSON \(Expecting property name enclosed "
                           r"in double quotes at line 1 column 19\); the file was damaged"),
    ("[1, 2]", r"metrics.json: holds a JSON list, not a record"),
    ({**METRICS_V1, "cv": {"roc_auc": {"mean": "high", "std": 0.1, "folds": []}}},
     r"metrics.json: not a record this engine wrote: cv.roc_auc.mean: input should be a valid "
     r"number, got 'high'\. Re-run"),
    ({**METRICS_V1, "n_train": "455"}, r"n_train: input should be a valid integer, got '455'"),
    ({k: v for k, v in METRICS_V1.items() if k != "primary"}, r"primary: field required\. "),
    ({**METRICS_V1, "task": "ranking"}, r"task: input should be 'binary', 'multiclass' or "
                                        r"'regression', got 'ranking'"),
    ({**METRICS_V1, "schema_version": 0}, r"schema_version: input should be greater than or "
                                          r"equal to 1, got 0"),
])
def test_a_malformed_record_is_one_line_naming_the_file(tmp_path: Path, content: Any,
                                                         message: str) -> None:
    write(tmp_path / "metrics.json", content)
    with pytest.raises(RecordError, match=message) as raised:
        read_metrics(tmp_path)
    assert "\n" not in str(raised.value) and str(tmp_path) in str(raised.value)


def test_a_finished_runs_record_missing_a_key_names_it(tmp_path: Path) -> None:
    write(tmp_path / "run.json", {k: v for k, v in RUN_V1.items() if k != "timing"})
    with pytest.raises(RecordError, match=r"run.json: not a record this engine wrote: timing: "
                                          r"field required\. Re-run"):
        read_run(tmp_path)


def test_a_bundle_from_a_newer_engine_is_refused_before_its_pipeline_is_loaded(
        tmp_path: Path) -> None:
    pipeline = Pipeline([("model", DummyClassifier())]).fit([[0], [1]], ["no", "yes"])
    save_bundle(tmp_path / "model", pipeline, {"columns": []},
                BundleMetadata.model_validate(BUNDLE_V1))
    bundle = load_bundle(tmp_path)
    assert bundle.metadata.classes == ["no", "yes"] and bundle.metadata.reading.na_values == ["?"]
    manifest = tmp_path / "model" / MANIFEST_FILE
    write(manifest, {**json.loads(manifest.read_text()), "schema_version": 2})
    with pytest.raises(RecordError, match=r"MANIFEST.json: schema version 2 is newer than this "
                                          r"engine reads \(1\)"):
        load_bundle(tmp_path)


def test_a_manifest_written_before_bundles_were_signed_reads_unsigned(tmp_path: Path) -> None:
    digests = {"pipeline.joblib": "a" * 64, "schema.json": "b" * 64, "metadata.json": "c" * 64}
    write(tmp_path / MANIFEST_FILE, {"sha256": digests})
    older = read_record(tmp_path / MANIFEST_FILE, BundleManifest)
    assert (older.schema_version, older.sha256, older.hmac_sha256) == (1, digests, None)
    signed = BundleManifest(sha256=digests, hmac_sha256="d" * 64)
    write_record(tmp_path / MANIFEST_FILE, signed)
    assert read_record(tmp_path / MANIFEST_FILE, BundleManifest) == signed
    # the signature covers the version and digests, whatever the file's layout
    assert signed.signed_bytes() == older.signed_bytes() == json.dumps(
        {"schema_version": 1, "sha256": digests}, sort_keys=True, separators=(",", ":")).encode()


def test_a_sweep_job_with_a_damaged_record_is_a_failed_row_saying_why(tmp_path: Path) -> None:
    for job, metrics in (("0", METRICS_V1), ("1", '{"task": ')):
        (tmp_path / job / ".hydra").mkdir(parents=True)
        write(tmp_path / job / "run.json", RUN_V1)
        write(tmp_path / job / "metrics.json", metrics)
    (tmp_path / "2" / ".hydra").mkdir(parents=True)  # killed before it wrote run.json
    rows = {row["job"]: row for row in collect_jobs(tmp_path)}
    assert rows["0"]["status"] == "ok" and rows["0"]["cv_mean"] == 0.9938
    assert rows["0"]["model"] == "hist_gbm" and rows["0"]["test"] == 0.9901
    assert rows["1"]["status"] == "failed"
    assert rows["1"]["error"].startswith(f"{tmp_path / '1' / 'metrics.json'}: not valid JSON")
    assert (rows["2"]["status"], rows["2"]["error"]) == ("failed", "killed")


def test_a_failed_export_fails_the_run_and_is_left_out_of_its_exports(tmp_path: Path) -> None:
    error = "deploy.targets: the onnx graph of model (Ridge) differs from scikit-learn"
    made = {"file": "model.pt", "parity": {"rows": 3, "max_abs_diff": 0.0}}
    run = RunRecord.model_validate({**RUN_V1, "exports": {"onnx": {"error": error},
                                                          "torchscript": made}})
    assert (run.status, run.error, run.exports) == ("failed", error, {"torchscript": made})
    write_record(tmp_path / "run.json", run)
    assert read_run(tmp_path) == run
    fairness = {**RUN_V1, "status": "failed", "error": "metrics.fairness.limits: the model fails"}
    run = RunRecord.model_validate({**fairness, "exports": {"onnx": {"error": error}}})
    assert (run.status, run.error, run.exports) == ("failed", fairness["error"], {})


def test_a_bundle_written_before_it_kept_its_reading_rules_reads_with_none(
        tmp_path: Path) -> None:
    older = {key: value for key, value in BUNDLE_V1.items() if key != "reading"}
    write(tmp_path / "metadata.json", older)
    metadata = read_record(tmp_path / "metadata.json", BundleMetadata)
    assert metadata.reading.na_values is None and metadata.reading.dtypes is None
