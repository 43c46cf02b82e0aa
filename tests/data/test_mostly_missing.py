"""A mostly-missing column, end to end: by default a warning, the run goes on and the model
sees a missing indicator; the user can still make it fail the run.

The table is the real titanic.csv with Cabin kept (77 % missing, text) and its cabin number as a
numeric column (77 % missing too), read back from a CSV file as the CLI reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pandas as pd
import pytest
from sklearn.impute import SimpleImputer

from engine.deploy.bundle import load_bundle
from tests.conftest import SHARED_DATA, only_run_dir

pytestmark = pytest.mark.shared_data

QUICK = ("model=logistic_regression", "report=false", "metrics.bootstrap.resamples=0",
         "metrics.explain.importance_repeats=0", "split.cv.n_splits=2")


@pytest.fixture(scope="module")
def titanic_with_cabins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """titanic.csv plus CabinNumber (the number in Cabin, e.g. 85 for 'C85'; missing with it)."""
    source = SHARED_DATA / "titanic.csv"
    if not source.exists():
        pytest.skip(f"{source} is not present")
    frame = pd.read_csv(source)
    frame["CabinNumber"] = pd.to_numeric(frame.Cabin.str.extract(r"(\d+)")[0])
    path = tmp_path_factory.mktemp("titanic") / "titanic_cabins.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def run_titanic(in_process_cli: Callable[..., CompletedProcess[str]],
                titanic_with_cabins: Path) -> Callable[..., CompletedProcess[str]]:
    """``python -m engine dataset=titanic`` on that file, Cabin kept, plus ``overrides``."""

    def _run(*overrides: str) -> CompletedProcess[str]:
        return in_process_cli("dataset=titanic", f"dataset.path={titanic_with_cabins}",
                              "dataset.drop=[PassengerId,Name,Ticket]", *QUICK, *overrides)

    return _run


def test_a_mostly_missing_column_is_warned_of_and_imputed_with_an_indicator(
        run_titanic: Callable[..., CompletedProcess[str]], tmp_path: Path) -> None:
    done = run_titanic()
    assert done.returncode == 0, done.stderr
    assert "warning missing_values: column 'Cabin' is missing in 77.1% of rows" in done.stdout
    run_dir = only_run_dir(tmp_path)
    findings = json.loads((run_dir / "data_report.json").read_text())["findings"]
    missing = {f["column"]: f["severity"] for f in findings if f["check"] == "missing_values"}
    assert missing == {"Age": "info", "Embarked": "info", "Cabin": "warning",
                       "CabinNumber": "warning"}
    pipeline = load_bundle(run_dir).pipeline
    preprocessor = pipeline[:-1]
    features = list(preprocessor.get_feature_names_out())
    assert {"missingindicator_CabinNumber", "missingindicator_Age", "Cabin_nan"} <= set(features)
    imputer = preprocessor[-1].named_transformers_["numeric"][0]
    assert isinstance(imputer, SimpleImputer) and imputer.add_indicator


@pytest.mark.parametrize(
    "overrides", [("quality.severity.missing_values=error",), ("quality.fail_on=warning",)],
    ids=["severity-error", "fail-on-warning"])
def test_the_user_can_still_make_it_fail_the_run(
        run_titanic: Callable[..., CompletedProcess[str]], overrides: tuple[str, ...]) -> None:
    done = run_titanic(*overrides)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: dataset 'titanic' failed ")
    assert "missing_values: column 'CabinNumber' is missing in 77." in done.stderr
