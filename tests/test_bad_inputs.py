"""Bad input of every kind (config, data, predict, serve's options, registry, regress, compare,
report) is one line on stderr naming the problem, exit 2, and no traceback.

Most cases run in this process through ``engine.cli.main`` (fast); a few run ``python -m
engine`` to prove the contract as a shell sees it. Argument placeholders such as ``{run}`` are
the files the module's ``world`` fixture prepares.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, only_run_dir, run_cli, run_main

QUICK_IRIS = ("dataset=iris", "model=logistic_regression", "split.cv.n_splits=2", "report=false",
              "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0")
BROKEN_YAML = "_target_:\n  classification: sklearn.linear_model.LogisticRegression\nC: [1, 2\n" \
              "max_iter: 5\n"


class Case(NamedTuple):
    args: tuple[str, ...]
    fragment: str
    env: dict[str, str] | None = None
    shipped_conf: bool = False  # run against a copy of engine/conf with svm.yaml broken


def case(args: str, fragment: str, *, id: str, env: dict[str, str] | None = None,
         shipped_conf: bool = False) -> object:
    """A table row; ``args`` split on spaces (placeholders filled in later)."""
    return pytest.param(Case(tuple(args.split(" ")), fragment, env, shipped_conf), id=id)


RUN_DATA = "dataset=titanic dataset.target=y dataset.drop=[] dataset.path="

CONFIG = [
    case("model=random_forrest", "model=random_forrest: no such option in config group 'model'. "
         "Did you mean 'random_forest'?", id="config-group-option"),
    case("model=random_forest model.n_estimatorz=5", "Did you mean 'model.n_estimators'?",
         id="config-misspelt-key"),
    case("modl=svm", "modl: no such key in the config. Did you mean 'model'?",
         id="config-misspelt-group"),
    case("model=random_forest model.n_estimators=abc", "model.n_estimators: The 'n_estimators'",
         id="config-wrong-type"),
    case("seed=abc", "seed: must be an integer, got 'abc'", id="config-seed-type"),
    case("metrics.primary=roc_acu", "Did you mean 'roc_auc'?", id="config-scorer"),
    case("model._target_.classification=os.system", "allowed_targets=[os.]",
         id="config-allow-list"),
    case("model.C=[1,", "override 'model.C=[1,': no viable alternative at input '[1,'",
         id="config-override-syntax"),
    case("predcit run rows.csv", "unknown command 'predcit'. Did you mean 'predict'?",
         id="config-unknown-command"),
    case("split=group", "split.test_strategy=group needs dataset.group_column",
         id="config-group-split-without-groups"),
    case("features=ordnial", "Did you mean 'ordinal'?", id="config-features-option"),
    case("tune=optuan", "no such option in config group 'tune'", id="config-tune-option"),
    case("+experiment=nope", "no such option in config group 'experiment'",
         id="config-experiment-option"),
    case("split.cv.n_splits=1", "split.cv.n_splits", id="config-too-few-folds"),
    case("split.test_size=1.5", "split.test_size", id="config-test-size-range"),
    case("dataset.task=regresion", "Did you mean 'regression'?", id="config-task-choice"),
    case("dataset=titanic dataset.path=${{paths.nope}}/x.csv",
         "dataset.path: the interpolation ${{paths.nope}} names a key the config does not have",
         id="config-interpolation-missing-key"),
    case("dataset=titanic dataset.path=${{paths.nope}}/x.csv",
         "Did you mean 'paths.output_dir'?", id="config-interpolation-did-you-mean"),
    case("dataset=titanic dataset.path=${{paths.nope}}/x.csv --cfg job --resolve",
         "the interpolation ${{paths.nope}} names a key the config does not have",
         id="config-interpolation-cfg-resolve"),
    case("-m model=random_forest,random_forrest", "Did you mean 'random_forest'?",
         id="sweep-typo"),
    case("-m dataset=titanic dataset.path=${{paths.nope}}/x.csv",
         "the interpolation ${{paths.nope}}", id="sweep-interpolation"),
    case("--config-dir {broken_conf} model=my_lr",
         "my_lr.yaml: not valid YAML: line 4, column 9: expected ',' or ']'",
         id="yaml-user-file-run"),
    case("--config-dir {broken_conf} model=my_lr --cfg job",
         "my_lr.yaml: not valid YAML: line 4, column 9", id="yaml-user-file-cfg-job"),
    case("-m --config-dir {broken_conf} model=my_lr", "my_lr.yaml: not valid YAML: line 4",
         id="yaml-user-file-sweep"),
    case("--config-dir {broken_conf} +experiment=bad", "bad.yaml: not valid YAML: line 4, "
         "column 1", id="yaml-user-overlay"),
    case("model=svm", "svm.yaml: not valid YAML: line 2, column 6: mapping values are not "
         "allowed here", id="yaml-shipped-file-edited", shipped_conf=True),
    case("--config-dir {tmp}/nowhere dataset=churn", "--config-dir {tmp}/nowhere: no such "
         "directory", id="config-dir-missing"),
    case("--config-dir {shadow_conf} model=hist_gbm", "Rename yours (e.g. "
         "model/my_hist_gbm.yaml)", id="config-dir-shadows-shipped"),
    case("paths.output_dir={data}/dup.csv", "Check paths.output_dir", id="output-dir-is-a-file"),
    case("schema --group modle", "invalid choice: 'modle'", id="schema-group"),
]

DATA = [
    case("dataset=titanic paths.shared_data=/nowhere", "dataset.path: file "
         "'/nowhere/titanic.csv' does not exist", id="data-missing-file"),
    case(f"{RUN_DATA}{{data}}/near_mis.csv", "Did you mean 'near_miss.csv'?",
         id="data-missing-file-near-name"),
    case("dataset.target=nope", "dataset.target: column 'nope' is not in the data",
         id="data-target-column"),
    case(f"{RUN_DATA}{{data}}/people.csv dataset.drop=[agee]", "dataset.drop: column 'agee' is "
         "not in the data. Did you mean 'age'?", id="data-drop-column"),
    case(f"{RUN_DATA}{{data}}/people.csv dataset.group_column=famliy",
         "dataset.group_column: column 'famliy'", id="data-group-column"),
    case(f"{RUN_DATA}{{data}}/dup.csv", "repeats the column name(s) 'a' in its header (pandas "
         "would silently rename the second to 'a.1'). Rename the columns in the file",
         id="data-duplicate-columns"),
    case(f"{RUN_DATA}{{data}}/semi.csv", "Read it with \"++dataset.read_options.sep=';'\"",
         id="data-semicolon-separated"),
    case(f"{RUN_DATA}{{data}}/pipe.csv", "Read it with \"++dataset.read_options.sep='|'\"",
         id="data-pipe-separated"),
    case(f"{RUN_DATA}{{data}}/tab.csv", "its header holds tabs", id="data-tab-separated"),
    case(f"{RUN_DATA}{{data}}/folder", "is a directory, not a data file. Data files in it: "
         "x.csv", id="data-path-is-a-directory"),
    case(f"{RUN_DATA}{{data}}/empty_folder", "It holds no .csv, .tsv or .parquet file",
         id="data-path-is-an-empty-directory"),
    case(f"{RUN_DATA}{{data}}/rows.json", "dataset.format: cannot tell the format",
         id="data-unknown-suffix"),
    case(f"{RUN_DATA}{{data}}/header_only.csv", "has no rows", id="data-no-rows"),
    case(f"{RUN_DATA}{{data}}/one_class.csv", "single value", id="data-single-class"),
    case(f"{RUN_DATA}{{data}}/people.csv ++dataset.read_options.sepp=x",
         "pandas.read_csv has no option 'sepp'. Did you mean 'sep'?", id="data-read-option"),
    case(f"{RUN_DATA}{{data}}/people.csv dataset.time_column=joined",
         "dataset.time_column: cannot read column 'joined' as dates", id="data-time-column"),
    case(f"{RUN_DATA}{{data}}/binary.csv", "dataset.path: cannot read", id="data-not-text"),
]

PREDICT = [
    case("predict {run} {data}/missing.csv", "missing 1 column(s) the model needs: petal width "
         "(cm)", id="predict-missing-column"),
    case("predict {run} {data}/typed.csv", "column 'sepal length (cm)': expected numbers",
         id="predict-wrong-type"),
    case("predict {run} {data}/rows.csv -o {tmp}/out.json", "has an unknown suffix '.json'",
         id="predict-output-suffix"),
    case("predict {tmp}/no_run {data}/rows.csv", "no_run", id="predict-no-run"),
    case("predict {run} {data}/no_rows.csv", "no_rows.csv", id="predict-no-input"),
    case("predict {run} {data}/rows.json", "rows.json", id="predict-input-suffix"),
    case("predict {damaged_schema} {data}/rows.csv", "schema.json does not match its SHA-256",
         id="predict-tampered-bundle"),
    case("predict {run} {data}/rows.csv --what-if colour=red", "colour",
         id="predict-what-if-column"),
]

SERVE = [
    case("serve {run} --port 70000", "argument --port: 70000 is not a port: give 0 to 65535",
         id="serve-port-range"),
    case("serve {run} --port abc", "argument --port: invalid port value: 'abc'",
         id="serve-port-type"),
    case("serve {run} --max-rows 0", "argument --max-rows: 0 must be",
         id="serve-max-rows"),
    case("serve {run} --max-body-mb -1", "argument --max-body-mb", id="serve-max-body"),
    case("serve {tmp}/no_run --registry {tmp}/no.db", "no such run directory, and no registry",
         id="serve-no-model"),
]

REGISTRY = [
    case("registry --registry {tmp}/r.db register {tmp}/no_run churn", "no_run",
         id="registry-register-not-a-run"),
    case("registry --registry {tmp}/r.db alias nope champion 1", "nope",
         id="registry-alias-unknown-model"),
    case("registry --registry {tmp}/r.db promote nope", "nope", id="registry-promote-unknown"),
    case("registry --registry {tmp}/r.db frobnicate", "invalid choice: 'frobnicate'",
         id="registry-unknown-command"),
    case("registry --registry {tmp}/r.db alias churn champion one", "invalid int value: 'one'",
         id="registry-version-type"),
]

REGRESS = [
    case("regress {tmp}/nope.yaml", "regress: no suite file", id="regress-missing-suite"),
    case("regress {suites}/broken.yaml", "broken.yaml: not valid YAML: line 3, column 7",
         id="regress-suite-yaml"),
    case("regress {suites}/a_list.yaml", "expected a mapping", id="regress-suite-not-a-mapping"),
    case("regress {suites}/unknown_key.yaml", "guardz", id="regress-suite-unknown-key"),
    case("regress {suites}/bad_override.yaml", "Did you mean 'random_forest'?",
         id="regress-suite-bad-override"),
    case("regress {suites}/bad_guard.yaml", "is not a guard", id="regress-suite-bad-guard"),
    case("regress {suites}/good.yaml --baseline {suites}/broken.json", "broken.json: not valid "
         "JSON (Expecting property name", id="regress-broken-baseline"),
    case("regress {suites}/good.yaml --jobs 0", "regress --jobs: expected at least 1; got 0",
         id="regress-jobs"),
    case("regress {suites}/overlay.yaml", "bad.yaml: not valid YAML: line 4, column 1",
         id="regress-suite-overlay-yaml", env={"ENGINE_CONFIG_DIR": "{broken_conf}"}),
]

COMPARE = [
    case("compare {run} {tmp}/no_run", "is not a finished run directory", id="compare-not-a-run"),
    case("compare {run} {cut_metrics}", "metrics.json: not valid JSON", id="compare-cut-metrics"),
    case("compare {run} {cut_cv}", "cv_scores.csv: cut short", id="compare-cut-cv-scores"),
    case("compare {run} {empty_predictions}", "predictions.csv: empty",
         id="compare-empty-predictions"),
    case("compare {run} {fewer_folds}", "has 2 folds and", id="compare-fewer-folds"),
    case("compare {run} {no_row_column}", "predictions.csv: has no column 'row'",
         id="compare-predictions-columns"),
    case("compare {run} {other_data}", "they were trained on different data",
         id="compare-different-data"),
    case("compare {run} {run} --metric acuracy", "Did you mean 'accuracy'?",
         id="compare-metric"),
    case("compare {run} {run} --alpha 2", "--alpha must be between 0 and 1",
         id="compare-alpha"),
    case("compare {run}", "the following arguments are required: second",
         id="compare-one-run"),
]

REPORT = [
    case("report {data}", "is neither a run directory", id="report-not-a-run"),
    case("report {cut_metrics}", "metrics.json: not valid JSON (", id="report-cut-metrics"),
    case("report {empty_evaluation}", "evaluation.json: empty", id="report-empty-evaluation"),
    case("report {cut_data_report}", "data_report.json: not valid JSON",
         id="report-cut-data-report"),
    case("report {sweep}", "overrides.yaml: not valid YAML (line 3, column 1",
         id="report-sweep-damaged-overrides"),
]

CASES = [*CONFIG, *DATA, *PREDICT, *SERVE, *REGISTRY, *REGRESS, *COMPARE, *REPORT]


def message_lines(stderr: str) -> list[str]:
    """stderr without argparse's usage block (``usage:`` and its indented continuation)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(("usage:", " "))]


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_one_line_and_exit_2(world: dict[str, str], bad: Case, tmp_path: Path,
                                          recwarn: pytest.WarningsRecorder) -> None:
    args = [arg.format(**world) for arg in bad.args]
    env = {key: value.format(**world) for key, value in (bad.env or {}).items()}
    with mock.patch("engine.config.compose.CONFIG_DIR",
                    Path(world["shipped_conf"]) if bad.shipped_conf else
                    REPO / "engine" / "conf"):
        done = run_main(args, tmp_path, env)
    lines = message_lines(done.stderr)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert len(lines) == 1, done.stderr
    assert bad.fragment.format(**world) in lines[0]
    assert not [str(warning.message) for warning in recwarn]  # a process prints them too


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["report", "{cut_metrics}"], "metrics.json: not valid JSON ("),
        (["compare", "{run}", "{cut_cv}"], "cv_scores.csv: cut short"),
        (["regress", "{suites}/broken.yaml"], "broken.yaml: not valid YAML: line 3, column 7"),
        ([*RUN_DATA.split(" ")[:-1], "dataset.path={data}/dup.csv"],
         "repeats the column name(s) 'a'"),
    ],
    ids=["report", "compare", "regress", "data"],
)
def test_in_a_real_process_stderr_is_exactly_the_message(world: dict[str, str], args: list[str],
                                                        fragment: str, tmp_path: Path) -> None:
    done = run_cli([arg.format(**world) for arg in args], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and fragment.format(**world) in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr


def test_the_table_is_large_and_its_cases_distinct() -> None:
    cases = [param.values[0] for param in CASES]
    assert len(cases) >= 60
    assert len({(c.args, c.fragment, c.shipped_conf) for c in cases}) == len(cases)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A finished run and damaged copies of it, data files, config folders, suites and a sweep
    directory, by placeholder name."""
    tmp = tmp_path_factory.mktemp("bad_inputs")
    outputs = tmp / "outputs"
    done = run_main(QUICK_IRIS, outputs)
    assert done.returncode == 0, done.stderr
    run = only_run_dir(outputs)
    places = {"tmp": tmp, "run": run, "data": write_data(tmp / "data"),
              "broken_conf": write_broken_conf(tmp / "broken_conf"),
              "shadow_conf": tmp / "shadow_conf", "shipped_conf": tmp / "shipped_conf",
              "suites": write_suites(tmp / "suites"), "sweep": write_sweep(tmp / "sweep", run),
              **damaged_runs(tmp, run)}
    (tmp / "shadow_conf" / "model").mkdir(parents=True)
    (tmp / "shadow_conf" / "model" / "hist_gbm.yaml").write_text("max_iter: 10\n")
    shutil.copytree(REPO / "engine" / "conf", tmp / "shipped_conf")
    (tmp / "shipped_conf" / "model" / "svm.yaml").write_text("C: 1\n  bad: : x\n")
    return {name: str(path) for name, path in places.items()}


def write_data(folder: Path) -> Path:
    (folder / "folder").mkdir(parents=True)
    (folder / "empty_folder").mkdir()
    files = {
        "dup.csv": "a,b,a,y\n" + "1,2,3,0\n4,5,6,1\n" * 20,
        "semi.csv": "a;b;y\n" + "1;2;0\n3;4;1\n" * 20,
        "pipe.csv": "a|b|y\n" + "1|2|0\n3|4|1\n" * 20,
        "tab.csv": "a\tb\ty\n" + "1\t2\t0\n3\t4\t1\n" * 20,
        "folder/x.csv": "a,y\n1,0\n",
        "near_miss.csv": "a,y\n1,0\n",
        "rows.json": "[]",
        "header_only.csv": "a,y\n",
        "one_class.csv": "a,y\n1,1\n2,1\n3,1\n",
        "people.csv": "age,family,joined,y\n" + "30,a,someday,0\n40,b,never,1\n" * 20,
    }
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "binary.csv").write_bytes(b"\x00\xff\xfe" * 100)
    sample = iris_rows()
    sample.to_csv(folder / "rows.csv", index=False)
    sample.drop(columns=["petal width (cm)"]).to_csv(folder / "missing.csv", index=False)
    sample.assign(**{"sepal length (cm)": "tall"}).to_csv(folder / "typed.csv", index=False)
    return folder


def iris_rows() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).data.head(5)


def write_broken_conf(conf: Path) -> Path:
    (conf / "model").mkdir(parents=True)
    (conf / "experiment").mkdir()
    (conf / "model" / "my_lr.yaml").write_text(BROKEN_YAML)
    (conf / "experiment" / "bad.yaml").write_text("# @package _global_\nmodel:\n  C: [1\n")
    return conf


def write_suites(folder: Path) -> Path:
    folder.mkdir()
    iris = ["dataset=iris", "model=logistic_regression", "split.cv.n_splits=2"]
    guards = {"cv.primary": {"absolute": 0.01}}
    suites = {
        "a_list.yaml": ["iris"],
        "unknown_key.yaml": {"experiments": {"iris": iris}, "guardz": guards},
        "bad_override.yaml": {"experiments": {"iris": ["model=random_forrest"]},
                              "guards": guards},
        "bad_guard.yaml": {"experiments": {"iris": iris}, "guards": {"cv_primary": {}}},
        "good.yaml": {"experiments": {"iris": iris}, "guards": guards},
        "overlay.yaml": {"experiments": {"iris": [*iris, "+experiment=bad"]}, "guards": guards},
    }
    for name, suite in suites.items():
        (folder / name).write_text(yaml.safe_dump(suite))
    (folder / "broken.yaml").write_text("experiments:\n  iris: [dataset=iris\nguards: {}\n")
    (folder / "broken.json").write_text("{not json")
    return folder


def write_sweep(sweep: Path, run: Path) -> Path:
    (sweep / "0" / ".hydra").mkdir(parents=True)
    (sweep / "0" / ".hydra" / "overrides.yaml").write_text("- model=svm\n- [seed=1\n")
    shutil.copy(run / "run.json", sweep / "0" / "run.json")
    return sweep


def damaged_runs(tmp: Path, run: Path) -> dict[str, Path]:
    """Copies of ``run``, each with one file damaged as a crash or an editor would."""

    def copy(name: str, file: str, text: str) -> Path:
        damaged = tmp / name
        shutil.copytree(run, damaged)
        (damaged / file).write_text(text)
        return damaged

    metrics = (run / "metrics.json").read_text()
    cv_scores = (run / "cv_scores.csv").read_text()
    predictions = pd.read_csv(run / "predictions.csv")
    record = json.loads((run / "run.json").read_text())
    record["dataset"]["fingerprint"] = "0" * 64
    return {
        "cut_metrics": copy("cut_metrics", "metrics.json", metrics[: len(metrics) // 2]),
        "cut_cv": copy("cut_cv", "cv_scores.csv", cv_scores[:-5]),
        "fewer_folds": copy("fewer_folds", "cv_scores.csv",
                            "".join(cv_scores.splitlines(keepends=True)[:-1])),
        "empty_predictions": copy("empty_predictions", "predictions.csv", ""),
        "no_row_column": copy("no_row_column", "predictions.csv",
                              predictions.drop(columns=["row"]).to_csv(index=False)),
        "other_data": copy("other_data", "run.json", json.dumps(record)),
        "empty_evaluation": copy("empty_evaluation", "evaluation.json", ""),
        "cut_data_report": copy("cut_data_report", "data_report.json", "{\"summary\": "),
        "damaged_schema": copy("damaged_schema", "model/schema.json", "{}"),
    }
