"""``engine regress``: the exit status, the verdicts and the files, on real runs (the verb runs
through ``engine.cli.main`` in this process, as ``python -m engine`` runs it)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import run_main

QUICK = ["report=false", "metrics.explain.importance_repeats=0", "metrics.bootstrap.resamples=0"]
WINE = ["dataset=wine", "model=logistic_regression"]
CRIPPLED = [*WINE, "model.C=1e-4"]  # so regularised that it predicts one class


def write_suite(path: Path, experiments: dict[str, Any], **sections: Any) -> Path:
    suite = {"jobs": 1, "overrides": QUICK, "timing": {"fit_repeats": 2, "predict_repeats": 5},
             "guards": {"cv.primary": {"absolute": 0.01}, "test.primary": {"absolute": 0.02}},
             **sections, "experiments": experiments}
    path.write_text(yaml.safe_dump(suite))
    return path


def regress(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, Path]:
    """Run the verb; return the exit status, the console output and the output directory."""
    output = tmp / f"out{len(list(tmp.glob('out*')))}"
    done = run_main(["regress", *args, "-o", str(output)], tmp, env)
    return done.returncode, done.stdout + done.stderr, output


def checks(output: Path) -> list[dict[str, Any]]:
    return json.loads((output / "results.json").read_text())["checks"]


@pytest.fixture(scope="module")
def wine_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A suite directory whose baseline holds wine with logistic regression."""
    tmp = tmp_path_factory.mktemp("suite")
    suite = write_suite(tmp / "gate.yaml", {"wine": WINE})
    status, output, _ = regress(tmp, str(suite), "--update-baseline")
    assert status == 0, output
    return tmp


def test_update_baseline_records_provenance_and_measurements(wine_baseline: Path) -> None:
    baseline = json.loads((wine_baseline / "baselines" / "gate.json").read_text())
    recorded = baseline["recorded"]
    assert len(recorded["git"]["commit"]) == 40
    assert recorded["date"].startswith("20")
    assert {"scikit-learn", "optuna", "torch"} <= set(recorded["packages"])
    wine = baseline["experiments"]["wine"]
    assert wine["primary"] == "f1_macro" and len(wine["cv"]["f1_macro"]) == 5
    assert len(wine["timing"]["fit_seconds"]) == 2 and len(wine["timing"]["predict_ms"]) == 5
    assert len(wine["predictions"]["row"]) == 36  # the test rows, for the paired bootstrap


def test_crippled_model_is_a_regression_and_exits_1(wine_baseline: Path) -> None:
    suite = write_suite(wine_baseline / "crippled.yaml", {"wine": CRIPPLED},
                        baseline="baselines/gate.json")
    summary = wine_baseline / "step_summary.md"
    status, output, out = regress(wine_baseline, str(suite),
                                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert status == 1, output
    verdicts = {check["metric"]: check for check in checks(out)}
    for metric in ("cv f1_macro", "test f1_macro"):
        assert verdicts[metric]["verdict"] == "regressed"
        assert verdicts[metric]["now"] < verdicts[metric]["baseline"] - 0.5
        assert verdicts[metric]["p_value"] < 0.05
    assert "regressed" in output and "cv f1_macro" in output
    markdown = (out / "regress.md").read_text()
    assert "2 regressed" in markdown and "| wine | cv f1_macro |" in markdown
    assert summary.read_text() == markdown  # appended for GitHub's job summary
    suite_element = ElementTree.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite_element is not None and suite_element.get("failures") == "2"
    failed = [case.get("name") for case in suite_element.iter("testcase")
              if case.find("failure") is not None]
    assert failed == ["cv f1_macro", "test f1_macro"]


def test_set_tries_a_change_on_every_experiment(wine_baseline: Path) -> None:
    suite = wine_baseline / "gate.yaml"
    status, output, out = regress(wine_baseline, str(suite), "--set", "model.C=1e-4")
    assert status == 1, output
    for check in checks(out):
        assert check["verdict"] == "regressed"
        assert check["now"] < check["baseline"] - 0.5  # the crippled model, as a suite file says


def test_an_improvement_is_reported_as_one(wine_baseline: Path) -> None:
    crippled = write_suite(wine_baseline / "before.yaml", {"wine": CRIPPLED},
                           baseline="baselines/crippled.json")
    assert regress(wine_baseline, str(crippled), "--update-baseline")[0] == 0
    fixed = write_suite(wine_baseline / "after.yaml", {"wine": WINE})
    status, output, out = regress(wine_baseline, str(fixed), "--baseline",
                                  str(wine_baseline / "baselines" / "crippled.json"))
    assert status == 0, output
    assert {check["metric"]: check["verdict"] for check in checks(out)} == {
        "cv f1_macro": "improved", "test f1_macro": "improved"}


@pytest.mark.parametrize(("required", "status", "verdict"),
                         [(True, 0, "not significant"), (False, 1, "regressed")])
def test_a_small_change_passes_only_when_significance_is_required(
        tmp_path: Path, required: bool, status: int, verdict: str) -> None:
    cancer = ["dataset=breast_cancer", "model=logistic_regression"]
    tight = {"cv.primary": {"absolute": 0.0}}
    write_suite(tmp_path / "small.yaml", {"cancer": cancer}, guards=tight)
    assert regress(tmp_path, str(tmp_path / "small.yaml"), "--update-baseline")[0] == 0
    write_suite(tmp_path / "small.yaml", {"cancer": [*cancer, "model.C=1.2"]}, guards=tight,
                significance={"required": required})
    code, output, out = regress(tmp_path, str(tmp_path / "small.yaml"))
    assert code == status, output
    [check] = checks(out)
    assert check["verdict"] == verdict
    assert -0.001 < check["now"] - check["baseline"] < 0  # worse, by less than a thousandth
    if required:
        assert check["p_value"] > 0.05


@pytest.mark.slow
def test_two_runs_give_identical_metrics_and_new_experiments_are_new(tmp_path: Path) -> None:
    experiments = {"wine": WINE, "diabetes_torch": ["dataset=diabetes", "model=mlp"]}
    write_suite(tmp_path / "twice.yaml", experiments, jobs=2)
    status, output, first = regress(tmp_path, str(tmp_path / "twice.yaml"), "--update-baseline")
    assert status == 0, output
    assert {check["verdict"] for check in checks(first)} == {"new"}
    write_suite(tmp_path / "twice.yaml", {**experiments, "iris": ["dataset=iris"]}, jobs=2)
    status, output, second = regress(tmp_path, str(tmp_path / "twice.yaml"))
    assert status == 0, output
    by_experiment = {(c["experiment"], c["metric"]): c for c in checks(second)}
    assert {c["verdict"] for (name, _), c in by_experiment.items() if name == "iris"} == {"new"}
    compared = [c for (name, _), c in by_experiment.items() if name != "iris"]
    assert len(compared) == 4 and all(c["now"] == c["baseline"] for c in compared)
    runs = [json.loads((out / "runs" / "diabetes_torch" / "metrics.json").read_text())
            for out in (first, second)]
    assert runs[0]["cv"] == runs[1]["cv"] and runs[0]["test"] == runs[1]["test"]


def test_a_failing_experiment_fails_the_gate(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "broken.yaml",
                        {"cancer": ["dataset=breast_cancer", "quality.fail_on=info",
                                    "quality.imbalance_ratio=1.1"]})
    status, output, out = regress(tmp_path, str(suite))
    assert status == 1, output
    [check] = checks(out)
    assert check["verdict"] == "failed" and "quality" in check["note"]
    case = ElementTree.parse(out / "junit.xml").getroot().find("testsuite/testcase")
    assert case is not None and case.find("error") is not None
    status, output, _ = regress(tmp_path, str(suite), "--update-baseline")
    assert status == 1 and "baseline not updated: cancer failed" in output
    assert not (tmp_path / "baselines" / "broken.json").exists()


@pytest.mark.parametrize(("experiments", "sections", "message"), [
    ({"rf": ["model=random_forrest"]}, {},
     r"experiments\.rf \(.*model=random_forrest\).*Did you mean 'random_forest'"),
    ({"rf": ["model=random_forest"]}, {"gaurds": {}},
     r"bad.yaml: gaurds: unknown key. Did you mean 'guards'\? Valid options: baseline, "),
    ({"rf": ["model=random_forest"]}, {"guards": {"test.roc_aucc": {"absolute": 0.01}}},
     r"experiments\.rf\.guards\.test\.roc_aucc: .*no scorer 'roc_aucc'.*Did you mean 'roc_auc'"),
    ({"rf": ["model=random_forest"]}, {"guards": {"cv.primary": {"absolute": -1}}},
     r"guards\.cv\.primary\.absolute: -1 is not a number >= 0\.0"),
    ({"rf": ["model=random_forest"]}, {"guards": {"fit_second": {"relative": 1}}},
     r"guards: 'fit_second' is not a guard: a guard is .* Did you mean 'fit_seconds'"),
    ({"rf": "model=random_forest"}, {},
     r"experiments\.rf: expected a list of overrides, got 'model=random_forest'"),
    ({}, {}, r"experiments is empty"),
    ({"rf": ["model=random_forest"]}, {"jobs": 0},
     r"bad.yaml: jobs: 0 workers cannot run anything"),
])
def test_a_malformed_suite_exits_2_naming_the_entry(tmp_path: Path, experiments: dict[str, Any],
                                                    sections: dict[str, Any],
                                                    message: str) -> None:
    suite = write_suite(tmp_path / "bad.yaml", experiments, **sections)
    status, output, out = regress(tmp_path, str(suite))
    assert status == 2
    assert output.startswith("error: ") and "Traceback" not in output
    assert not (out / "runs").exists()  # nothing ran
    assert re.search(message, output.replace("\n", " ")), output


def test_a_missing_suite_or_broken_baseline_exits_2(tmp_path: Path) -> None:
    status, output, _ = regress(tmp_path, str(tmp_path / "nope.yaml"))
    assert status == 2 and "no suite file" in output
    suite = write_suite(tmp_path / "s.yaml", {"wine": WINE})
    (tmp_path / "baselines").mkdir()
    (tmp_path / "baselines" / "s.json").write_text("{not json")
    status, output, _ = regress(tmp_path, str(suite))
    assert status == 2 and "s.json: not valid JSON (Expecting property name" in output
    assert "Record it again with --update-baseline." in output
    status, output, _ = regress(tmp_path, str(suite), "--update-baseline")
    assert status == 0 and "It is rewritten from this run" in output
    assert "wine" in json.loads((tmp_path / "baselines" / "s.json").read_text())["experiments"]
    status, output, _ = regress(tmp_path, str(suite), "--jobs", "0")
    assert status == 2 and "regress --jobs: expected at least 1; got 0" in output
