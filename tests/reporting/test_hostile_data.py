"""Column names and category values that are markup reach a report as text: a sweep on such a
CSV writes run and sweep reports in which no script from the data runs and none of its elements
exist, while a reader sees every hostile string as written."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from tests.conftest import FAST
from tests.reporting.test_reports import check_renders

NUMERIC = "<script>window.__pwned=1;alert(1)</script>"
CATEGORICAL = '"><img src=x onerror="window.__pwned=2;alert(2)">'
CATEGORIES = ("<svg onload=alert(3)>", "</td></tr></table><script>alert(4)</script>",
              "<b onmouseover=alert(5)>bold</b>")
TARGET = "<iframe src=javascript:alert(6)>"
NO, YES = "&lt;no&gt;", "<i>yes</i>"  # the entity must stay the ten characters it is


def hostile_csv(path: Path) -> None:
    rng = np.random.default_rng(0)
    signal = rng.normal(size=240)
    pd.DataFrame({
        NUMERIC: signal,
        CATEGORICAL: rng.choice(CATEGORIES, size=240),
        TARGET: np.where(signal + rng.normal(size=240) > 0, YES, NO),
    }).to_csv(path, index=False)


def test_markup_in_the_data_stays_text_in_the_reports(
        cli: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    data = tmp_path / "hostile.csv"
    hostile_csv(data)
    columns = f"['{NUMERIC}','{CATEGORICAL}']"
    done = cli("-m", *FAST, "dataset=titanic", f"dataset.path={data}", f"dataset.target='{TARGET}'",
               "dataset.drop=[]", f"metrics.slices.columns={columns}",
               f"metrics.fairness.sensitive=['{CATEGORICAL}']",
               "model=logistic_regression,knn")
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (tmp_path / "multiruns").iterdir()

    run = check_renders(sweep_dir / "0" / "report.html", tmp_path / "run.png",
                        {"Data", "Diagnostics", "Slices", "Fairness", "Explanations"})
    for text in (NUMERIC, CATEGORICAL, *CATEGORIES, TARGET, NO, YES):
        assert text in run.text
    sweep = check_renders(sweep_dir / "report.html", tmp_path / "sweep.png", {"Leaderboard"})
    assert CATEGORICAL in sweep.text  # the overrides column quotes it
