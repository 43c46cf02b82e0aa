"""Time to quality: the engine against FLAML (and AutoGluon) at the same wall budget, beside an
untuned HistGradientBoosting, on real tables from ../shared/data.

    python tests/bench/time_to_quality.py [--budget 60] [--seeds 0 1 2] [--datasets adult ...]
        [--engine-args "tune=auto budget={budget}"] [--no-autogluon] [--cores 2] [--quick]

For each table and seed:

- the engine: ``python -m engine dataset=<name> seed=<seed> split.test_size=0.2
  metrics.primary=<the scored metric>`` plus ``--engine-args`` (``{budget}`` replaced), in a
  fresh output folder (no study is resumed), timed whole. Its own seeded, stratified 80/20
  split is the split: the test rows are predictions.csv's ``row`` column, the training rows all
  the others;
- FLAML ``AutoML().fit(time_budget=budget, metric=..., n_jobs=cores, seed=seed)`` on exactly
  those training rows, in its own virtual environment (automl_runner.py), the whole process
  timed; AutoGluon's ``TabularPredictor.fit(time_limit=budget)`` alike (unless
  ``--no-autogluon``);
- ``HistGradientBoostingClassifier/Regressor(categorical_features="from_dtype")`` with its
  defaults, fitted here on the same rows.

Every side gets the table as the engine's dataset config reads it (its ``drop`` list, missing
markers), text columns as pandas categories of the training rows. Every test score is computed
here, from each side's test predictions, with the same scikit-learn function: ROC AUC for
binary tables, log loss for multiclass ones, RMSE for regression (the engine is told to
optimise that metric). Every process is pinned to ``--cores`` cores.

A missing virtual environment is built under ``--envs`` (``python -m venv`` and ``pip install
"flaml[automl]==2.*" "scikit-learn==1.*"``: scikit-learn's major pinned to the one it
resolves today; ``autogluon.tabular[lightgbm,catboost,xgboost]==1.*`` for AutoGluon, without
its PyTorch models). Figures go to outputs/bench/time_to_quality/results.json (atomically), and
a Markdown table is printed: per table the means over seeds, the paired difference engine -
FLAML with a 95 % t interval over seeds, the engine's wall time against the budget (within 5 %
or 3 s, whichever is larger) and the trials completed.

``--quick`` (budget 10 s, seed 0, german_credit and wine_quality_red) smoke-tests it in about two
minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common import REPO, SHARED_DATA, engine_command

from engine.tracking.files import write_json

OUTPUT = REPO / "outputs" / "bench" / "time_to_quality"
RUNNER = Path(__file__).with_name("automl_runner.py")
DEFAULT_DATASETS = ("adult", "german_credit", "california_housing", "wine_quality_red",
                    "pima_diabetes")
QUICK_DATASETS = ("german_credit", "wine_quality_red")


@dataclass(frozen=True)
class Metric:
    """How a task is scored, and the name each side gives that metric."""

    label: str
    engine: str
    flaml: str
    autogluon: str
    higher_is_better: bool


METRICS = {
    "binary": Metric("ROC AUC", "roc_auc", "roc_auc", "roc_auc", True),
    "multiclass": Metric("log loss", "neg_log_loss", "log_loss", "log_loss", False),
    "regression": Metric("RMSE", "neg_root_mean_squared_error", "rmse",
                         "root_mean_squared_error", False),
}
TOOLS = {
    "flaml": ["flaml[automl]==2.*", "scikit-learn==1.*"],
    "autogluon": ["autogluon.tabular[lightgbm,catboost,xgboost]==1.*"],
}


@dataclass(frozen=True)
class Table:
    """A dataset as the engine's config reads it."""

    name: str
    task: str
    X: pd.DataFrame
    y: pd.Series
    categorical: list[str]


@dataclass(frozen=True)
class Outcome:
    """One side's result on one table and seed."""

    dataset: str
    seed: int
    side: str
    score: float
    wall_seconds: float
    trials: int | None = None
    detail: str = ""


def load_table(name: str) -> Table:
    from engine.config.compose import compose_spec
    from engine.data import load_dataset
    from engine.features.selectors import column_kind

    spec = compose_spec([f"dataset={name}", f"paths.shared_data={SHARED_DATA}"])
    data = load_dataset(spec.dataset, seed=0)
    categorical = [column for column in data.X.columns
                   if column_kind(data.X[column]) == "categorical"]
    return Table(name, data.task, data.X, data.y, categorical)


def as_categories(frame: pd.DataFrame, columns: Sequence[str],
                  train: pd.DataFrame) -> pd.DataFrame:
    """Text columns as pandas categories of the training rows (an unseen value is missing)."""
    return frame.assign(**{column: pd.Categorical(frame[column].astype("object"),
                                                  categories=sorted(train[column].dropna()
                                                                    .unique().tolist()))
                           for column in columns})


def score(task: str, y_true: pd.Series, predicted: pd.DataFrame) -> float:
    """The test metric from a side's predictions: a column of probabilities per class (named by
    the class as text) or ``prediction``."""
    from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error

    if task == "regression":
        return float(root_mean_squared_error(y_true, predicted["prediction"]))
    truth = y_true.astype(str)
    if task == "binary":
        positive = str(sorted(y_true.unique())[-1])
        return float(roc_auc_score(truth == positive, predicted[positive]))
    classes = sorted(predicted.columns)
    probabilities = predicted[classes].to_numpy(float)
    return float(log_loss(truth, probabilities / probabilities.sum(axis=1, keepdims=True),
                          labels=classes))


def run_engine(table: Table, seed: int, budget: float, engine_args: str,
               scratch: Path) -> tuple[Outcome, pd.Index]:
    """The engine's whole command, timed; its score and its test rows."""
    output = scratch / f"engine-{table.name}-{seed}"
    args = [f"dataset={table.name}", f"paths.shared_data={SHARED_DATA}", f"seed={seed}",
            "split.test_size=0.2",
            f"metrics.primary={METRICS[table.task].engine}",
            *shlex.split(engine_args.format(budget=f"{budget:g}"))]
    wall, _ = timed(engine_command(*args), {"ENGINE_OUTPUT_DIR": str(output)})
    (run_dir,) = (output / "runs").iterdir()
    predictions = pd.read_csv(run_dir / "predictions.csv")
    test_rows = pd.Index(predictions["row"])
    expected = math.ceil(0.2 * len(table.y))
    if len(test_rows) != expected or not test_rows.isin(table.X.index).all():
        raise SystemExit(f"engine on {table.name}: {len(test_rows)} test rows in "
                         f"{run_dir / 'predictions.csv'}, expected {expected} of the table's")
    predicted = (predictions[["prediction"]] if table.task == "regression" else
                 predictions.filter(like="proba_").rename(
                     columns=lambda column: column.removeprefix("proba_")))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    trials = metrics.get("tuning", {}).get("trials", {})
    outcome = Outcome(table.name, seed, "engine",
                      score(table.task, table.y.loc[test_rows], predicted), wall,
                      trials.get("COMPLETE"), detail=json.dumps(trials))
    return outcome, test_rows


def run_tool(tool: str, python: Path, table: Table, seed: int, test_rows: pd.Index,
             budget: float, cores: int, scratch: Path) -> Outcome:
    """An AutoML tool in its own environment on the same rows, the whole process timed."""
    folder = scratch / f"{tool}-{table.name}-{seed}"
    folder.mkdir()
    rows = table.X.assign(**{str(table.y.name): table.y})
    rows.drop(index=test_rows).to_csv(folder / "train.csv", index=False)
    rows.loc[test_rows].to_csv(folder / "test.csv", index=False)
    metric = METRICS[table.task]
    job = {"tool": tool, "train": str(folder / "train.csv"), "test": str(folder / "test.csv"),
           "target": str(table.y.name), "task": table.task, "budget": budget, "cores": cores,
           "seed": seed, "metric": getattr(metric, tool), "categorical": table.categorical,
           "out": str(folder)}
    (folder / "job.json").write_text(json.dumps(job))
    wall, _ = timed([str(python), str(RUNNER), str(folder / "job.json")])
    predicted = pd.read_csv(folder / "predictions.csv")
    record = json.loads((folder / "record.json").read_text())
    return Outcome(table.name, seed, tool, score(table.task, table.y.loc[test_rows], predicted),
                   wall, record["trials"], detail=f"{record['version']}, best {record['best']}")


def run_untuned(table: Table, seed: int, test_rows: pd.Index) -> Outcome:
    """HistGradientBoosting's defaults with native categoricals, fitted here on the same rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    train_X = table.X.drop(index=test_rows)
    X_train = as_categories(train_X, table.categorical, train_X)
    X_test = as_categories(table.X.loc[test_rows], table.categorical, train_X)
    y_train = table.y.drop(index=test_rows)
    started = time.perf_counter()
    if table.task == "regression":
        regressor = HistGradientBoostingRegressor(categorical_features="from_dtype",
                                                  random_state=seed).fit(X_train, y_train)
        predicted = pd.DataFrame({"prediction": regressor.predict(X_test)})
    else:
        classifier = HistGradientBoostingClassifier(categorical_features="from_dtype",
                                                    random_state=seed).fit(X_train, y_train)
        predicted = pd.DataFrame(classifier.predict_proba(X_test),
                                 columns=[str(label) for label in classifier.classes_])
    wall = time.perf_counter() - started
    return Outcome(table.name, seed, "untuned",
                   score(table.task, table.y.loc[test_rows], predicted), wall)


def timed(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall seconds and standard output of one whole process; its error ends the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(list(args), cwd=REPO, env={**os.environ, **(env or {})},
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(args)} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def ensure_venv(tool: str, envs: Path) -> Path:
    """The tool's virtual environment's python, built first when missing."""
    venv = envs / tool
    python = venv / "bin" / "python"
    if python.exists():
        return python
    print(f"building {venv}: python -m venv, then pip install {shlex.join(TOOLS[tool])}",
          flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *TOOLS[tool]], check=True)
    print(f"built {venv} in {time.perf_counter() - started:.0f} s", flush=True)
    return python


def paired_interval(differences: list[float]) -> tuple[float, float] | None:
    """A 95 % t interval of the mean paired difference over seeds (none from one seed)."""
    from scipy import stats

    if len(differences) < 2:
        return None
    mean, error = statistics.mean(differences), stats.sem(differences)
    low, high = stats.t.interval(0.95, len(differences) - 1, loc=mean, scale=error)
    return float(low), float(high)


def summarise(outcomes: list[Outcome], tables: dict[str, Table], budget: float,
              sides: Sequence[str]) -> list[dict[str, Any]]:
    """Per table: each side's mean, engine - FLAML with its interval, wall time, trials."""
    allowance = max(0.05 * budget, 3.0)
    rows = []
    for name, table in tables.items():
        mine = [o for o in outcomes if o.dataset == name]
        by_side = {side: sorted((o for o in mine if o.side == side), key=lambda o: o.seed)
                   for side in sides}
        means = {side: statistics.mean(o.score for o in found) for side, found in by_side.items()}
        differences = [e.score - f.score for e, f in zip(by_side["engine"], by_side["flaml"],
                                                         strict=True)]
        metric = METRICS[table.task]
        sign = 1 if metric.higher_is_better else -1
        walls = [o.wall_seconds for o in by_side["engine"]]
        flaml_walls = [o.wall_seconds for o in by_side["flaml"]]
        rows.append({
            "dataset": name, "metric": metric.label, "higher_is_better": metric.higher_is_better,
            "means": means, "engine_minus_flaml": statistics.mean(differences),
            "interval": paired_interval(differences),
            "engine_at_least_flaml": sign * (means["engine"] - means["flaml"]) >= 0,
            "engine_at_least_untuned": sign * (means["engine"] - means["untuned"]) >= 0,
            "engine_wall_mean": statistics.mean(walls), "engine_wall_max": max(walls),
            "within_budget": max(walls) <= budget + allowance,
            "flaml_wall_mean": statistics.mean(flaml_walls), "flaml_wall_max": max(flaml_walls),
            "trials": {side: [o.trials for o in found] for side, found in by_side.items()
                       if side != "untuned"},
        })
    return rows


def markdown(summary: list[dict[str, Any]], sides: Sequence[str], budget: float) -> str:
    tools = [side for side in sides if side not in ("engine", "untuned")]
    names = {"engine": "engine", "flaml": "FLAML", "autogluon": "AutoGluon", "untuned": "untuned"}
    header = ["dataset", "metric", *(names[side] for side in sides), "engine - FLAML [95 % CI]",
              f"engine wall s (budget {budget:g})", "FLAML wall s",
              *(f"trials {names[s]}" for s in ("engine", *tools))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary:
        interval = row["interval"]
        shown = (f"{row['engine_minus_flaml']:+.4f}" +
                 (f" [{interval[0]:+.4f}, {interval[1]:+.4f}]" if interval else ""))
        direction = "higher" if row["higher_is_better"] else "lower"
        wall = (f"{row['engine_wall_mean']:.1f} (max {row['engine_wall_max']:.1f}, "
                f"{'within' if row['within_budget'] else 'OVER'})")
        trials = [", ".join("-" if t is None else str(t) for t in row["trials"][side])
                  for side in ("engine", *tools)]
        cells = [row["dataset"], f"{row['metric']} ({direction} is better)",
                 *(f"{row['means'][side]:.4f}" for side in sides), shown, wall,
                 f"{row['flaml_wall_mean']:.1f} (max {row['flaml_wall_max']:.1f})", *trials]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--engine-args", default="tune=auto budget={budget}",
                        help="the engine's overrides beside dataset, seed, split and metric; "
                             "{budget} is replaced by --budget")
    parser.add_argument("--no-autogluon", action="store_true",
                        help="leave AutoGluon out (its environment takes 1.1 GB)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--envs", type=Path, default=OUTPUT / "envs",
                        help="where the tools' virtual environments are (built when missing)")
    parser.add_argument("--out", type=Path, default=OUTPUT / "results.json")
    parser.add_argument("--quick", action="store_true",
                        help="budget 10 s, seed 0, german_credit and wine_quality_red")
    options = parser.parse_args()
    if options.quick:
        options.budget, options.seeds, options.datasets = 10.0, [0], list(QUICK_DATASETS)
    available = sorted(os.sched_getaffinity(0))
    if len(available) < options.cores:
        raise SystemExit(f"--cores {options.cores}: only {len(available)} cores are available")
    os.sched_setaffinity(0, available[:options.cores])  # every child inherits it
    sides = ["engine", "flaml", *([] if options.no_autogluon else ["autogluon"]), "untuned"]
    pythons = {tool: ensure_venv(tool, options.envs) for tool in sides
               if tool in TOOLS}
    tables = {name: load_table(name) for name in options.datasets}
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        for name, table in tables.items():
            for seed in options.seeds:
                engine, test_rows = run_engine(table, seed, options.budget,
                                               options.engine_args, scratch)
                found = [engine, *(run_tool(tool, python, table, seed, test_rows,
                                            options.budget, options.cores, scratch)
                                   for tool, python in pythons.items()),
                         run_untuned(table, seed, test_rows)]
                outcomes += found
                print(f"{name} seed {seed}: " + ", ".join(
                    f"{o.side} {o.score:.4f} ({o.wall_seconds:.1f} s"
                    + (f", {o.trials} trials" if o.trials is not None else "") + ")"
                    for o in found), flush=True)
    summary = summarise(outcomes, tables, options.budget, sides)
    write_json(options.out, {
        "protocol": {"budget": options.budget, "seeds": options.seeds, "cores": options.cores,
                     "engine_args": options.engine_args, "datasets": options.datasets,
                     "split": "the engine's seeded 80/20 (stratified for classification)"},
        "summary": summary, "outcomes": [asdict(outcome) for outcome in outcomes]})
    print()
    print(markdown(summary, sides, options.budget))
    wins = sum(row["engine_at_least_flaml"] for row in summary)
    floor = sum(row["engine_at_least_untuned"] for row in summary)
    print(f"\nengine at least FLAML on {wins} of {len(summary)}; at least the untuned model on "
          f"{floor} of {len(summary)}; figures in {options.out}")


if __name__ == "__main__":
    main()
