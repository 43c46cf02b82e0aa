"""One tiny trained run per task, each with its MODEL_CARD.md: a binary run on a CSV file with
slices, fairness limits, a dropped column and the card's human fields (some holding markup); a
multiclass run chosen by a small search; a regression run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.experiment import run_experiment
from tests.conftest import FAST, REPO

HOSTILE_REGION = '<img src=x onerror="window.__pwned=1">'
HOSTILE_USE = "rank loan applications for review <script>window.__pwned=2</script>"
FAIRNESS_LIMITS = "{demographic_parity_difference:{warn:0.01,fail:0.9}}"


def credit_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], rows)
    income = rng.normal(50, 15, rows).round(1)
    region = rng.choice(["north", "south", HOSTILE_REGION], rows, p=[0.5, 0.4, 0.1])
    approved = ((income > 50) ^ (rng.random(rows) < 0.15)
                | ((sex == "male") & (rng.random(rows) < 0.3))).astype(int)
    return pd.DataFrame({"id": range(rows), "sex": sex, "age": rng.integers(18, 80, rows),
                         "income": income, "region": region, "approved": approved})


def trained(directory: Path, *overrides: str) -> Path:
    run_dir = directory / "run"
    run_dir.mkdir()
    run_experiment(compose_spec([*FAST, *overrides]), run_dir, project_dir=REPO,
                   console=Console(quiet=True))
    return run_dir


@pytest.fixture(scope="session")
def fairness_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Binary, from a CSV file: slices by region and age, fairness by sex with a warn limit the
    model crosses, ``id`` dropped, the intended use, owners and licence stated."""
    tmp = tmp_path_factory.mktemp("fairness")
    credit_frame(500, 0).to_csv(tmp / "credit.csv", index=False)
    return trained(tmp, "dataset=titanic", "dataset.name=credit",
                   f"dataset.path={tmp / 'credit.csv'}", "dataset.target=approved",
                   "dataset.drop=[id]", "model=logistic_regression",
                   "metrics.slices.columns=[region,age]", "metrics.fairness.sensitive=[sex]",
                   f"+metrics.fairness.limits={FAIRNESS_LIMITS}",
                   f"card.intended_use='{HOSTILE_USE}'", "card.owners=[risk-team]",
                   "card.license=apache-2.0")


@pytest.fixture(scope="session")
def multiclass_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Iris, its parameters chosen by a three-trial random search."""
    return trained(tmp_path_factory.mktemp("multiclass"), "dataset=iris",
                   "model=logistic_regression", "tune=random", "tune.n_trials=3", "report=false")


@pytest.fixture(scope="session")
def regression_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(tmp_path_factory.mktemp("regression"), "dataset=diabetes", "model=ridge",
                   "report=false")
