"""The reference profile every bundle keeps: real runs on a real CSV of numbers with gaps,
categories, a flag and free text; what the profile says checked against the data and the run's
own files; the sample seeded; the files sealed; an older bundle told apart."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.isotonic import IsotonicRegression

from engine.config.compose import compose_spec
from engine.config.schema import parse_section
from engine.config.schema.monitor import MonitorConfig
from engine.deploy.bundle import (
    MANIFEST_FILE,
    REFERENCE_FILE,
    REFERENCE_SAMPLE_FILE,
    SIGNING_VARIABLE,
    load_bundle,
    save_bundle,
)
from engine.errors import DataError
from engine.experiment import run_experiment
from engine.monitoring.columns import PREDICTION, TARGET, probability_column
from engine.monitoring.profile import Reference, ScoredRows, load_reference, reference_sample
from engine.reporting.run_report import write_run_report
from engine.tracking.records import CategoricalProfile, NumericProfile, TextProfile
from tests.conftest import REPO

ROWS = 400
WORDS = {"yes": ["refund", "late", "charge", "angry"], "no": ["thanks", "great", "fast", "ok"]}
MIXED = [*WORDS["yes"], *WORDS["no"]]
QUICK = ("model=logistic_regression", "features=text", "features.transformers.text.steps.2.k=all",
         "split.cv.n_splits=2", "report=false",
         "metrics.bootstrap.resamples=30", "metrics.explain.importance_repeats=0",
         "monitor.reference.sample_rows=50", "monitor.reference.bins=8")


def mixed_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.choice(["yes", "no"], rows)
    size = rng.normal(50, 10, rows).round(1) + (label == "yes") * 5
    size[::20] = np.nan
    return pd.DataFrame({
        "city": rng.choice(["paris", "oslo", "rome", "lima"], rows, p=[0.4, 0.3, 0.2, 0.1]),
        "size": size,
        "amount": rng.lognormal(3, 1, rows),  # no two rows alike, so no two probabilities
        "member": rng.random(rows) < 0.3,
        "text": [" ".join(rng.choice(WORDS[value] if rng.random() < 0.6 else MIXED,
                                     rng.integers(1, 4))) for value in label],
        "label": label,
    })


@pytest.fixture(scope="module")
def train(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Train on the mixed CSV with ``QUICK`` and the given overrides; the run directory."""
    tmp = tmp_path_factory.mktemp("profile")
    data = tmp / "mixed.csv"
    mixed_frame(ROWS, 0).to_csv(data, index=False)
    count = iter(range(100))

    def _train(*overrides: str) -> Path:
        run_dir = tmp / f"run{next(count)}"
        run_dir.mkdir()
        spec = compose_spec(["dataset=titanic", f"dataset.path={data}", "dataset.target=label",
                             "dataset.drop=[]", *QUICK, *overrides])
        run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))
        return run_dir

    return _train


@pytest.fixture(scope="module")
def trained(train: Callable[..., Path]) -> Path:
    return train()


def reference(run_dir: Path) -> Reference:
    return load_reference(load_bundle(run_dir))


def test_every_column_is_profiled_over_all_rows(trained: Path) -> None:
    frame = mixed_frame(ROWS, 0)
    profile = reference(trained).profile
    assert profile.rows == ROWS
    columns = profile.columns
    assert {name: type(p) for name, p in columns.items()} == {
        "city": CategoricalProfile, "size": NumericProfile, "amount": NumericProfile,
        "member": CategoricalProfile, "text": TextProfile}
    size = columns["size"]
    assert isinstance(size, NumericProfile)
    values = frame["size"].dropna()
    assert (size.minimum, size.maximum, size.count) == (values.min(), values.max(), len(values))
    assert size.missing == pytest.approx(0.05) and size.mean == pytest.approx(values.mean())
    assert len(size.edges) == 9 and size.edges == sorted(size.edges)  # 8 quantile bins
    np.testing.assert_allclose(size.shares, np.histogram(values, size.edges)[0] / len(values))
    city = columns["city"]
    assert isinstance(city, CategoricalProfile)
    assert city.shares == pytest.approx(frame["city"].value_counts(normalize=True).to_dict())
    assert (city.other, city.missing) == (0.0, 0.0)
    member = columns["member"]
    assert isinstance(member, CategoricalProfile) and set(member.shares) == {"True", "False"}
    text = columns["text"]
    assert isinstance(text, TextProfile)
    lengths = frame["text"].str.len()
    assert (text.length.minimum, text.length.maximum) == (lengths.min(), lengths.max())
    report = json.loads((trained / "data_report.json").read_text())
    assert report["columns"] == {name: p.model_dump() for name, p in columns.items()}


def test_the_held_out_answers_scores_and_calibration(trained: Path) -> None:
    profile = reference(trained).profile
    metrics = json.loads((trained / "metrics.json").read_text())
    held_out = pd.read_csv(trained / "predictions.csv")
    assert profile.out_of_sample and len(held_out) == metrics["n_test"] == 80
    assert profile.prediction.count == profile.target.count == 80
    assert isinstance(profile.target, CategoricalProfile)
    assert profile.target.shares == pytest.approx(
        held_out["y_true"].value_counts(normalize=True).to_dict())
    assert set(profile.probabilities) == {"no", "yes"}
    assert profile.probabilities["yes"].mean == pytest.approx(held_out["proba_yes"].mean())
    assert 0.6 < metrics["test"]["accuracy"] < 0.95  # a model that errs: calibration has work
    assert profile.scores == metrics["test"]
    assert {name: i.model_dump() for name, i in profile.intervals.items()} == \
        metrics["test_intervals"]
    expected = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
        held_out["proba_yes"], held_out["y_true"] == "yes")
    grid = np.linspace(0, 1, 101)
    mapping = profile.calibration["yes"]
    np.testing.assert_allclose(np.interp(grid, mapping.x, mapping.y), expected.predict(grid))
    monitor = parse_section(MonitorConfig, profile.monitor, "monitor.")
    assert (monitor.reference.sample_rows, monitor.reference.bins) == (50, 8)


def test_the_sample_is_held_out_rows_with_their_answers(trained: Path) -> None:
    sample = reference(trained).sample
    assert sample is not None and reference(trained).profile.sample_rows == len(sample) == 50
    assert list(sample.columns) == ["city", "size", "amount", "member", "text", PREDICTION,
                                    probability_column("no"), probability_column("yes"), TARGET]
    held_out = pd.read_csv(trained / "predictions.csv").set_index("proba_yes")
    assert held_out.index.is_unique
    matched = held_out.loc[sample[probability_column("yes")]]  # each sampled row, found
    assert matched["prediction"].tolist() == sample[PREDICTION].tolist()
    assert matched["y_true"].tolist() == sample[TARGET].tolist()
    inputs = mixed_frame(ROWS, 0).drop(columns="label").loc[matched["row"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample[inputs.columns], inputs, check_dtype=False)


def test_the_sample_is_seeded_and_sample_rows_0_keeps_none(
        train: Callable[..., Path], trained: Path) -> None:
    first, again = reference(trained).sample, reference(train()).sample
    assert first is not None and again is not None
    pd.testing.assert_frame_equal(again, first)
    other_seed = reference(train("seed=7")).sample
    assert other_seed is not None and len(other_seed) == 50
    assert not other_seed[probability_column("yes")].equals(again[probability_column("yes")])
    none = train("monitor.reference.sample_rows=0", "split.test_size=0")
    assert not (none / "model" / REFERENCE_SAMPLE_FILE).exists()
    kept = reference(none)
    assert kept.sample is None and kept.profile.sample_rows == 0
    # without a test split the answers are in sample: no scores, no calibration
    assert not kept.profile.out_of_sample
    assert (kept.profile.scores, kept.profile.calibration) == ({}, {})
    assert kept.profile.prediction.count == ROWS


@pytest.fixture
def bundle_dir(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained bundle, free to tamper with."""
    return Path(shutil.copytree(trained / "model", tmp_path / "model"))


@pytest.mark.parametrize("name", [REFERENCE_FILE, REFERENCE_SAMPLE_FILE])
@pytest.mark.parametrize("change", [
    lambda data: data.replace(b"0", b"1", 1),  # still well-formed JSON or Parquet, but changed
    lambda data: b"{not json",
])
def test_a_changed_reference_file_is_refused_before_it_is_parsed(
        bundle_dir: Path, name: str, change: Callable[[bytes], bytes]) -> None:
    bundle = load_bundle(bundle_dir)
    file = bundle_dir / name
    file.write_bytes(change(file.read_bytes()))
    with pytest.raises(DataError, match=rf"model bundle '.*': {name} does not match its SHA-256 "
                                        r"in MANIFEST.json; .* Re-run the experiment"):
        load_reference(bundle)
    with pytest.raises(DataError, match=rf"{name} does not match its SHA-256"):
        load_bundle(bundle_dir)


def seal(directory: Path, names: list[str]) -> None:
    """Rewrite MANIFEST.json to seal ``names``, as an older engine (or an editor) wrote it."""
    (directory / MANIFEST_FILE).write_text(json.dumps({"sha256": {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in names}}))


BASE = ["pipeline.skops", "schema.json", "metadata.json"]


def test_an_older_bundle_loads_but_holds_no_reference(bundle_dir: Path) -> None:
    (bundle_dir / REFERENCE_SAMPLE_FILE).unlink()
    (bundle_dir / REFERENCE_FILE).rename(bundle_dir.parent / REFERENCE_FILE)
    seal(bundle_dir, BASE)
    bundle = load_bundle(bundle_dir)
    with pytest.raises(DataError, match=r"model bundle '.*' was written by an older engine and "
                                        r"holds no reference profile \(reference_profile.json\); "
                                        r"re-run the experiment with this engine to write one\."):
        load_reference(bundle)
    (bundle_dir.parent / REFERENCE_FILE).rename(bundle_dir / REFERENCE_FILE)  # dropped in, unsealed
    with pytest.raises(DataError, match=r"reference_profile.json is not sealed in MANIFEST.json"):
        load_reference(bundle)


@pytest.mark.parametrize(("sealed", "message"), [
    ([*BASE, REFERENCE_SAMPLE_FILE], r"seals metadata.json, pipeline.skops, "
                                     r"reference_sample.parquet, schema.json, not the bundle's"),
    ([*BASE, REFERENCE_FILE], r"reference_profile.json records 50 sample rows but "
                              r"reference_sample.parquet is absent"),
])
def test_a_manifest_that_drops_part_of_the_reference_is_refused(
        bundle_dir: Path, sealed: list[str], message: str) -> None:
    if REFERENCE_SAMPLE_FILE not in sealed:
        (bundle_dir / REFERENCE_SAMPLE_FILE).unlink()
    seal(bundle_dir, sealed)
    with pytest.raises(DataError, match=message):
        load_reference(load_bundle(bundle_dir))


def test_a_signed_bundle_seals_its_reference_under_the_key(
        bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle, kept = load_bundle(bundle_dir), reference(bundle_dir)
    monkeypatch.setenv(SIGNING_VARIABLE, "right-key")
    signed = load_bundle(save_bundle(
        tmp_path / "signed", bundle.pipeline, bundle.schema, bundle.metadata,
        reference=kept.profile, reference_sample=kept.sample))
    manifest = json.loads((signed.directory / MANIFEST_FILE).read_text())
    assert {REFERENCE_FILE, REFERENCE_SAMPLE_FILE} <= set(manifest["sha256"])
    assert load_reference(signed).profile == kept.profile
    monkeypatch.setenv(SIGNING_VARIABLE, "wrong-key")
    with pytest.raises(DataError, match="signature does not match ENGINE_SIGNING_KEY"):
        load_reference(signed)  # loaded under the right key: the reference is checked again


def test_a_column_of_mixed_types_is_kept_as_text(tmp_path: Path) -> None:
    """Parquet stores one type a column: ``1`` beside ``"x"`` (an object column a user's
    DataFrame can hold) is written as text rather than failing the run at its last step."""
    inputs = pd.DataFrame({"code": pd.Series([1, "x", None, 2.5], dtype=object),
                           "n": [1.0, 2.0, 3.0, 4.0]})
    scored = ScoredRows(inputs, np.array(["a", "b", "a", "b"], dtype=object),
                        pd.DataFrame({"a": [0.9, 0.2, 0.7, 0.4], "b": [0.1, 0.8, 0.3, 0.6]}),
                        np.array(["a", "a", "b", "b"], dtype=object), out_of_sample=True)
    sample = reference_sample(scored, 4, seed=0)
    assert sample is not None
    sample.to_parquet(tmp_path / "sample.parquet")
    back = pd.read_parquet(tmp_path / "sample.parquet")
    assert back["code"].tolist()[:2] == ["1", "x"] and back["code"].isna().tolist()[2]
    assert back[probability_column("b")].tolist() == [0.1, 0.8, 0.3, 0.6]


def test_the_report_draws_each_columns_distribution(trained: Path) -> None:
    html = write_run_report(trained).read_text()
    section = html[html.index('id="distributions"'):html.index('id="diagnostics"')]
    for name in ("city", "size", "amount", "member", "text (length in characters)"):
        assert f'aria-label="{name}"' in section
    assert "share per unit (quantile bins)" in section and "paris" in section
