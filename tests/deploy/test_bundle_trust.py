"""Bundles that cannot run code on load: skops with a list of trusted types, a manifest checked
(and its signature, where a key is set) before any byte is deserialised, and an older engine's
pickle only when the caller trusts it. Every shipped model and features config round-trips."""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
import yaml
from rich.console import Console
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from engine.config.compose import compose_spec
from engine.data.sources import load_dataset
from engine.deploy.batch_predict import predict_features
from engine.deploy.bundle import (
    MANIFEST_FILE,
    PICKLE_FILE,
    PIPELINE_FILE,
    SIGNING_VARIABLE,
    load_bundle,
    save_bundle,
)
from engine.deploy.trusted_types import TRUSTED_VARIABLE, trusted_types
from engine.errors import DataError, RecordError
from engine.experiment import run_experiment
from tests.conftest import REPO, run_main

CONF = REPO / "engine" / "conf"
QUICK = ("split.cv.n_splits=2", "report=false", "metrics.bootstrap.resamples=0",
         "metrics.explain.importance_repeats=0")
MODELS = sorted(path.stem for path in (CONF / "model").glob("*.yaml") if path.stem != "torch")
FEATURES = sorted(path.stem for path in (CONF / "features").glob("*.yaml"))
WORDS = {"a": ["billing", "refund", "invoice", "charge", "late", "fee", "card", "paid"],
         "b": ["parcel", "courier", "lost", "arrived", "box", "tracking", "door", "week"]}


class Payload:
    """Unpickled, it creates ``marker``: the proof that loading ran its code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


class Sneaky(BaseEstimator):
    """A class the engine does not trust; building it from a file creates ``marker``."""

    def __init__(self, marker: str = "") -> None:
        self.marker = marker

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["marker"]).touch()
        super().__setstate__(state)


def reseal(directory: Path, pipeline_file: str = PIPELINE_FILE) -> None:
    """Rewrite MANIFEST.json to match the files, as someone who swapped one would."""
    names = (pipeline_file, "schema.json", "metadata.json")
    digests = {name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
               for name in names}
    (directory / MANIFEST_FILE).write_text(json.dumps({"sha256": digests}))


def swap_in_pickle(directory: Path, marker: Path) -> None:
    """Replace the pipeline by a pickle whose loading creates ``marker``, as an older engine's
    bundle (pipeline.joblib), and reseal the manifest."""
    (directory / PIPELINE_FILE).unlink()
    joblib.dump(Payload(marker), directory / PICKLE_FILE)
    reseal(directory, PICKLE_FILE)


@pytest.fixture
def bundle_dir(trained_run: Path, tmp_path: Path) -> Path:
    """A copy of the trained run's bundle, free to tamper with."""
    return Path(shutil.copytree(trained_run / "model", tmp_path / "model"))


# -- every shipped config round-trips -----------------------------------------------------------

def mixed_csv(path: Path) -> Path:
    """Numbers, a category, a flag, ISO dates and free text: a column for every features block."""
    rng = np.random.default_rng(0)
    label = rng.choice(["a", "b"], 300)
    pd.DataFrame({
        "city": rng.choice(["paris", "oslo", "rome"], 300),
        "size": rng.normal(50, 10, 300).round(1),
        "member": rng.random(300) < 0.5,
        "signup": pd.date_range("2020-01-01", periods=300, freq="D").strftime("%Y-%m-%d"),
        "text": [" ".join(rng.choice(WORDS[value], 6)) for value in label],
        "label": label,
    }).to_csv(path, index=False)
    return path


def model_cases() -> list[tuple[str, ...]]:
    """Each model config on a dataset of a task it takes; knn's trees and metrics on a narrow
    regression dataset; the networks short."""
    cases: list[tuple[str, ...]] = []
    for name in MODELS:
        targets = yaml.safe_load((CONF / "model" / f"{name}.yaml").read_text()).get("_target_")
        takes_classes = not isinstance(targets, dict) or "classification" in targets
        cases.append((f"model={name}",
                      "dataset=breast_cancer" if takes_classes else "dataset=diabetes"))
    cases += [("model=knn", "dataset=diabetes"), ("model=knn", "dataset=diabetes", "model.p=1"),
              ("model=mlp", "dataset=diabetes"),
              ("model=logistic_regression", "metrics.calibration=sigmoid",
               "metrics.threshold=f1"),
              ("model=logistic_regression", "metrics.calibration=isotonic")]
    return [(*case, "model.max_epochs=2") if "model=mlp" in case else case for case in cases]


def features_cases() -> list[tuple[str, ...]]:
    """Each features config with the default model, on the mixed file (passthrough on numbers,
    which the default model takes as they are); and the networks' embeddings."""
    cases = [(f"features={name}", "dataset=breast_cancer" if name == "passthrough" else "MIXED")
             for name in FEATURES]
    return [*cases, ("features=embeddings", "model=mlp", "model.max_epochs=2", "MIXED")]


@pytest.mark.parametrize("overrides", model_cases() + features_cases(), ids="-".join)
def test_every_shipped_config_round_trips_through_the_bundle(overrides: tuple[str, ...],
                                                            tmp_path: Path) -> None:
    mixed = ["dataset=titanic", f"dataset.path={mixed_csv(tmp_path / 'mixed.csv')}",
             "dataset.target=label", "dataset.drop=[]"]
    chosen = [part for override in overrides
              for part in (mixed if override == "MIXED" else [override])]
    spec = compose_spec([*chosen, *QUICK])
    data = load_dataset(spec.dataset, seed=spec.seed)
    run_experiment(spec, tmp_path / "run", project_dir=REPO, console=Console(quiet=True),
                   data=data)
    file = tmp_path / "run" / "model" / PIPELINE_FILE
    assert not [name for name in skops.io.get_untrusted_types(file=file)
                if name.startswith("torch.")]  # a network's weights are bytes, not objects
    saved = pd.read_csv(tmp_path / "run" / "predictions.csv")
    bundle = load_bundle(tmp_path / "run")
    predicted = predict_features(bundle, data.X.loc[saved["row"]])
    if bundle.metadata.task == "regression":
        np.testing.assert_allclose(predicted["prediction"], saved["prediction"], rtol=1e-6)
    else:
        assert predicted["prediction"].astype(str).tolist() == saved["prediction"].astype(
            str).tolist()
    probabilities = [column for column in saved if column.startswith("proba_")]
    np.testing.assert_allclose(predicted[probabilities], saved[probabilities], rtol=1e-6,
                               atol=1e-9)


SKOPS_DEFAULTS = """
import sys
{imported}
from skops.io import _trusted_types as defaults  # the estimators skops trusts by default
print(sorted(defaults.SKLEARN_ESTIMATOR_TYPE_NAMES), "torch" in sys.modules)
import sklearn.externals.array_api_compat.torch  # the shim still imports afterwards
"""


@pytest.mark.slow  # a fresh interpreter importing skops and every model family (~10 s)
def test_skops_is_imported_without_torch_and_trusts_the_same_estimators() -> None:
    """In a fresh interpreter, as a run, ``predict`` or ``serve`` starts."""
    answers = [subprocess.run([sys.executable, "-c", SKOPS_DEFAULTS.format(imported=imported)],
                              cwd=REPO, capture_output=True, text=True, check=True).stdout
               for imported in ("from engine.deploy.trusted_types import skops_io; skops_io()",
                                "import skops.io")]
    engines, plain = (answer.rsplit(" ", 1) for answer in answers)
    assert engines[0] == plain[0] and "LogisticRegression" in engines[0]
    assert (engines[1].strip(), plain[1].strip()) == ("False", "True")


def test_the_trusted_names_are_the_classes_and_functions_they_name() -> None:
    """A renamed or moved class fails here, not as a refused bundle in production."""
    for name in trusted_types():
        module, _, attribute = name.rpartition(".")
        found = getattr(importlib.import_module(module), attribute)
        assert f"{found.__module__}.{found.__name__}" == name


# -- types off the list ----------------------------------------------------------------------------

@pytest.mark.parametrize(("step", "name"), [
    (lambda marker: Sneaky(str(marker)), "tests.deploy.test_bundle_trust.Sneaky"),
    (lambda marker: FunctionTransformer(func=eval), "builtins.eval"),
])
def test_a_type_off_the_list_is_refused_by_name_before_it_is_built(
        bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: Any,
        name: str) -> None:
    marker = tmp_path / "ran"
    features = load_bundle(bundle_dir).pipeline[0]
    skops.io.dump(Pipeline([("features", features), ("model", step(marker))]),
                  bundle_dir / PIPELINE_FILE)
    reseal(bundle_dir)
    assert name not in trusted_types()
    with pytest.raises(DataError, match=rf"model bundle '.*': it holds {name}, not among the "
                                        r"types the engine trusts, so it is refused .*"
                                        rf"set {TRUSTED_VARIABLE}={name} where you load it"):
        load_bundle(bundle_dir)
    assert not marker.exists()
    monkeypatch.setenv(TRUSTED_VARIABLE, name.rpartition(".")[0] + ".")  # the user's own word
    load_bundle(bundle_dir)
    assert marker.exists() == (name != "builtins.eval")  # built only now; eval is never called


def test_a_trusted_object_that_is_not_a_pipeline_is_refused(bundle_dir: Path) -> None:
    skops.io.dump(LogisticRegression(), bundle_dir / PIPELINE_FILE)
    reseal(bundle_dir)
    with pytest.raises(DataError, match=r"pipeline.skops holds a LogisticRegression, not a "
                                        r"scikit-learn Pipeline"):
        load_bundle(bundle_dir)


# -- a swapped pipeline never runs ---------------------------------------------------------------

def test_a_pickle_swapped_in_never_runs_even_with_the_manifest_edited(
        bundle_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    joblib.dump(Payload(marker), bundle_dir / PIPELINE_FILE)
    with pytest.raises(DataError, match=r"pipeline.skops does not match its SHA-256"):
        load_bundle(bundle_dir)
    reseal(bundle_dir)  # the manifest vouches for the swapped file: it is still no skops file
    with pytest.raises(DataError, match=r"pipeline.skops'?: not a skops file this engine can "
                                        r"read \(BadZipFile"):
        load_bundle(bundle_dir)
    swap_in_pickle(bundle_dir, marker)  # dressed as an older engine's bundle
    with pytest.raises(DataError, match=r"pipeline.joblib is a pickle written by an older "
                                        r"version of the engine, and loading a pickle can run "
                                        r"any code it holds\. .* pass --trust-pickle if you "
                                        r"trust its origin"):
        load_bundle(bundle_dir)
    assert not marker.exists()
    with pytest.raises(DataError, match="holds a TextIOWrapper, not a scikit-learn Pipeline"):
        load_bundle(bundle_dir, trust_pickle=True)
    assert marker.exists()  # the payload was real: trusting the pickle ran it


@pytest.mark.parametrize(("manifest", "message"), [
    ("{not json", r"MANIFEST.json: not valid JSON"),
    ("[]", r"MANIFEST.json: holds a JSON list, not a record"),
    ('{"sha256": "abc"}', r"MANIFEST.json: not a record this engine wrote: sha256"),
    ('{"sha256": {}}', r"MANIFEST.json seals no files, not the bundle's pipeline.skops"),
    ('{"sha256": {"schema.json": "x", "metadata.json": "y", "../run.json": "z", '
     '"pipeline.skops": "w"}}', r"MANIFEST.json seals \.\./run.json, metadata.json"),
])
def test_a_malformed_or_emptied_manifest_is_one_line_naming_it(
        bundle_dir: Path, manifest: str, message: str) -> None:
    (bundle_dir / MANIFEST_FILE).write_text(manifest)
    with pytest.raises((DataError, RecordError), match=message):
        load_bundle(bundle_dir)


def test_predict_refuses_an_older_pickle_with_one_line_and_exit_2(
        trained_run: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(trained_run, tmp_path / "run"))
    marker = tmp_path / "ran"
    swap_in_pickle(run / "model", marker)
    done = run_main(["predict", str(run), str(run / "model" / "sample_input.csv")], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "is a pickle written by an older version of the engine" in done.stderr
    assert "Traceback" not in done.stderr and not marker.exists()


# -- an older engine's bundle -------------------------------------------------------------------

def test_an_older_joblib_bundle_loads_only_when_trusted(bundle_dir: Path) -> None:
    pipeline = load_bundle(bundle_dir).pipeline
    (bundle_dir / PIPELINE_FILE).unlink()
    joblib.dump(pipeline, bundle_dir / PICKLE_FILE)
    reseal(bundle_dir, PICKLE_FILE)  # as older engines wrote it: no schema_version, no signature
    with pytest.raises(DataError, match="pass --trust-pickle if you trust its origin"):
        load_bundle(bundle_dir)
    rows = pd.read_csv(bundle_dir / "sample_input.csv")
    older = load_bundle(bundle_dir, trust_pickle=True).pipeline
    np.testing.assert_array_equal(older.predict_proba(rows), pipeline.predict_proba(rows))


# -- signing ---------------------------------------------------------------------------------------

@pytest.fixture
def signed_dir(bundle_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The trained bundle saved again with ENGINE_SIGNING_KEY=right-key."""
    bundle = load_bundle(bundle_dir)
    monkeypatch.setenv(SIGNING_VARIABLE, "right-key")
    return save_bundle(tmp_path / "signed", bundle.pipeline, bundle.schema, bundle.metadata)


def test_a_signed_bundle_verifies_with_its_key_and_is_refused_with_another(
        signed_dir: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(json.loads((signed_dir / MANIFEST_FILE).read_text())["hmac_sha256"]) == 64
    load_bundle(signed_dir)
    with pytest.raises(DataError, match=r"MANIFEST.json is not signed, and ENGINE_SIGNING_KEY "
                                        r"is set, so only bundles signed with that key load"):
        load_bundle(bundle_dir)
    monkeypatch.setenv(SIGNING_VARIABLE, "wrong-key")
    with pytest.raises(DataError, match=r"MANIFEST.json's signature does not match "
                                        r"ENGINE_SIGNING_KEY: it was signed with another key"):
        load_bundle(signed_dir)
    monkeypatch.delenv(SIGNING_VARIABLE)
    load_bundle(signed_dir)  # without a key, the digests alone are checked
    load_bundle(bundle_dir)


def test_with_a_key_set_an_edited_manifest_fails_its_signature(
        signed_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    signature = json.loads((signed_dir / MANIFEST_FILE).read_text())["hmac_sha256"]
    swap_in_pickle(signed_dir, marker)
    manifest = json.loads((signed_dir / MANIFEST_FILE).read_text())
    (signed_dir / MANIFEST_FILE).write_text(json.dumps({**manifest, "hmac_sha256": signature}))
    with pytest.raises(DataError, match="signature does not match"):
        load_bundle(signed_dir, trust_pickle=True)
    assert not marker.exists()


# -- writing ---------------------------------------------------------------------------------------

def test_saving_over_a_bundle_replaces_it_whole_and_leaves_nothing_beside_it(
        bundle_dir: Path, tmp_path: Path) -> None:
    bundle = load_bundle(bundle_dir)
    target = tmp_path / "out" / "model"
    save_bundle(target, bundle.pipeline, bundle.schema, bundle.metadata)
    (target / "stale.txt").write_text("from the bundle before")
    save_bundle(target, bundle.pipeline, bundle.schema, bundle.metadata)
    assert [path.name for path in target.parent.iterdir()] == ["model"]
    assert not (target / "stale.txt").exists()
    assert set(json.loads((target / MANIFEST_FILE).read_text())["sha256"]) == {
        PIPELINE_FILE, "schema.json", "metadata.json"}
    load_bundle(target)


def test_the_same_verified_bytes_load_once_and_changed_bytes_are_still_refused(
        bundle_dir: Path) -> None:
    """A pipeline is kept by the digest of its checked bytes: a second load of the same bundle
    (the lifecycle loop's champion, each step) reuses it, and an edited file is refused before
    anything kept is used."""
    first = load_bundle(bundle_dir)
    assert load_bundle(bundle_dir).pipeline is first.pipeline
    with (bundle_dir / PIPELINE_FILE).open("ab") as pipeline:
        pipeline.write(b"\0")
    with pytest.raises(DataError, match=PIPELINE_FILE):
        load_bundle(bundle_dir)
