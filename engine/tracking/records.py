"""The records a run writes (metrics.json, run.json, the bundle's metadata.json, MANIFEST.json
and reference_profile.json), typed, versioned, and read back through the same types.

Every record carries ``schema_version``. Version 1 is the shape of the files written before
records carried one, so a file without it reads as version 1. A file from a newer engine is
refused, naming both versions; a file that is not JSON or not of its record's shape is a one-line
error naming the file. When a shape changes, raise ``SCHEMA_VERSION`` and convert the older
versions' dicts in :func:`_validated` before they are validated.

Structural pieces forbid unknown keys; sections other modules fill (tuning, timing, the decision,
exports) allow them, so a key added there is kept rather than refused. Reading is strict (a
number written as a string is refused); writing converts numpy scalars to Python numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from engine.errors import RecordError
from engine.tracking.files import write_json

SCHEMA_VERSION = 1
METRICS_FILE = "metrics.json"
RUN_FILE = "run.json"
RESOLVED_CONFIG_FILE = "resolved_config.yaml"
"""A run's whole config, interpolations resolved, from which `retrain` trains it again."""

Task = Literal["binary", "multiclass", "regression"]
ClassLabel = bool | int | float | str
Score = float | None
"""A score; null in the file where it was NaN (a scorer that could not be computed)."""


class Part(BaseModel):
    """A piece of a record whose keys are all known: unknown ones are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenPart(BaseModel):
    """A piece of a record that another module fills: its known keys typed, others kept."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Record(Part):
    """A whole file: versioned."""

    schema_version: int = Field(default=SCHEMA_VERSION, ge=1, le=SCHEMA_VERSION)


class CVScores(Part):
    """One scorer's cross-validation: the folds' mean and standard deviation, and each fold."""

    mean: Score
    std: Score
    folds: list[Score]


class Interval(Part):
    """A test score's bootstrap interval and the resampled scores' standard deviation."""

    low: Score
    high: Score
    std: Score


class BootstrapRecord(OpenPart):
    method: str
    resamples: int
    confidence: float
    seed: int


class Overfitting(OpenPart):
    """The primary score on training rows, in CV and on the test rows, and the relative gaps."""

    metric: str
    train: Score
    train_rows: int | None = None
    cv: Score
    test: Score
    max_gap: float
    train_vs_cv: Score
    cv_vs_test: Score
    train_vs_test: Score
    flagged: bool


class Tuning(OpenPart):
    """The in-run search: the study, the picked trial and the trial counts by state."""

    study_name: str
    storage: str
    method: str
    pruner: str
    objectives: list[str]
    directions: list[str]
    best_trial: int
    best_values: list[Score]
    best_params: dict[str, Any]
    trials: dict[str, int]
    new_trials: int
    search_seconds: float
    pareto_front: list[int] | None = None
    plots: dict[str, Any] = {}


class MetricsRecord(Record):
    """metrics.json: CV and test scores per scorer, their intervals and the run's checks."""

    task: Task
    primary: str
    objective: Score
    objective_source: Literal["cv_mean", "test"]
    cv: dict[str, CVScores]
    test: dict[str, Score]
    test_intervals: dict[str, Interval] = {}
    bootstrap: BootstrapRecord | None = None
    overfitting: Overfitting | None = None
    n_train: int
    n_test: int
    classes: list[ClassLabel]
    tuning: Tuning | None = None
    decision: dict[str, Any] = {}


class DatasetRecord(Part):
    name: str
    rows: int
    columns: int
    task: Task
    target: str
    fingerprint: str


class Timing(OpenPart):
    """Seconds of each stage; ``fit_seconds`` is the median of ``fit_seconds_repeats``."""

    prepare_seconds: float
    cv_seconds: float | None = None
    tune_seconds: float | None = None
    fit_seconds: float
    fit_seconds_repeats: list[float] | None = None
    evaluate_seconds: float
    total_seconds: float


class WarningRecord(Part):
    category: str
    message: str
    count: int


class GitState(Part):
    commit: str | None
    dirty: bool | None


class RunRecord(Record):
    """run.json of a run that trained and evaluated its model. ``status`` is failed, with the
    ``error``, when a declared check (a fairness limit) failed or an export did; ``exports``
    holds the exports made (exports/exports.json records the failed one's error too)."""

    status: Literal["ok", "failed"]
    error: str | None = None
    run_dir: str
    choices: dict[str, str | None]
    model: str
    seed: int
    split: dict[str, Any] = {}
    dataset: DatasetRecord
    primary: str
    objective: Score
    timing: Timing
    warnings: list[WarningRecord] = []
    exports: dict[str, Any] = {}
    deploy: dict[str, Any] = {}
    packages: dict[str, str]
    git: GitState

    @model_validator(mode="before")
    @classmethod
    def _failed_exports(cls, data: Any) -> Any:
        """An export recorded as ``{"error": ...}`` (see ``engine.deploy.exports``) fails the
        run with that error, unless it failed already (a fairness limit's error comes first),
        and is left out of ``exports``."""
        exports = data.get("exports") if isinstance(data, dict) else None
        if not isinstance(exports, dict):
            return data
        errors = {target: entry["error"] for target, entry in exports.items()
                  if isinstance(entry, dict) and isinstance(entry.get("error"), str)}
        if not errors:
            return data
        made = {target: entry for target, entry in exports.items() if target not in errors}
        failure = ({"status": "failed", "error": next(iter(errors.values()))}
                   if data.get("status") == "ok" else {})
        return {**data, "exports": made, **failure}


class UnfinishedRunRecord(Record):
    """run.json of a run that stopped before it trained a model (failed, or interrupted by
    Ctrl-C): why, and the config choices."""

    status: Literal["failed", "interrupted"] = "failed"
    error: str
    choices: dict[str, str | None] = {}


class DatasetReading(Part):
    """How the training data was read, so rows to predict are read the same way."""

    na_values: list[Any] | None = None
    read_options: dict[str, Any] | None = None
    dtypes: dict[str, str] | None = None
    drop: list[str] | None = None  # columns training dropped: rows may still carry them


class BundleScores(Part):
    cv: dict[str, CVScores]
    test: dict[str, Score]


class BundleMetadata(Record):
    """The bundle's metadata.json: what the model predicts, how well, and where it came from."""

    task: Task
    target: str
    classes: list[ClassLabel]
    model: str
    primary: str
    metrics: BundleScores
    seed: int
    data_fingerprint: str
    reading: DatasetReading = DatasetReading()
    packages: dict[str, str]
    git: GitState


class BundleManifest(Record):
    """The bundle's MANIFEST.json: the SHA-256 of each file it seals, and, when the run had a
    signing key, ``hmac_sha256``: the HMAC-SHA256 of :meth:`signed_bytes` under that key.
    A manifest written before bundles were signed has no ``hmac_sha256`` and reads as None."""

    sha256: dict[str, str]
    hmac_sha256: str | None = None

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers: the version and the digests as compact
        JSON with sorted keys, so the file's layout does not matter."""
        return json.dumps({"schema_version": self.schema_version, "sha256": self.sha256},
                          sort_keys=True, separators=(",", ":")).encode()


class Profile(Part):
    """A column profile: its ``kind`` is always written, even left at its default, since a
    reader tells the kinds apart by it (a record is written with only the keys that were set)."""

    def model_post_init(self, context: Any, /) -> None:
        self.__pydantic_fields_set__.add("kind")


class NumericProfile(Profile):
    """A numeric column (or the prediction, or one class's probability) at training time:
    quantile bin edges (at most ``bins + 1``, min and max included, tied edges merged; two equal
    edges for a constant) with each bin's share of the non-missing values (bins are ``[low,
    high)``, the last ``[low, high]``, as numpy.histogram's), its range and moments, the missing
    share (values that are not finite) and ``count``, the values profiled. A column with no
    value has no edges and zero moments."""

    kind: Literal["numeric"] = "numeric"
    edges: list[float]
    shares: list[float]
    minimum: float
    maximum: float
    mean: float
    std: float
    missing: float
    count: int


class CategoricalProfile(Profile):
    """A category, boolean or label column: each category's share of the non-missing values
    (the ``max_categories`` most frequent; ``other`` holds the rest's share), and the missing
    share. Categories are written as text, as JSON keys must be."""

    kind: Literal["categorical"] = "categorical"
    shares: dict[str, float]
    other: float = 0.0
    missing: float
    count: int


class TextProfile(Profile):
    """A free-text column: its length in characters, profiled as a numeric column."""

    kind: Literal["text"] = "text"
    length: NumericProfile
    missing: float
    count: int


ColumnProfile = Annotated[NumericProfile | CategoricalProfile | TextProfile,
                          Field(discriminator="kind")]


class CalibrationMap(Part):
    """An isotonic map from a class's predicted probability to its observed frequency on the
    held-out rows (``x`` ascending, ``y`` the calibrated values), for estimating performance
    without labels."""

    x: list[float]
    y: list[float]


class ReferenceProfile(Record):
    """The bundle's reference_profile.json: what ``monitor`` compares new rows against.

    ``columns`` profiles every input column over all training rows (train and test);
    ``prediction``, ``probabilities``, ``target``, ``scores``, ``intervals`` and
    ``calibration`` come from the held-out test rows (out of sample). When the run had no test
    split, ``out_of_sample`` is false: ``prediction``, ``probabilities`` and ``target`` then
    come from a seeded sample of at most 10,000 training rows, and ``scores``, ``intervals`` and
    ``calibration`` are empty (in-sample scores would flatter the model, so performance is not
    estimated). ``sample_rows`` of those rows (inputs, ``_prediction``, each
    ``_probability:<class>`` and ``_target``) are kept in reference_sample.parquet for
    two-sample tests; 0 when none were kept. Categories, classes and labels are keyed by their
    text (``str(label)``); dates are profiled as seconds since 1970 (UTC). ``monitor`` is the
    run's ``monitor`` config section, the settings serving and ``monitor`` start from."""

    rows: int
    columns: dict[str, ColumnProfile]
    prediction: ColumnProfile
    probabilities: dict[str, NumericProfile] = {}
    target: ColumnProfile
    scores: dict[str, Score]
    intervals: dict[str, Interval] = {}
    calibration: dict[str, CalibrationMap] = {}
    out_of_sample: bool
    sample_rows: int
    seed: int
    monitor: dict[str, Any] = {}


RUN_KINDS = ("finished", "unfinished")


def _run_kind(data: Any) -> str:
    """A run.json with a dataset record is a finished run's."""
    return RUN_KINDS[0] if isinstance(data, dict) and "dataset" in data else RUN_KINDS[1]


AnyRunRecord = Annotated[
    Annotated[RunRecord, Tag(RUN_KINDS[0])] | Annotated[UnfinishedRunRecord, Tag(RUN_KINDS[1])],
    Discriminator(_run_kind),
]
R = TypeVar("R")
RUN_RECORDS: TypeAdapter[RunRecord | UnfinishedRunRecord] = TypeAdapter(AnyRunRecord)


def write_record(path: Path, record: Record) -> Path:
    """Write ``record`` as JSON (atomically), its version first; keys never set are left out,
    so an optional section a run did not make is absent rather than null."""
    return write_json(path, {"schema_version": record.schema_version,
                             **record.model_dump(exclude_unset=True)})


def read_record(path: Path, record_type: type[R]) -> R:
    """The record in ``path``, e.g. ``read_record(bundle_dir / MANIFEST_FILE, BundleManifest)``;
    a damaged file or one from a newer engine is a RecordError."""
    return _validated(path, TypeAdapter(record_type))


def read_metrics(run_dir: Path) -> MetricsRecord:
    return read_record(run_dir / METRICS_FILE, MetricsRecord)


def read_run(run_dir: Path) -> RunRecord | UnfinishedRunRecord:
    """run.json: a finished run's record, or an unfinished one's error and choices."""
    return _validated(run_dir / RUN_FILE, RUN_RECORDS)


def read_finished_run(run_dir: Path, verb: str) -> RunRecord:
    """run.json of a run that trained a model; ``verb`` names the command that needs one."""
    record = read_run(run_dir)
    if isinstance(record, UnfinishedRunRecord):
        raise RecordError(f"{verb}: run {run_dir} stopped before it trained a model "
                          f"({record.error}). Pass a finished run directory.")
    return record


def parse_record(data: bytes, record_type: type[R], path: Path) -> R:
    """The record in ``data``, the bytes of ``path`` already read (and checked against a
    manifest's digest, so what was checked is what is parsed); errors as :func:`read_record`'s."""
    return _parsed(data, TypeAdapter(record_type), path)


def _validated(path: Path, adapter: TypeAdapter[R]) -> R:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RecordError(f"{path}: cannot be read ({error.strerror}).") from None
    return _parsed(data, adapter, path)


def _parsed(raw: bytes, adapter: TypeAdapter[R], path: Path) -> R:
    try:
        data = json.loads(raw.decode())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordError(f"{path}: not valid JSON ({_reason(error)}); the file was damaged after "
                          "the run wrote it. Re-run the experiment to write it again.") from None
    if not isinstance(data, dict):
        raise RecordError(f"{path}: holds a JSON {type(data).__name__}, not a record (an object); "
                          "re-run the experiment to write it again.")
    version = data.get("schema_version", 1)  # files written before records were versioned
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise RecordError(f"{path}: schema version {version} is newer than this engine reads "
                          f"({SCHEMA_VERSION}); upgrade the engine to read it.")
    try:
        return adapter.validate_python(data, strict=True)
    except ValidationError as error:
        raise RecordError(f"{path}: not a record this engine wrote: {_problem(error)}. Re-run the "
                          "experiment to write it again.") from None


def _reason(error: json.JSONDecodeError | UnicodeDecodeError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return f"{error.msg} at line {error.lineno} column {error.colno}"


def _problem(error: ValidationError) -> str:
    """The first problem as ``key.path: reason, got value`` (and how many more there are)."""
    problem = error.errors()[0]
    loc = [str(part) for part in problem["loc"]]
    if loc and loc[0] in RUN_KINDS:  # the branch of run.json's union, not a key
        loc = loc[1:]
    got = "" if problem["type"] == "missing" else f", got {_shown(problem['input'])}"
    more = error.error_count() - 1
    return (f"{'.'.join(loc) or 'the record'}: {problem['msg'].lower()}{got}"
            + (f" ({more} more problem{'s' if more > 1 else ''})" if more else ""))


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
