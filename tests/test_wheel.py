"""The engine as a user installs it: a built wheel, and ``pip install .`` (not editable), each in a
fresh virtual environment, run from a directory outside the checkout.

The slow tests take minutes (the wheel environment installs every dependency, torch included);
plain ``pytest`` leaves them out and ``pytest -m slow`` runs them. The source install reuses the
wheel environment's dependencies (``pip install --no-deps``), but the engine it runs is its own:
``test_the_engine_comes_from_the_environment`` checks where ``engine`` and ``hydra_plugins`` load
from.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.sweep_preflight import preflight_sweep
from tests.conftest import REPO, write_user_project

CONF = REPO / "engine" / "conf"
# What a build does not need from the working tree: VCS data, environments, caches, build output.
NOT_SOURCES = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "dist", "outputs",
                                     "multirun")
# The engine's own environment variables, which would point runs away from the defaults.
ENGINE_VARIABLES = ("ENGINE_OUTPUT_DIR", "ENGINE_SHARED_DATA", "ENGINE_TRACEBACK",
                    "ENGINE_REGISTRY", "ENGINE_CONFIG_DIR")
INSTALL_TIMEOUT = 1800
USER_MODEL = """\
_target_:
  classification: sklearn.linear_model.LogisticRegression
C: 0.5
max_iter: 500
"""


def outside_environment(directory: Path) -> dict[str, str]:
    """This process's environment less what would point Python at the checkout (PYTHONPATH, an
    active environment) or runs away from their defaults; git looks no higher than ``directory``,
    so a run's provenance is the same wherever the temporary folder is."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in (*ENGINE_VARIABLES, "PYTHONPATH", "VIRTUAL_ENV")}
    return environment | {"COLUMNS": "200", "GIT_CEILING_DIRECTORIES": str(directory.parent)}


def run_outside(command: Sequence[str | Path], directory: Path, timeout: float = 600,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``directory`` with :func:`outside_environment` (and ``env``). Never
    from the checkout: ``python -m pip`` there would take its engine.egg-info for an installed
    engine."""
    return subprocess.run([str(part) for part in command], cwd=directory,
                          env=outside_environment(directory) | (env or {}), capture_output=True,
                          text=True, timeout=timeout)


def run_checked(command: Sequence[str | Path], directory: Path,
                timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """:func:`run_outside`, failing the test with the output when the command exits non-zero."""
    done = run_outside(command, directory, timeout)
    assert done.returncode == 0, f"{' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}"
    return done


def make_venv(directory: Path) -> Path:
    """A new virtual environment with nothing installed; its Python."""
    run_checked([sys.executable, "-m", "venv", directory], directory.parent)
    return directory / "bin" / "python"


def site_packages(python: Path) -> Path:
    done = run_checked([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       python.parent)
    return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A folder for this module, removed at its end: the environments take gigabytes, which
    pytest's numbered temporary folders would keep for the next three sessions."""
    with tempfile.TemporaryDirectory(prefix="engine-wheel-") as directory:
        yield Path(directory)


@pytest.fixture(scope="module")
def sources(scratch: Path) -> Path:
    """The working tree's sources in a fresh folder: building writes nothing into the checkout,
    and no stale file in its build/ folder can reach the wheel."""
    copy = scratch / "sources"
    shutil.copytree(REPO, copy, symlinks=True, ignore=NOT_SOURCES)
    return copy


@pytest.fixture(scope="module")
def wheel(sources: Path, scratch: Path) -> Path:
    """The wheel ``python -m build --wheel`` makes (in an isolated build environment)."""
    out = scratch / "dist"
    run_checked([sys.executable, "-m", "build", "--wheel", "--outdir", out, sources], scratch,
                timeout=INSTALL_TIMEOUT)
    (built,) = out.glob("engine-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_python(wheel: Path, scratch: Path) -> Path:
    """A fresh environment holding the wheel and the dependencies pip resolved for it."""
    python = make_venv(scratch / "wheel_env")
    run_checked([python, "-m", "pip", "install", "--quiet", wheel], scratch,
                timeout=INSTALL_TIMEOUT)
    return python


@pytest.fixture(scope="module")
def source_python(sources: Path, wheel_python: Path, scratch: Path) -> Path:
    """A fresh environment holding ``pip install .`` (built from the sources, not editable); the
    dependencies come from the wheel environment, after its own site-packages."""
    python = make_venv(scratch / "source_env")
    run_checked([python, "-m", "pip", "install", "--quiet", "--no-deps", sources], scratch,
                timeout=INSTALL_TIMEOUT)
    (site_packages(python) / "dependencies.pth").write_text(
        f"import site; site.addsitedir({str(site_packages(wheel_python))!r})\n")
    return python


@dataclass(frozen=True)
class Installed:
    """An environment with the engine installed, and a working directory outside the checkout."""

    python: Path
    workdir: Path

    def run(self, *args: str | Path, script: bool = False, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``python -m engine ARGS`` (or the ``engine`` console script) from the work directory
        (or ``cwd``), with ``env`` added to the environment."""
        command = [self.python.parent / "engine"] if script else [self.python, "-m", "engine"]
        return run_outside([*command, *args], cwd or self.workdir, env=env)


@pytest.fixture(scope="module", params=["wheel", "source"])
def installed(request: pytest.FixtureRequest, scratch: Path) -> Installed:
    """The wheel's environment, then the one ``pip install .`` made."""
    workdir = scratch / f"work_{request.param}"
    workdir.mkdir()
    return Installed(request.getfixturevalue(f"{request.param}_python"), workdir)


@pytest.fixture(scope="module")
def default_run(installed: Installed) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``python -m engine`` with no overrides: the default experiment, and its run directory."""
    done = installed.run()
    assert done.returncode == 0, done.stderr
    (run_dir,) = (installed.workdir / "outputs" / "runs").iterdir()
    return done, run_dir


@pytest.mark.slow
def test_the_wheel_holds_every_config_template_and_the_sweeper_plugin(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    package_data = [*CONF.rglob("*.yaml"), *(REPO / "engine/reporting/templates").glob("*.html")]
    assert len(package_data) > 50
    missing = {path.relative_to(REPO).as_posix() for path in package_data} - names
    assert not missing
    assert "hydra_plugins/engine_optuna_sweeper.py" in names
    # Hydra finds plugins only in a namespace package: an __init__.py would hide other plugins.
    assert "hydra_plugins/__init__.py" not in names
    assert not [name for name in names if name.startswith(("tests/", "conf/", "sweeps/"))]


@pytest.mark.slow
def test_the_engine_comes_from_the_environment(installed: Installed) -> None:
    done = run_checked(
        [installed.python, "-c",
         "import engine, hydra_plugins.engine_optuna_sweeper as plugin\n"
         "print(engine.__file__); print(plugin.__file__)"], installed.workdir)
    engine_file, plugin_file = map(Path, done.stdout.split())
    site = site_packages(installed.python)
    assert engine_file == site / "engine" / "__init__.py"
    assert plugin_file == site / "hydra_plugins" / "engine_optuna_sweeper.py"


@pytest.mark.slow
def test_help_lists_every_config_group_and_option(installed: Installed) -> None:
    done = installed.run("--help", script=True)
    assert done.returncode == 0, done.stderr
    groups = sorted(path.name for path in CONF.iterdir() if path.is_dir() and path.name != "hydra")
    assert len(groups) >= 9
    lines = {line.split(":")[0]: line for line in done.stdout.splitlines() if ": " in line}
    for group in groups:
        options = sorted(path.stem for path in (CONF / group).glob("*.yaml"))
        assert lines.get(group) == f"{group}: {', '.join(options)}"
    assert "python -m engine predict RUN_DIR INPUT" in done.stdout


@pytest.mark.slow
def test_default_experiment_writes_metrics_predictions_and_report(
        default_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, run_dir = default_run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["primary"] == "roc_auc"
    assert 0.95 < metrics["objective"] <= 1.0
    assert len(list(csv.DictReader((run_dir / "predictions.csv").open()))) == 114
    assert (run_dir / "model" / "pipeline.skops").is_file()
    report = (run_dir / "report.html").read_text()
    assert "roc_auc" in report and "none (not run in a git repository)" in report
    run = json.loads((run_dir / "run.json").read_text())
    assert run["git"] == {"commit": None, "dirty": None}
    assert run["packages"]["engine"] == "0.1.0"
    assert str(run_dir) in done.stdout


@pytest.mark.slow
def test_predict_writes_one_prediction_per_row(
        installed: Installed, default_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, run_dir = default_run
    rows = installed.workdir / "rows.csv"
    run_checked([installed.python, "-c",
                 "from sklearn.datasets import load_breast_cancer\n"
                 f"load_breast_cancer(as_frame=True).data.head(20).to_csv({str(rows)!r}, "
                 "index=False)"], installed.workdir)
    out = installed.workdir / "predicted.csv"
    done = installed.run("predict", run_dir, rows, "-o", out)
    assert done.returncode == 0, done.stderr
    predictions = list(csv.DictReader(out.open()))
    assert len(predictions) == 20
    assert {row["prediction"] for row in predictions} <= {"0", "1"}
    assert all(0.0 <= float(row["proba_1"]) <= 1.0 for row in predictions)


def sweep_rows(installed: Installed,
               done: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    """The leaderboard rows of the one sweep that ran, after checking it exited 0."""
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (installed.workdir / "outputs" / "multiruns").iterdir()
    rows = list(csv.DictReader((sweep_dir / "leaderboard.csv").open()))
    shutil.rmtree(sweep_dir)  # the next sweep's directory is then the only one
    return rows


@pytest.mark.slow
def test_sweep_runs_and_ranks_both_jobs(installed: Installed) -> None:
    rows = sweep_rows(installed, installed.run("-m", "model=logistic_regression,dummy",
                                               script=True))
    assert [(row["model"], row["status"]) for row in rows] == [
        ("logistic_regression", "ok"), ("dummy", "ok")]
    assert float(rows[0]["cv_mean"]) > 0.95 > float(rows[1]["cv_mean"])


@pytest.mark.slow
def test_a_users_group_file_joins_through_config_dir(installed: Installed) -> None:
    write_user_model(installed.workdir / "my_conf")
    rows = sweep_rows(installed, installed.run(
        "-m", "--config-dir", "my_conf", "model=my_logistic,dummy", "dataset=iris"))
    assert {(row["model"], row["status"]) for row in rows} == {
        ("my_logistic", "ok"), ("dummy", "ok")}
    done = installed.run("hydra.searchpath=[file://my_conf]", "model=my_logistic",
                         "dataset=iris", "report=false")
    assert done.returncode == 0, done.stderr
    assert "my_logistic on iris" in done.stdout


@pytest.mark.slow
def test_a_users_project_runs_from_the_folder_it_names(installed: Installed) -> None:
    """The user's repository: churn.csv, their package churnlib (importable from the working
    directory, as `python -m` puts it on the path) and conf/ with dataset/churn.yaml, two models
    and project/default.yaml trusting churnlib."""
    project = installed.workdir / "churn_project"
    project.mkdir()
    conf = write_user_project(project)
    env = {"ENGINE_CONFIG_DIR": "conf"}
    done = installed.run("dataset=churn", "model=churn_model", "report=false", cwd=project,
                         env=env)
    assert done.returncode == 0, done.stderr
    assert "churn_model on churn" in done.stdout
    run = json.loads(next((project / "outputs" / "runs").glob("*/run.json")).read_text())
    assert run["choices"]["dataset"] == "churn"
    shown = installed.run("schema", "--effective", "dataset=churn", cwd=project, env=env)
    assert shown.returncode == 0 and "target: churned" in shown.stdout, shown.stderr
    done = installed.run("-m", "--config-dir", conf, "dataset=churn", "report=false",
                         "model=my_logistic,churn_model", cwd=project)
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (project / "outputs" / "multiruns").iterdir()
    rows = list(csv.DictReader((sweep_dir / "leaderboard.csv").open()))
    assert {(row["model"], row["status"]) for row in rows} == {
        ("my_logistic", "ok"), ("churn_model", "ok")}
    (conf / "project" / "default.yaml").unlink()
    refused = installed.run("dataset=churn", "model=churn_model", cwd=project, env=env)
    assert refused.returncode == 2
    assert "'churnlib.ChurnModel' is outside the allow-list" in refused.stderr
    missing = installed.run("dataset=churn", cwd=project, env={"ENGINE_CONFIG_DIR": "nowhere"})
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ENGINE_CONFIG_DIR nowhere: no such directory")


def write_user_model(directory: Path) -> Path:
    """``directory/model/my_logistic.yaml``: a config group file of the user's own."""
    (directory / "model").mkdir(parents=True)
    (directory / "model" / "my_logistic.yaml").write_text(USER_MODEL)
    return directory


def test_sweep_preflight_finds_group_files_in_the_users_config_dir(tmp_path: Path) -> None:
    user_conf = str(write_user_model(tmp_path / "my_conf"))
    assert preflight_sweep(["model=my_logistic,dummy"], config_dir=user_conf) == 2
    with pytest.raises(ConfigError, match="no such option in config group 'model'"):
        preflight_sweep(["model=my_logistic,dummy"])
    with pytest.raises(ConfigError, match=r"--config-dir .*nowhere: no such directory"):
        preflight_sweep(["model=dummy"], config_dir=str(tmp_path / "nowhere"))


def test_sweep_preflight_composes_the_users_primary_config(tmp_path: Path) -> None:
    user_conf = str(write_user_model(tmp_path / "my_conf"))
    (tmp_path / "my_conf" / "my_experiment.yaml").write_text(
        "defaults:\n  - config\n  - override model: my_logistic\n  - _self_\nn_jobs: 0\n")
    with pytest.raises(ConfigError, match=r"sweep job 0 \(dataset=iris\): .*0 workers"):
        preflight_sweep(["dataset=iris,wine"], config_dir=user_conf, config_name="my_experiment")
