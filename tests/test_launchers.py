"""Hydra launchers: a sweep under the joblib launcher (the dev extra installs it) keeps its
leaderboard and sweep report; the slurm config composes over submitit's; a launcher whose extra
is not installed, or misspelled, is one line and exit 2."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_main


@pytest.mark.slow
def test_a_joblib_sweep_runs_its_jobs_in_parallel_and_keeps_leaderboard_and_report(
        tmp_path: Path) -> None:
    done = run_cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                    "model=logistic_regression", "seed=1,2", "split.cv.n_splits=3",
                    "report=false"], tmp_path)
    assert done.returncode == 0, done.stderr
    (sweep,) = (tmp_path / "multiruns").iterdir()
    with (sweep / "leaderboard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["overrides"].split()[1] for row in rows) == ["seed=1", "seed=2"]
    assert all(row["status"] == "ok" and float(row["cv_mean"]) > 0.9 for row in rows)
    assert (sweep / "report.html").is_file()
    hydra = (sweep / "0" / ".hydra" / "hydra.yaml").read_text()
    assert "hydra_joblib_launcher.joblib_launcher.JoblibLauncher" in hydra


def test_the_slurm_config_sets_the_engines_defaults_over_submitits(tmp_path: Path) -> None:
    done = run_main(["--cfg", "hydra", "-p", "hydra.launcher", "hydra/launcher=slurm"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "_target_: hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in (
        done.stdout)
    assert "cpus_per_task: 4" in done.stdout and "timeout_min: 120" in done.stdout


@pytest.mark.parametrize("launcher", ["ray_cluster", "ray"])
def test_a_launcher_whose_extra_is_missing_names_the_extra(launcher: str, tmp_path: Path) -> None:
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None:
        pytest.skip("the ray extra is installed here")
    done = run_main(["-m", f"hydra/launcher={launcher}", "seed=1,2"], tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr == (
        f"error: sweep job 0 (hydra/launcher={launcher} seed=1): hydra/launcher=ray: the ray "
        "launcher is not installed. Install it with pip install -e \".[ray]\" (the "
        "hydra-ray-launcher plugin), or leave hydra/launcher out to run the sweep's jobs one "
        "after another. No job was started.\n")


def test_a_misspelled_launcher_gets_did_you_mean(tmp_path: Path) -> None:
    done = run_main(["-m", "hydra/launcher=jobib", "seed=1,2"], tmp_path)
    assert done.returncode == 2
    assert "hydra/launcher=jobib: no such option in config group 'hydra/launcher'. Did you " \
           "mean 'joblib'?" in done.stderr
