"""The model bundle: the fitted Pipeline, its input schema, metadata, the reference profile
``monitor`` compares new rows against (and a sample of held-out rows), and a SHA-256 manifest;
beside them a sample request for the REST service and a sample input file for ``predict``.

The pipeline is saved with skops, which rebuilds objects from a list of trusted types
(:mod:`engine.deploy.trusted_types`) rather than running a pickle's code. Loading checks, before
any byte of the pipeline is deserialised: that MANIFEST.json seals exactly the bundle's files;
its HMAC-SHA256 when ``ENGINE_SIGNING_KEY`` is set (the key that signed it at training); and each
file's SHA-256. A bundle of an older engine holds a pickle (``pipeline.joblib``), which can run
any code as it loads: it loads only with ``trust_pickle=True``. A bundle written before bundles
kept a reference profile seals no profile and still loads.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from engine.card import CARD_FILE
from engine.deploy.trusted_types import load_trusted, skops_io
from engine.errors import DataError
from engine.tracking.files import read_json, write_json
from engine.tracking.records import (
    BundleManifest,
    BundleMetadata,
    ReferenceProfile,
    read_record,
    write_record,
)

BUNDLE_DIR = "model"
PIPELINE_FILE = "pipeline.skops"
PICKLE_FILE = "pipeline.joblib"
"""The pipeline as older engines wrote it."""
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "MANIFEST.json"
SAMPLE_REQUEST_FILE = "sample_request.json"
SAMPLE_INPUT_FILE = "sample_input.csv"
SIGNING_VARIABLE = "ENGINE_SIGNING_KEY"
REFERENCE_FILE = "reference_profile.json"
REFERENCE_SAMPLE_FILE = "reference_sample.parquet"
SEALED = (SCHEMA_FILE, METADATA_FILE)
"""The sealed files besides the pipeline's."""
OPTIONAL = (REFERENCE_FILE, REFERENCE_SAMPLE_FILE, CARD_FILE)
KEPT_PIPELINES = 4
"""Pipelines kept loaded, by the digest of their verified bytes: a process loading the same
bytes again (the lifecycle loop's champion at every step, the challenger it just judged when
it is registered) does not deserialize them again."""
_kept: dict[str, Pipeline] = {}
"""Sealed when present: a bundle of an older engine has no reference; one with a profile of
``sample_rows=0`` has no sample."""


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified bundle."""

    pipeline: Pipeline
    schema: dict[str, Any]
    metadata: BundleMetadata
    directory: Path


def save_bundle(
    directory: Path, pipeline: Pipeline, schema: dict[str, Any], metadata: BundleMetadata, *,
    reference: ReferenceProfile | None = None, reference_sample: pd.DataFrame | None = None,
    card: str | None = None,
) -> Path:
    """Write the bundle into ``directory`` (replacing one there) and seal it with a manifest of
    SHA-256 digests, signed when ``ENGINE_SIGNING_KEY`` is set. ``reference`` and
    ``reference_sample`` (see :mod:`engine.monitoring.profile`) are sealed with the rest when
    given, and so is ``card`` (MODEL_CARD.md, :mod:`engine.card.writer`). The files are
    written into a temporary sibling directory that is then renamed into place: a reader never
    sees half a bundle, nor does a killed run leave one."""
    staging = _sibling(directory, "new")
    try:
        skops_io().dump(pipeline, staging / PIPELINE_FILE, compression=zipfile.ZIP_DEFLATED)
        write_json(staging / SCHEMA_FILE, schema)
        write_record(staging / METADATA_FILE, metadata)
        if reference is not None:
            write_record(staging / REFERENCE_FILE, reference)
        if reference is not None and reference_sample is not None:
            reference_sample.to_parquet(staging / REFERENCE_SAMPLE_FILE, engine="pyarrow",
                                        index=False)
        if card is not None:
            (staging / CARD_FILE).write_text(card, encoding="utf-8")
        write_samples(staging, schema, metadata)
        write_record(staging / MANIFEST_FILE, _manifest(staging))
        _move_into_place(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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


def load_bundle(path: Path, *, trust_pickle: bool = False) -> Bundle:
    """Verify the manifest (and its signature, where a key is set), then load the bundle; a
    changed, missing, unsigned or untrusted part is refused with one line.

    ``trust_pickle`` lets an older engine's pickled pipeline load: only for a bundle whose
    origin the caller trusts, since unpickling can run any code."""
    directory = find_bundle(path)
    manifest = read_record(directory / MANIFEST_FILE, BundleManifest)
    check_signature(directory, manifest)
    pipeline_file = _pipeline_file(directory, manifest)
    sealed = {name: _verified_bytes(directory, name, digest)
              for name, digest in manifest.sha256.items()}
    if pipeline_file == PICKLE_FILE and not trust_pickle:
        raise DataError(
            f"model bundle '{directory}': {PICKLE_FILE} is a pickle written by an older version "
            "of the engine, and loading a pickle can run any code it holds. Re-run the "
            "experiment to rebuild the bundle, or pass --trust-pickle if you trust its origin."
        )
    return Bundle(
        pipeline=_kept_pipeline(directory, pipeline_file, sealed[pipeline_file],
                                manifest.sha256[pipeline_file]),
        schema=_schema(directory / SCHEMA_FILE),
        metadata=read_record(directory / METADATA_FILE, BundleMetadata),
        directory=directory,
    )


def read_sealed(directory: Path, name: str) -> bytes | None:
    """The bytes of ``name`` in the bundle ``directory``, checked as :func:`load_bundle` checks
    its files (the manifest's files, its signature where a key is set, the file's digest), so
    that what is checked is what the caller parses; None when the manifest does not seal
    ``name`` (a bundle of an older engine) and no such file is there."""
    manifest = read_record(directory / MANIFEST_FILE, BundleManifest)
    check_signature(directory, manifest)
    _pipeline_file(directory, manifest)
    if name in manifest.sha256:
        return _verified_bytes(directory, name, manifest.sha256[name])
    if (directory / name).exists():
        raise DataError(
            f"model bundle '{directory}': {name} is not sealed in {MANIFEST_FILE}; it was added "
            "or the manifest was changed after training. Re-run the experiment to rebuild it."
        )
    return None


def check_signature(directory: Path, manifest: BundleManifest) -> None:
    """With ``ENGINE_SIGNING_KEY`` set, refuse a manifest not signed with that key."""
    key = signing_key()
    if key is None:
        return
    if manifest.hmac_sha256 is None:
        raise DataError(
            f"model bundle '{directory}': {MANIFEST_FILE} is not signed, and {SIGNING_VARIABLE} "
            "is set, so only bundles signed with that key load. Re-run the experiment with the "
            f"key set to sign it (or unset {SIGNING_VARIABLE} if you trust this bundle)."
        )
    if not hmac.compare_digest(manifest.hmac_sha256, _signature(manifest, key)):
        raise DataError(
            f"model bundle '{directory}': {MANIFEST_FILE}'s signature does not match "
            f"{SIGNING_VARIABLE}: it was signed with another key, or changed after it was signed. "
            "Re-run the experiment with this key to sign it again."
        )


def signing_key() -> bytes | None:
    """``$ENGINE_SIGNING_KEY`` as bytes, or None when it is unset or empty."""
    key = os.environ.get(SIGNING_VARIABLE)
    return key.encode() if key else None


def _manifest(directory: Path) -> BundleManifest:
    names = (PIPELINE_FILE, *SEALED, *(name for name in OPTIONAL if (directory / name).is_file()))
    digests = {name: _sha256((directory / name).read_bytes()) for name in names}
    key = signing_key()
    if key is None:
        return BundleManifest(sha256=digests)
    return BundleManifest(sha256=digests,
                          hmac_sha256=_signature(BundleManifest(sha256=digests), key))


def _signature(manifest: BundleManifest, key: bytes) -> str:
    return hmac.new(key, manifest.signed_bytes(), hashlib.sha256).hexdigest()


def _move_into_place(staging: Path, directory: Path) -> None:
    """Rename ``staging`` to ``directory``; a bundle there already is renamed aside first and
    removed after."""
    if not directory.exists():
        os.rename(staging, directory)
        return
    aside = _sibling(directory, "old")
    os.rename(directory, aside / directory.name)
    os.rename(staging, directory)
    shutil.rmtree(aside, ignore_errors=True)


def _sibling(directory: Path, role: str) -> Path:
    """A new, empty hidden directory beside ``directory`` (made with the usual permissions)."""
    sibling = directory.parent / f".{directory.name}.{role}-{uuid.uuid4().hex}"
    sibling.mkdir(parents=True)
    return sibling


def _pipeline_file(directory: Path, manifest: BundleManifest) -> str:
    """The pipeline's file the manifest seals, once it seals exactly the bundle's files: the
    pipeline's, the schema and the metadata, and the reference profile and its sample where the
    bundle has them (a sample only beside a profile)."""
    names = set(manifest.sha256)
    formats = [name for name in (PIPELINE_FILE, PICKLE_FILE) if name in names]
    optional = names & set(OPTIONAL)
    if (len(formats) != 1 or names - optional != {formats[0], *SEALED}
            or optional == {REFERENCE_SAMPLE_FILE}):
        raise DataError(
            f"model bundle '{directory}': {MANIFEST_FILE} seals "
            f"{', '.join(sorted(names)) or 'no files'}, not the bundle's {PIPELINE_FILE}, "
            f"{SCHEMA_FILE} and {METADATA_FILE} (with {REFERENCE_FILE} and "
            f"{REFERENCE_SAMPLE_FILE} where it has them); it was changed or damaged after "
            "training. Re-run the experiment to rebuild it."
        )
    return formats[0]


def _verified_bytes(directory: Path, name: str, digest: str) -> bytes:
    """The file's bytes, once they match the manifest's digest (read once, so what is checked
    is what loads)."""
    file = directory / name
    data = file.read_bytes() if file.is_file() else None
    if data is None or _sha256(data) != digest:
        state = "is missing" if data is None else "does not match its SHA-256"
        raise DataError(
            f"model bundle '{directory}': {name} {state} in {MANIFEST_FILE}; the bundle was "
            "changed or damaged after training. Re-run the experiment to rebuild it."
        )
    return data


def _kept_pipeline(directory: Path, name: str, data: bytes, digest: str) -> Pipeline:
    """The pipeline of these verified bytes: kept from an earlier load of the same bytes, else
    loaded (and kept, the oldest of :data:`KEPT_PIPELINES` let go)."""
    pipeline = _kept.pop(digest, None)
    if pipeline is None:
        pipeline = _pipeline(directory, name, data)
    _kept[digest] = pipeline
    while len(_kept) > KEPT_PIPELINES:
        del _kept[next(iter(_kept))]
    return pipeline


def _pipeline(directory: Path, name: str, data: bytes) -> Pipeline:
    """The Pipeline in ``data``: built by skops from trusted types, or unpickled from an older
    engine's file (the caller has decided to trust it)."""
    import joblib

    try:
        pipeline = (joblib.load(io.BytesIO(data)) if name == PICKLE_FILE
                    else load_trusted(data, directory / name))
    except (ModuleNotFoundError, AttributeError) as error:
        raise DataError(
            f"model bundle '{directory}': the pipeline uses code that cannot be imported here "
            f"({error}). A bundle keeps weights and settings, not code: run where the model's "
            "own package (a network named by model.module._target_, say) is importable."
        ) from None
    if not isinstance(pipeline, Pipeline):
        raise DataError(
            f"model bundle '{directory}': {name} holds a {type(pipeline).__name__}, not a "
            "scikit-learn Pipeline; it was not written by the engine. Re-run the experiment to "
            "rebuild the bundle."
        )
    return pipeline


def _schema(path: Path) -> dict[str, Any]:
    """schema.json, refused in one line when it is not a JSON object."""
    try:
        schema = read_json(path)
    except (json.JSONDecodeError, UnicodeDecodeError):
        schema = None
    if not isinstance(schema, dict):
        raise DataError(f"model bundle: {path} is not a JSON object; the bundle was damaged. "
                        "Re-run the experiment to rebuild it.")
    return schema


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
