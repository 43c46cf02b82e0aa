"""One AutoML fit for tests/bench/time_to_quality.py, run by the tool's own virtual environment.

    <venv>/bin/python tests/bench/automl_runner.py JOB.json

JOB.json names the tool (flaml | autogluon), the train and test CSV files, the target, the task
(binary | multiclass | regression), the tool's metric name, the budget in seconds, the cores,
the seed, the categorical columns and where to write. The runner reads the two files, gives the
categorical columns the training rows' categories (a test value never seen becomes missing),
fits with ``time_budget``/``time_limit`` = budget and writes the test rows' predictions (a
column per class of probabilities, or ``prediction``) and a record (tool, version, trials, best
model). Imports only the tool and pandas: the engine is not installed there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd


def read_rows(path: str, job: dict[str, Any],
              categories: dict[str, list[Any]] | None = None) -> pd.DataFrame:
    """A CSV file with ``job['categorical']`` columns as pandas categories (the training rows'
    own when ``categories`` is None)."""
    frame = pd.read_csv(path)
    for column in job["categorical"]:
        known = (sorted(frame[column].dropna().unique().tolist()) if categories is None
                 else categories[column])
        frame[column] = pd.Categorical(frame[column], categories=known)
    return frame


def fit_flaml(train: pd.DataFrame, test: pd.DataFrame, job: dict[str, Any],
              ) -> tuple[pd.DataFrame, dict[str, Any]]:
    import flaml
    from flaml import AutoML

    target = job["target"]
    automl = AutoML()
    automl.fit(train.drop(columns=[target]), train[target],
               task="regression" if job["task"] == "regression" else "classification",
               metric=job["metric"], time_budget=job["budget"], n_jobs=job["cores"],
               seed=job["seed"], verbose=0)
    features = test.drop(columns=[target])
    record = {"tool": "flaml", "version": flaml.__version__,
              "trials": len(automl.config_history), "best": automl.best_estimator}
    if job["task"] == "regression":
        return pd.DataFrame({"prediction": automl.predict(features)}), record
    labels = [str(label) for label in automl.classes_]
    return pd.DataFrame(automl.predict_proba(features), columns=labels), record


def fit_autogluon(train: pd.DataFrame, test: pd.DataFrame, job: dict[str, Any],
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    import autogluon.tabular
    from autogluon.tabular import TabularPredictor

    target = job["target"]
    predictor = TabularPredictor(
        label=target, problem_type=job["task"], eval_metric=job["metric"],
        path=str(Path(job["out"]) / "autogluon"), verbosity=0,
    ).fit(train, time_limit=job["budget"], num_cpus=job["cores"], num_gpus=0)
    features = test.drop(columns=[target])
    record = {"tool": "autogluon", "version": autogluon.tabular.__version__,
              "trials": len(predictor.model_names()), "best": predictor.model_best}
    if job["task"] == "regression":
        return pd.DataFrame({"prediction": predictor.predict(features).to_numpy()}), record
    probabilities = predictor.predict_proba(features)
    probabilities.columns = [str(label) for label in probabilities.columns]
    return probabilities.reset_index(drop=True), record


FITS = {"flaml": fit_flaml, "autogluon": fit_autogluon}


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    train = read_rows(job["train"], job)
    categories = {column: train[column].cat.categories.tolist() for column in job["categorical"]}
    test = read_rows(job["test"], job, categories)
    predictions, record = FITS[job["tool"]](train, test, job)
    out = Path(job["out"])
    predictions.to_csv(out / "predictions.csv", index=False)
    (out / "record.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main()
