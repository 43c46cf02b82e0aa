"""Fixtures that compose and run experiments exactly as the CLI does."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from unittest import mock

import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.experiment import RunResult, run_experiment
from tests.postgres import postgres_url  # noqa: F401  (the fixture, for every test)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ENGINE_SHARED_DATA", REPO.parent / "shared" / "data"))
FAST = ("split.cv.n_splits=3",)


@pytest.fixture(scope="session", autouse=True)
def _nothing_lands_in_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs, sweeps, studies and the registry (``paths.output_dir`` follows ENGINE_OUTPUT_DIR),
    and Hypothesis's example database (schemathesis), go to a temporary folder, never into the
    checkout's outputs/ or .hypothesis/; a developer's own ENGINE_* settings do not reach the
    tests."""
    scratch = tmp_path_factory.mktemp("session")
    with mock.patch.dict(os.environ):
        for name in ("ENGINE_CONFIG_DIR", "ENGINE_REGISTRY", "ENGINE_TRACEBACK"):
            os.environ.pop(name, None)
        os.environ["ENGINE_OUTPUT_DIR"] = str(scratch / "outputs")
        os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(scratch / "hypothesis")
        yield


@pytest.fixture(autouse=True)
def _servers_tests_work_in_a_temporary_folder(request: pytest.FixtureRequest,
                                             tmp_path: Path) -> Iterator[None]:
    """A test of a running server has no use for the working directory, and the tools it
    drives write there (schemathesis its .schemathesis/ cache): run it from its tmp_path."""
    if "server" not in request.fixturenames:
        yield
        return
    with contextlib.chdir(tmp_path):
        yield


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., RunResult]:
    """Run an experiment in-process from CLI-style overrides into a fresh run directory."""
    count = iter(range(1000))

    def _run(*overrides: str) -> RunResult:
        run_dir = tmp_path / f"run{next(count)}"
        run_dir.mkdir()
        spec = compose_spec(list(overrides))
        return run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))

    return _run


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m engine ARGS`` in a subprocess with outputs under tmp_path."""

    def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(args, tmp_path, env)

    return _cli


@pytest.fixture
def in_process_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Like ``cli`` but ``engine.cli.main(ARGS)`` in this process: no interpreter start-up."""

    def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_main(args, tmp_path, env)

    return _cli


def run_main(
    args: Sequence[str], output_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``engine.cli.main(args)`` as :func:`run_cli` runs ``python -m engine``, in this process.

    Same working directory, environment and output width; the exit status is ``SystemExit``'s
    code (0 when main returns) and stdout and stderr are captured. The environment, ``sys.argv``
    and the root logger (Hydra configures it) are restored afterwards. A bug's exception
    propagates, so a test sees its traceback. Keep a few ``run_cli`` tests for what only a real
    process shows (the exact stderr, start-up cost, signals).
    """
    from engine.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with (mock.patch.dict(os.environ), mock.patch.object(sys, "argv", list(sys.argv)),
          contextlib.chdir(REPO), contextlib.redirect_stdout(stdout),
          contextlib.redirect_stderr(stderr)):
        os.environ.pop("ENGINE_TRACEBACK", None)
        os.environ.update({"ENGINE_OUTPUT_DIR": str(output_dir), "COLUMNS": "200", **(env or {})})
        try:
            main(list(args))
            returncode = 0
        except SystemExit as exit_:
            returncode = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
            if isinstance(exit_.code, str):  # as the interpreter does with sys.exit("message")
                print(exit_.code, file=sys.stderr)
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
    return subprocess.CompletedProcess(["engine", *args], returncode, stdout.getvalue(),
                                       stderr.getvalue())


def run_cli(
    args: Sequence[str], output_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m engine`` from the repo root, runs landing in ``output_dir``."""
    environment = {**os.environ, "ENGINE_OUTPUT_DIR": str(output_dir), "COLUMNS": "200"}
    environment.pop("ENGINE_TRACEBACK", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def only_run_dir(output_dir: Path) -> Path:
    """The single run directory a CLI run made under ``output_dir``."""
    (run_dir,) = (output_dir / "runs").iterdir()
    return run_dir


CHURN_DATASET = """\
name: churn
source: file
path: {path}
target: churned
"""
USER_MODEL = """\
_target_:
  classification: {target}
C: 0.5
max_iter: 500
search_space:
  C: {{type: float, low: 0.01, high: 10.0, log: true}}
"""
USER_CLASS = """\
from sklearn.linear_model import LogisticRegression


class ChurnModel(LogisticRegression):
    \"\"\"A user's own estimator: scikit-learn's, under the user's package name.\"\"\"
"""


def write_user_project(directory: Path, *, trusted: bool = True) -> Path:
    """A user's project in ``directory``: ``churn.csv`` (200 rows), the package ``churnlib``
    (one estimator class), and the config folder ``conf/`` with ``dataset/churn.yaml``,
    ``model/my_logistic.yaml`` (scikit-learn's class), ``model/churn_model.yaml`` (churnlib's)
    and, when ``trusted``, ``project/default.yaml`` allowing ``churnlib.``. Returns conf/."""
    import numpy as np

    rng = np.random.default_rng(0)
    tenure = rng.integers(1, 72, 200)
    charges = rng.uniform(20, 120, 200).round(2)
    plan = rng.choice(["basic", "plus", "pro"], 200)
    churned = (charges / 120 - tenure / 72 + rng.normal(0, 0.3, 200) > 0).astype(int)
    rows = ["tenure,charges,plan,churned"] + [
        f"{t},{c},{p},{y}" for t, c, p, y in zip(tenure, charges, plan, churned, strict=True)]
    (directory / "churn.csv").write_text("\n".join(rows) + "\n")
    (directory / "churnlib").mkdir()
    (directory / "churnlib" / "__init__.py").write_text(USER_CLASS)
    conf = directory / "conf"
    for group in ("dataset", "model", "project"):
        (conf / group).mkdir(parents=True)
    (conf / "dataset" / "churn.yaml").write_text(
        CHURN_DATASET.format(path=directory / "churn.csv"))
    (conf / "model" / "my_logistic.yaml").write_text(
        USER_MODEL.format(target="sklearn.linear_model.LogisticRegression"))
    (conf / "model" / "churn_model.yaml").write_text(
        USER_MODEL.format(target="churnlib.ChurnModel"))
    if trusted:
        (conf / "project" / "default.yaml").write_text("allowed_targets: [churnlib.]\n")
    return conf
