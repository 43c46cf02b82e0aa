"""Every fix an error message suggests works when pasted as written.

Each case makes a mistake (a setting, or a finding in the data), takes the suggested override
out of the real message, runs again with it pasted verbatim (split as a shell splits it) and
checks that the first error is gone. ``test_every_suggestion_in_the_source_has_a_case`` keeps the
list whole: each override the engine's messages suggest has a case here or among the `retrain`
cases of tests/lifecycle/test_suggested_fixes.py, or a reason why no config or data can
trigger it.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.errors import HydraException

from engine.config.compose import compose_spec
from engine.config.hydra_errors import user_message
from engine.errors import EngineError
from engine.experiment import validate_spec
from tests.conftest import REPO, run_main, write_user_project
from tests.lifecycle.test_suggested_fixes import CASES as RETRAIN_CASES

# A dataset file of the user's, stating only what has no default: the suggested fixes must
# work on it without '+' (conf/dataset_keys.yaml lists the rest).
ROWS_DATASET = """\
name: rows
source: file
path: ???
target: outcome
"""
QUICK = ("model=logistic_regression", "report=false", "metrics.bootstrap.resamples=0",
         "metrics.explain.importance_repeats=0", "split.cv.n_splits=2")
SEARCH = ("tune=tpe", "tune.n_trials=2", "tune.plots=false")


def rows(variant: str, count: int = 200) -> pd.DataFrame:
    """200 rows of two numbers, a colour and an outcome (good or bad) with a ``variant``'s flaw:
    ``missing`` (x2 75% missing), ``leak`` (a column that is the outcome), ``imbalanced``
    (10 bad rows), ``rare`` (a class of 3 rows), ``single`` (a class of 1 row), ``grouped``
    (a patient_id column), ``dated`` (a date column), ``marked`` (x2 with ``?`` in 10 rows)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=count), "x2": rng.normal(size=count),
                          "color": rng.choice(["red", "blue"], count)})
    frame["outcome"] = np.where(frame.x1 + rng.normal(0, 0.5, count) > 0, "good", "bad")
    if variant == "missing":
        frame.loc[:149, "x2"] = np.nan
    elif variant == "leak":
        frame["leak"] = (frame.outcome == "good").astype(int)
    elif variant == "imbalanced":
        frame["outcome"] = np.where(np.arange(count) < 10, "bad", "good")
    elif variant in ("rare", "single"):
        frame.loc[: (2 if variant == "rare" else 0), "outcome"] = "rare"
    elif variant == "grouped":
        frame["patient_id"] = np.arange(count) // 5
    elif variant == "dated":
        frame["date"] = pd.date_range("2024-01-01", periods=count, freq="D").astype(str)
    elif variant == "marked":
        frame["x2"] = frame.x2.round(3).astype(object)
        frame.loc[:9, "x2"] = "?"
    return frame


@dataclass(frozen=True)
class Case:
    """A mistake, the suggestion its message makes (the pattern's first group), and whether
    the run then succeeds (or only gets past this mistake to the data's next one)."""

    name: str
    overrides: tuple[str, ...]
    suggestion: str
    data: str | None = "clean"
    passes: bool = True


CASES = [
    Case("missing-values", ("quality.severity.missing_values=error",),
         r"set (quality\.severity\.missing_values=warning)", "missing"),
    Case("missing-values-fail-on", ("quality.severity.missing_values=error",),
         r" or (quality\.fail_on=never)\.", "missing"),
    Case("leakage", (), r"set (quality\.severity\.leakage=warning)", "leak"),
    Case("imbalance", ("quality.fail_on=warning",),
         r"set (quality\.severity\.class_imbalance=info)", "imbalanced"),
    Case("stratified-holdout", (), r"Use (split\.test_strategy=random)", "single",
         passes=False),  # the class of one row then fails the stratified folds
    Case("group-column", ("split=group",), r"e\.g\. (dataset\.group_column=patient_id)",
         "grouped"),
    Case("group-split", ("split=group",), r"or use (split=default)\.", "grouped"),
    Case("time-column", ("split=time",), r"e\.g\. (dataset\.time_column=date)", "dated"),
    Case("date-finding", ("quality.fail_on=info",),
         r"split by time: (split=time dataset\.time_column=date) ", "dated"),
    Case("missing-markers", ("quality.fail_on=warning",),
         r"read them as missing values with (\"dataset\.na_values=\['\?'\]\")", "marked"),
    Case("missing-markers-severity", ("quality.fail_on=warning",),
         r"set (quality\.severity\.missing_markers=info) ", "marked"),
    Case("costs", ("metrics.threshold=cost",), r"e\.g\. ('metrics\.costs=\{.*?\}')"),
    Case("drop", ("dataset.drop=[id]",), r"e\.g\. (dataset\.drop=\[\])\."),
    Case("text-features", ("features=passthrough",), r"Encode them: (features=auto) "),
    Case("allowed-targets", ("model=churn_model",), r"`(allowed_targets=\[churnlib\.\])`"),
    Case("allowed-targets-list", ("model=churn_model", "allowed_targets=churnlib."),
         r"Write it as a list: ('allowed_targets=\[churnlib\.\]')"),
    Case("grid-step", ("tune=grid", "tune.n_trials=2", "tune.plots=false"),
         r"or use (tune\.method=tpe)\."),
    Case("search-without-cv", (*SEARCH, "split=holdout"), r"Use (split=default) "),
    Case("pruner", (*SEARCH, "tune.objectives=[roc_auc,fit_time]", "tune.pruner=median"),
         r"set (tune\.pruner=none)\."),
    Case("ensemble-export", (*SEARCH, "tune.ensemble.size=5", "deploy=onnx"),
         r"or set (tune\.ensemble\.size=0)\.", data=None),
    Case("study-name", (*SEARCH, "tune.study_name=rf/adult"),
         r"\(e\.g\. (tune\.study_name=rf_adult)\)"),
    Case("empty-search-space", ("tune=tpe", "model=dummy"), r"or use (tune=none)\."),
    Case("empty-search-space-with-budget", (*SEARCH, "model=dummy"), r"or use (tune=none)\."),
    Case("cv-folds", ("split.cv.n_splits=5",), r"Lower it: (split\.cv\.n_splits=\d+)", "rare"),
    Case("quantize", ("deploy=onnx", "deploy.quantize=int8"), r"Set (deploy\.quantize=null) ",
         data=None),
    Case("test-size", ("split.test_size=2.0",), r"Use e\.g\. (split\.test_size=0\.2),",
         data=None),
    Case("n-splits", ("split.cv.n_splits=1",), r"Use e\.g\. (split\.cv\.n_splits=5)\.",
         data=None),
    Case("seed", ("seed=abc",), r"Use e\.g\. (seed=42)\.", data=None),
    Case("task", ("model=ridge", "dataset.target=x1", "dataset.task=binary"),
         r"Use (dataset\.task=regression) "),
    Case("task-model", ("dataset=diabetes",), r"\(e\.g\. (model=random_forest) ", data=None),
    Case("cuda", ("model=mlp", "model.device=cuda", "model.max_epochs=2"),
         r"Use (model\.device=auto) ", data=None),
    Case("calibration", ("dataset=diabetes", "model=ridge", "metrics.calibration=sigmoid"),
         r"Use (metrics\.calibration=none)\.", data=None),
]

# Overrides the source suggests that no setting or data can make a message suggest, or that are
# not a fix: each with why.
NOT_TRIGGERED = {
    "key": "engine/config/schema/translate.py: the placeholder in a docstring; the cases 'seed', "
           "'n-splits' and 'test-size' paste what it writes",
    "model.device": "engine/models/torch/devices.py: only on a machine that lacks Apple's MPS",
    "dataset.dtypes.{column}": "engine/deploy/batch_predict.py: states the setting the model "
                               "was trained with, to explain a request's refused column",
    "model.precision": "engine/models/torch/export.py: an export that differs from the model, "
                       "which no config makes on purpose",
    "dataset.path": "engine/data/file_source.py: names a file inside the folder given; "
                    "tests/test_bad_inputs.py's 'data-path-is-a-directory' checks it",
    "tracking": "engine/tracking/mlflow_checks.py: only where MLflow is not installed (it is in "
                "the dev extra); tests/tracking/test_mlflow_inputs.py hides it to check the "
                "message",
    "drift.drift_share": "engine/monitoring/command.py: the form of a `monitor` override, shown "
                         "when the overrides do not parse; tests/monitoring/test_monitor.py's "
                         "test_which_alerts_fail_is_declared passes drift.drift_share as written",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user's folder (write_user_project, churnlib not trusted) plus dataset/rows.yaml;
    churnlib importable, as the user's own package would be."""
    directory = tmp_path_factory.mktemp("project")
    conf = write_user_project(directory, trusted=False)
    (conf / "dataset" / "rows.yaml").write_text(ROWS_DATASET)
    sys.path.insert(0, str(directory))
    yield conf
    sys.path.remove(str(directory))
    sys.modules.pop("churnlib", None)


@pytest.fixture
def attempt(project: Path, tmp_path: Path) -> Callable[..., str]:
    """Run ``python -m engine OVERRIDES`` in this process on the case's data; its error
    message, or '' when it succeeded."""
    count = iter(range(100))

    def _attempt(case: Case, *extra: str) -> str:
        overrides = [*QUICK, *case.overrides, *extra]
        if case.data is not None:
            path = tmp_path / f"{case.data}.csv"
            rows(case.data).to_csv(path, index=False)
            overrides = ["dataset=rows", f"dataset.path={path}", *overrides]
        done = run_main(overrides, tmp_path / f"outputs{next(count)}",
                        {"ENGINE_CONFIG_DIR": str(project)})
        return done.stderr.removeprefix("error: ").strip() if done.returncode else ""

    return _attempt


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_suggested_fix_works_when_pasted(attempt: Callable[..., str], case: Case) -> None:
    if case.name == "cuda":
        torch = pytest.importorskip("torch")
        if torch.cuda.is_available():
            pytest.skip("the message is about a machine without CUDA")
    message = attempt(case)
    found = re.search(case.suggestion, message)
    assert found, f"no suggestion {case.suggestion!r} in: {message!r}"
    again = attempt(case, *shlex.split(found[1]))
    if case.passes:
        assert again == "", f"{found[1]} did not fix: {message}\nnow: {again}"
    else:
        assert again and again.split(":")[0] != message.split(":")[0], again


def test_config_only_cases_fail_before_any_data(project: Path) -> None:
    """The cases without data are caught when the config is checked, as the CLI does first."""
    for case in [case for case in CASES if case.data is None and "dataset=diabetes" not in
                 case.overrides]:
        with pytest.raises((EngineError, HydraException)) as refused:
            validate_spec(compose_spec([*QUICK, *case.overrides], config_dir=str(project)))
        assert re.search(case.suggestion, user_message(refused.value)), case.name


# A suggestion in a message: a word that offers it, then key=value (possibly quoted).
SUGGESTION = re.compile(r"\b(?:[Ss]et|[Uu]se|with|e\.g\.|[Tt]ry|or|[Ee]ncode them:)\s+"
                        r"[`'\"(]?\+?([a-z_][a-z_]*(?:\.[a-z_{}]+)*)=(?!=)")
# An override written by engine.data.validation.pasteable, ready for the shell.
PASTEABLE = re.compile(r"pasteable\([\"']([a-z_.]+)[\"']")


def suggested_keys() -> dict[str, set[str]]:
    """The keys of the overrides the engine's messages suggest (after a word that offers them,
    or made by ``pasteable``), and the files suggesting them; an f-string continued on the next
    line is joined first."""
    keys: dict[str, set[str]] = {}
    for path in sorted((REPO / "engine").rglob("*.py")):
        text = re.sub(r"([\"'])\s*\n\s*(?:rf|fr|f|r)?\1", "", path.read_text())
        for found in [*SUGGESTION.finditer(text), *PASTEABLE.finditer(text)]:
            keys.setdefault(found[1], set()).add(str(path.relative_to(REPO)))
    return keys


def covers(key: str, covered: set[str]) -> bool:
    """Whether a case pastes ``key``; a ``{placeholder}`` in it stands for any one name
    (``lifecycle.triggers.{key}`` is covered by ``lifecycle.triggers.every_hours``)."""
    pattern = re.sub(r"\\\{\w+\\\}", "[a-z_]+", re.escape(key))
    return any(re.fullmatch(pattern, name) for name in covered)


def test_every_suggestion_in_the_source_has_a_case() -> None:
    covered = {re.sub(r"\\", "", re.search(r"\((?:\\?[\"'`])?([\w.\\]+?)=", case.suggestion)[1])
               for case in [*CASES, *RETRAIN_CASES]}
    missing = {key: sorted(files) for key, files in suggested_keys().items()
               if not covers(key, covered) and key not in NOT_TRIGGERED}
    assert not missing, f"suggested overrides without a case here or in tests/lifecycle: {missing}"
    assert {"quality.severity.missing_values", "allowed_targets", "split.cv.n_splits",
            "dataset.group_column", "tune.pruner"} <= covered


def test_the_scan_finds_a_suggestion_split_across_lines() -> None:
    text = 'raise ConfigError("... Set "\n    "deploy.quantize=null otherwise.")'
    joined = re.sub(r"([\"'])\s*\n\s*(?:rf|fr|f|r)?\1", "", text)
    assert [found[1] for found in SUGGESTION.finditer(joined)] == ["deploy.quantize"]


def test_a_placeholder_in_a_suggested_key_stands_for_one_name() -> None:
    assert covers("lifecycle.triggers.{key}", {"lifecycle.triggers.every_hours"})
    assert not covers("lifecycle.triggers.{key}", {"lifecycle.triggers", "triggers.every_hours"})
    assert not covers("lifecycle.triggers.{key}", {"lifecycle.triggers.every_hours.x"})
