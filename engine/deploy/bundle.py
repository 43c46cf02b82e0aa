"""The model bundle: the fitted Pipeline, its input schema, metadata and a SHA-256 manifest;
beside them a sample request for the REST service and a sample input file for ``predict``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from engine.errors import DataError
from engine.tracking.files import read_json, write_json
from engine.tracking.records import BundleManifest, BundleMetadata, read_record, write_record

BUNDLE_DIR = "model"
PIPELINE_FILE = "pipeline.joblib"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "MANIFEST.json"
SAMPLE_REQUEST_FILE = "sample_request.json"
SAMPLE_INPUT_FILE = "sample_input.csv"


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    pipeline: Pipeline
    schema: dict[str, Any]
    metadata: BundleMetadata
    directory: Path


def save_bundle(
    directory: Path, pipeline: Pipeline, schema: dict[str, Any], metadata: BundleMetadata
) -> Path:
    """Write the bundle into ``directory`` and seal it with a manifest of SHA-256 digests."""
    directory.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, directory / PIPELINE_FILE)
    write_json(directory / SCHEMA_FILE, schema)
    write_record(directory / METADATA_FILE, metadata)
    files = (PIPELINE_FILE, SCHEMA_FILE, METADATA_FILE)
    write_record(directory / MANIFEST_FILE,
                 BundleManifest(sha256={f: _sha256(directory / f) for f in files}))
    write_samples(directory, schema, metadata)
    return directory


def write_samples(directory: Path, schema: dict[str, Any], metadata: BundleMetadata) -> None:
    """The schema's example rows as a request body for ``/invocations`` (MLflow's
    ``dataframe_records``) and as a file for ``predict``, written as the training file was
    (its ``read_options``' separator and encoding). Copies for people to try; nothing loads them,
    so the manifest does not seal them."""
    examples = schema.get("examples")
    if not examples:
        return
    write_json(directory / SAMPLE_REQUEST_FILE, {"dataframe_records": examples})
    options = metadata.reading.read_options or {}
    pd.DataFrame.from_records(examples).to_csv(
        directory / SAMPLE_INPUT_FILE, index=False,
        sep=options.get("sep", options.get("delimiter", ",")),
        encoding=options.get("encoding", "utf-8"))


def find_bundle(path: Path) -> Path:
    """The bundle directory for a run directory (or a bundle directory itself)."""
    for candidate in (path / BUNDLE_DIR, path):
        if (candidate / MANIFEST_FILE).is_file():
            return candidate
    raise DataError(
        f"run: '{path}' holds no model bundle (no {BUNDLE_DIR}/{MANIFEST_FILE}). Pass a run "
        "directory such as outputs/runs/<timestamp>, or a multirun job such as "
        "outputs/multiruns/<timestamp>/0."
    )


def load_bundle(path: Path) -> Bundle:
    """Verify the manifest, then load the bundle; a changed or missing file is refused."""
    directory = find_bundle(path)
    manifest = read_record(directory / MANIFEST_FILE, BundleManifest)
    for name, digest in manifest.sha256.items():
        file = directory / name
        if not file.is_file() or _sha256(file) != digest:
            state = "is missing" if not file.is_file() else "does not match its SHA-256"
            raise DataError(
                f"model bundle '{directory}': {name} {state} in {MANIFEST_FILE}; the bundle was "
                "changed or damaged after training. Re-run the experiment to rebuild it."
            )
    try:
        pipeline = joblib.load(directory / PIPELINE_FILE)
    except (ModuleNotFoundError, AttributeError) as error:
        raise DataError(
            f"model bundle '{directory}': the pipeline uses code that cannot be imported here "
            f"({error}). A bundle keeps weights and settings, not code: run where the model's "
            "own package (a network named by model.module._target_, say) is importable."
        ) from None
    return Bundle(
        pipeline=pipeline,
        schema=read_json(directory / SCHEMA_FILE),
        metadata=read_record(directory / METADATA_FILE, BundleMetadata),
        directory=directory,
    )


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
