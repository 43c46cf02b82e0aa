"""The CLI: a run and a user error end to end in subprocesses (tests/tuning/test_sweeper.py runs
a sweep so); the basic sweep, predict and the other errors through ``engine.cli.main`` in this
process (``in_process_cli``), which exits alike."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, only_run_dir, write_user_project


def test_default_run_writes_a_complete_run_directory(cli, tmp_path: Path) -> None:
    done = cli("split.cv.n_splits=3")
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path)
    for name in ("metrics.json", "cv_scores.csv", "data_report.json", "predictions.csv",
                 "run.json", "resolved_config.yaml", ".hydra/config.yaml",
                 "model/pipeline.skops", "model/schema.json", "model/metadata.json",
                 "model/MANIFEST.json"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["primary"] == "roc_auc"
    assert metrics["cv"]["roc_auc"]["mean"] > 0.95
    assert len(metrics["cv"]["roc_auc"]["folds"]) == 3
    metadata = json.loads((run_dir / "model/metadata.json").read_text())
    assert len(metadata["data_fingerprint"]) == 64
    assert "scikit-learn" in metadata["packages"]
    assert "commit" in metadata["git"]
    assert "roc_auc (primary)" in done.stdout
    assert str(run_dir) in done.stdout


def test_sweep_ranks_jobs_and_lists_a_failed_one(in_process_cli, tmp_path: Path) -> None:
    done = in_process_cli("-m", "dataset=iris,diabetes", "model=logistic_regression,knn",
               "split.cv.n_splits=2")
    assert done.returncode == 1, done.stderr
    (sweep_dir,) = (tmp_path / "multiruns").iterdir()
    rows = list(csv.DictReader((sweep_dir / "leaderboard.csv").open()))
    assert len(rows) == 4
    by_job = {(r["dataset"], r["model"]): r for r in rows}
    failed = by_job[("diabetes", "logistic_regression")]
    assert failed["status"] == "failed"
    assert "supports classification only" in failed["error"]
    assert rows[-1]["status"] == "failed"  # failures are listed last
    iris = sorted((r for r in rows if r["dataset"] == "iris"), key=lambda r: int(r["rank"]))
    assert [r["rank"] for r in iris] == ["1", "2"]
    assert float(iris[0]["cv_mean"]) >= float(iris[1]["cv_mean"])
    assert (sweep_dir / "leaderboard.md").read_text().startswith("| rank |")
    assert "leaderboard" in done.stdout and "1 of 4 jobs failed" in done.stdout


def test_a_mode_the_config_sets_is_the_mode_hydra_runs(in_process_cli, tmp_path: Path) -> None:
    """The preflight reads ``hydra.mode`` for Hydra (which would compose the config again for
    it): set to MULTIRUN without -m, the run is a sweep of one job."""
    done = in_process_cli("hydra.mode=MULTIRUN", "model=logistic_regression", "report=false",
                          "split.cv.n_splits=2", "metrics.bootstrap.resamples=0")
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (tmp_path / "multiruns").iterdir()
    assert len(list(csv.DictReader((sweep_dir / "leaderboard.csv").open()))) == 1
    assert not (tmp_path / "runs").exists()


def test_sweep_with_a_typo_fails_before_any_job_runs(in_process_cli, tmp_path: Path) -> None:
    done = in_process_cli("-m", "model=random_forest,random_forrest")
    assert done.returncode == 2
    assert "Did you mean 'random_forest'?" in done.stderr
    assert not (tmp_path / "multiruns").exists()


QUICK_IRIS = ("dataset=iris", "model=logistic_regression", "split.cv.n_splits=2", "report=false",
              "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0")


def test_predict_writes_labels_and_probabilities(in_process_cli, tmp_path: Path) -> None:
    cli = in_process_cli
    assert cli(*QUICK_IRIS).returncode == 0
    run_dir = only_run_dir(tmp_path)
    from sklearn.datasets import load_iris

    rows = load_iris(as_frame=True).frame.head(20)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "predicted.parquet"
    done = cli("predict", str(run_dir), str(tmp_path / "rows.csv"), "-o", str(out),
               "--keep", "target")
    assert done.returncode == 0, done.stderr
    predicted = pd.read_parquet(out)
    assert list(predicted.columns) == ["target", "prediction", "proba_0", "proba_1", "proba_2"]
    assert (predicted["target"] == rows["target"]).all()
    assert len(predicted) == 20
    assert (predicted["prediction"].astype(int) == rows["target"]).mean() > 0.9


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model=random_forrest"], "model=random_forrest: no such option in config group 'model'. "
                                   "Did you mean 'random_forest'?"),
        (["model=random_forest", "model.n_estimatorz=5"], "Did you mean 'model.n_estimators'?"),
        (["modl=svm"], "modl: no such key in the config. Did you mean 'model'?"),
        (["model=random_forest", "model.n_estimators=abc"],
         "model.n_estimators: The 'n_estimators'"),
        (["seed=abc"], "seed: must be an integer, got 'abc'"),
        (["dataset=titanic", "paths.shared_data=/nowhere"],
         "dataset.path: file '/nowhere/titanic.csv'"),
        (["dataset.target=nope"], "dataset.target: "),
        (["model._target_.classification=os.system"], "allowed_targets=[os.]"),
        (["metrics.primary=roc_acu"], "Did you mean 'roc_auc'?"),
        (["predcit", "run", "rows.csv"], "unknown command 'predcit'. Did you mean 'predict'?"),
        (["model.C=[1,"], "override 'model.C=[1,': no viable alternative at input '[1,'"),
        (["split=group"], "split.test_strategy=group needs dataset.group_column"),
        (["+extra={}", "extra.key=1"], "extra.key: no such key in the config. extra has no keys "
                                       "of its own. To add a key the config does not list, "
                                       "prefix it with '+' (+extra.key=...)."),
    ],
    ids=["group-option", "key", "group-name", "type", "seed-type", "missing-file", "target",
         "allow-list", "scorer", "unknown-command", "parse", "group-split", "key-of-empty"],
)
def test_user_errors_exit_2_with_one_clear_line(in_process_cli, args: list[str],
                                                message: str) -> None:
    done = in_process_cli(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_user_error_in_a_real_process_is_one_line_on_stderr_and_exit_2(cli) -> None:
    """The contract as a shell sees it: nothing else on stderr (no warning, no traceback)."""
    done = cli("model=random_forest", "model.n_estimators=abc")
    assert done.returncode == 2
    assert done.stderr.startswith("error: model.n_estimators: The 'n_estimators'")
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_traceback_variable_shows_the_traceback_as_well(in_process_cli) -> None:
    done = in_process_cli("model=random_forest", "model.n_estimators=abc",
                          env={"ENGINE_TRACEBACK": "1"})
    assert done.returncode == 2
    assert "Traceback" in done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("error: model.n_estimators: ")


def test_unwritable_output_directory_exits_2(in_process_cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    done = in_process_cli(f"paths.output_dir={blocker}")
    assert done.returncode == 2
    assert f"'{blocker}" in done.stderr and "paths.output_dir" in done.stderr
    assert "Traceback" not in done.stderr


def test_text_columns_the_features_leave_unencoded_are_named(in_process_cli,
                                                             tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    pd.DataFrame(
        {"city": ["oslo", "rome"] * 40, "age": range(80), "y": [0, 1, 1, 0] * 20}
    ).to_csv(data, index=False)
    done = in_process_cli("dataset=titanic", f"dataset.path={data}", "dataset.target=y",
                          "dataset.drop=[]", "features=passthrough")
    assert done.returncode == 2
    assert "features: column(s) city reach the model as text" in done.stderr
    run = json.loads((only_run_dir(tmp_path) / "run.json").read_text())
    assert run["status"] == "failed" and "reach the model as text" in run["error"]


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("a,y\n1,1\n2,1\n3,1\n", "single value"),
        ("a,y\n", "no rows"),
    ],
    ids=["single-class", "empty"],
)
def test_bad_data_exits_2(in_process_cli, tmp_path: Path, csv_text: str, message: str) -> None:
    data = tmp_path / "data.csv"
    data.write_text(csv_text)
    done = in_process_cli("dataset=titanic", f"dataset.path={data}", "dataset.target=y",
                          "dataset.drop=[]")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_predict_refuses_rows_that_do_not_match_the_schema(in_process_cli,
                                                           tmp_path: Path) -> None:
    cli = in_process_cli
    assert cli(*QUICK_IRIS).returncode == 0
    run_dir = only_run_dir(tmp_path)
    from sklearn.datasets import load_iris

    rows = load_iris(as_frame=True).frame.head(5)
    rows.drop(columns=["petal width (cm)"]).to_csv(tmp_path / "missing.csv", index=False)
    done = cli("predict", str(run_dir), str(tmp_path / "missing.csv"))
    assert done.returncode == 2
    assert "missing 1 column(s) the model needs: petal width (cm)" in done.stderr

    rows.astype({"sepal length (cm)": str}).assign(**{"sepal length (cm)": "tall"}).to_csv(
        tmp_path / "typed.csv", index=False
    )
    done = cli("predict", str(run_dir), str(tmp_path / "typed.csv"))
    assert done.returncode == 2
    assert "column 'sepal length (cm)': expected numbers" in done.stderr

    done = cli("predict", str(run_dir), str(tmp_path / "missing.csv"), "-o", "out.json")
    assert done.returncode == 2
    assert "output: 'out.json' has an unknown suffix '.json'" in done.stderr

    (run_dir / "model" / "schema.json").write_text("{}")
    done = cli("predict", str(run_dir), str(tmp_path / "missing.csv"))
    assert done.returncode == 2
    assert "schema.json does not match its SHA-256" in done.stderr


def test_help_and_cfg_do_not_import_heavy_libraries() -> None:
    probe = (
        "import sys\n"
        "from engine.cli import main\n"
        "for args in (['--help'], ['--cfg', 'job']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'pandas', 'torch'})\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "== Config groups" in done.stdout and "model: " in done.stdout
    assert "HEAVY []" in done.stdout


def test_tab_completion_completes_group_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine", "-sc", "query=bash"],
        cwd=REPO,
        env={**os.environ, "COMP_LINE": "engine model=random_f", "COMP_POINT": "21"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["model=random_forest"]


def test_the_collector_is_paused_for_start_up_and_frozen_once_the_run_starts(tmp_path) -> None:
    probe = (
        "import gc\n"
        "import engine.experiment as experiment\n"
        "from hydra._internal.hydra import Hydra\n"
        "from engine.cli import main\n"
        "seen = {}\n"
        "def spy(module, name):\n"
        "    original = getattr(module, name)\n"
        "    def wrapper(*args, **kwargs):\n"
        "        seen[name] = (gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "        return original(*args, **kwargs)\n"
        "    setattr(module, name, wrapper)\n"
        "spy(Hydra, 'compose_config')\n"
        "spy(experiment, 'run_experiment')\n"
        "import sys\n"
        "sys.argv = ['engine', 'dataset=iris', 'model=logistic_regression', 'split=holdout',\n"
        "            'metrics.bootstrap.resamples=0', 'metrics.explain.importance_repeats=0']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('SEEN', seen['compose_config'], seen['run_experiment'], gc.isenabled())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "ENGINE_OUTPUT_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    # composing: paused; the experiment: collecting again, start-up objects frozen; after: on
    assert "SEEN (False, False) (True, True) True" in done.stdout


def test_a_caller_passing_arguments_keeps_its_collector(capsys) -> None:
    import gc

    from engine.cli import main

    frozen = gc.get_freeze_count()
    main(["--cfg", "job"])
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    assert "model:" in capsys.readouterr().out


def test_help_lists_every_command_and_the_users_config_folder() -> None:
    from engine.cli import VERBS

    done = subprocess.run([sys.executable, "-m", "engine", "--help"], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for verb in VERBS:
        assert f"python -m engine {verb} " in done.stdout, verb
    assert "--config-dir my_conf" in done.stdout and "ENGINE_CONFIG_DIR=my_conf" in done.stdout
    assert "allowed_targets: [mypackage.]" in done.stdout


def test_a_users_project_runs_from_its_config_folder(in_process_cli, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "churnlib", raising=False)
    conf = str(write_user_project(tmp_path))
    env = {"ENGINE_CONFIG_DIR": conf}
    done = in_process_cli("dataset=churn", "model=churn_model", *QUICK_IRIS[2:], env=env)
    assert done.returncode == 0, done.stderr
    run = json.loads((only_run_dir(tmp_path) / "run.json").read_text())
    assert (run["choices"]["dataset"], run["choices"]["model"]) == ("churn", "churn_model")
    shown = in_process_cli("--config-dir", conf, "dataset=churn", "--cfg", "job")
    assert shown.returncode == 0 and "name: churn" in shown.stdout, shown.stderr
    assert "- churnlib." in shown.stdout  # allowed_targets from project/default.yaml
    effective = in_process_cli("schema", "--effective", "dataset=churn", "model=churn_model",
                               "--config-dir", conf)
    assert effective.returncode == 0, effective.stderr
    assert "name: churn" in effective.stdout and "churnlib.ChurnModel" in effective.stdout


@pytest.mark.parametrize("where", ["flag", "variable"])
def test_a_missing_config_folder_exits_2_with_one_line(in_process_cli, tmp_path: Path,
                                                       where: str) -> None:
    missing = str(tmp_path / "my_conf")
    done = (in_process_cli("--config-dir", missing, "dataset=churn") if where == "flag" else
            in_process_cli("dataset=churn", env={"ENGINE_CONFIG_DIR": missing}))
    assert done.returncode == 2
    source = "--config-dir" if where == "flag" else "ENGINE_CONFIG_DIR"
    assert done.stderr.startswith(f"error: {source} {missing}: no such directory")
    assert done.stderr.count("\n") == 1


def test_a_file_named_as_a_shipped_option_is_refused_not_silently_shadowed(
        in_process_cli, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "hist_gbm.yaml").write_text("max_iter: 10\n")
    done = in_process_cli("--config-dir", str(tmp_path), "model=hist_gbm")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr == (
        f"error: --config-dir {tmp_path}: model/hist_gbm.yaml has the name of an option the "
        "engine ships (model=hist_gbm), which would be chosen instead of yours. Rename yours "
        "(e.g. model/my_hist_gbm.yaml) and choose it by that name.\n")


def test_a_sweep_checks_its_jobs_against_the_folder_the_variable_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.sweep_preflight import preflight_sweep

    monkeypatch.setenv("ENGINE_CONFIG_DIR", str(write_user_project(tmp_path)))
    assert preflight_sweep(["dataset=churn", "model=my_logistic,dummy"]) == 2
