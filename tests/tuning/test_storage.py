"""engine.tuning.storage: where a study lives, what a bad ``tune.storage`` says, shared studies."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from engine.errors import ConfigError
from engine.tuning.storage import open_storage, storage_location
from tests.conftest import REPO
from tests.postgres import create_database, free_port

WORKER = Path(__file__).with_name("storage_worker.py")
TRIALS_PER_WORKER = 25
WORKER_TIMEOUT = 120.0


def one_trial(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """A study in ``storage`` with one finished trial, so that it has written something."""
    study = optuna.create_study(storage=storage, study_name=name)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    return study


@pytest.mark.parametrize("storage", [None, "journal"])
def test_default_storage_is_a_journal_file_named_after_the_study(
    storage: str | None, tmp_path: Path
) -> None:
    studies = tmp_path / "studies"
    opened = open_storage(storage, "rf_adult", studies)
    assert isinstance(opened, optuna.storages.JournalStorage)
    one_trial(opened, "rf_adult")
    assert storage_location(storage, "rf_adult", studies) == str(studies / "rf_adult.journal")
    assert (studies / "rf_adult.journal").stat().st_size > 0
    reopened = optuna.load_study(study_name="rf_adult", storage=open_storage(None, "rf_adult",
                                                                             studies))
    assert len(reopened.trials) == 1


def test_sqlite_storage_is_a_db_file_in_the_studies_dir(tmp_path: Path) -> None:
    studies = tmp_path / "not" / "made" / "yet"
    opened = open_storage("sqlite", "svm.v2", studies)
    assert isinstance(opened, optuna.storages.RDBStorage)
    one_trial(opened, "svm.v2")
    assert storage_location("sqlite", "svm.v2", studies) == f"sqlite:///{studies / 'svm.v2.db'}"
    assert (studies / "svm.v2.db").stat().st_size > 0


def test_a_journal_path_is_that_file(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "all.journal"
    opened = open_storage(str(path), "knn", tmp_path / "studies")
    one_trial(opened, "knn")
    assert path.stat().st_size > 0
    assert not (tmp_path / "studies").exists()


def test_a_database_url_is_that_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    one_trial(open_storage(url, "ridge", tmp_path / "studies"), "ridge")
    assert (tmp_path / "elsewhere.db").is_file()
    assert storage_location(url, "ridge", tmp_path) == url


@pytest.mark.parametrize("storage", ["mysql", "", "studies/rf.db", 5, ["journal"]])
def test_a_bad_storage_names_the_valid_ones(storage: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is not a storage\. Use null .*'sqlite', a path ending "
                                          r"in \.journal, or a database URL"):
        open_storage(storage, "rf", tmp_path)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["../escape", "a b", "", "-rf", "x/y", ".hidden", 7])
def test_a_study_name_that_cannot_name_a_file_is_refused(name: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tune\.study_name: .* cannot name a study file; use "
                                          r"letters, digits"):
        open_storage(None, name, tmp_path)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",  # nothing listens there
        "postgresql+psycopg://postgres@no-such-host.invalid/postgres",
        "nosuchdb://host/db",
    ],
)
def test_an_unusable_database_url_is_one_clear_line(url: str, tmp_path: Path) -> None:
    url = url.format(port=free_port())
    with pytest.raises(ConfigError, match="cannot open the study storage: ") as raised:
        open_storage(url, "rf", tmp_path)
    message = str(raised.value)
    assert message.startswith(f"tune.storage={url}: ")
    assert "\n" not in message
    assert "Traceback" not in message and "sqlalche.me" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_missing_database_driver_says_how_to_install_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the database driver is not installed .*pip install"):
        open_storage(f"mysql+mysqldb://user@127.0.0.1:{free_port()}/db", "rf", tmp_path)


def test_a_password_in_the_url_is_hidden(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://engine:s3cret-Pw@127.0.0.1:{free_port()}/studies"
    with pytest.raises(ConfigError, match=r"tune\.storage=postgresql\+psycopg://engine:\*\*\*@"):
        open_storage(url, "rf", tmp_path)
    with pytest.raises(ConfigError) as raised:
        open_storage(url, "rf", tmp_path)
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("backend", ["journal", "postgresql"])
def test_two_worker_processes_share_one_study(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two processes optimise one study at once: every trial is counted once, none is lost."""
    storage = request.getfixturevalue("postgres_url") if backend == "postgresql" else "journal"
    name = f"shared-{uuid.uuid4().hex[:8]}"
    studies = tmp_path / "studies"
    open_storage(storage, name, studies)  # the tables exist, as after any earlier run (see below)
    ran = run_workers([storage, name, str(studies)], tmp_path / "ready", workers=2)
    check_shared_study(ran, optuna.load_study(study_name=name,
                                              storage=open_storage(storage, name, studies)))


def test_two_workers_can_start_together_on_an_empty_database(
    postgres_url: str, tmp_path: Path
) -> None:
    url = create_database(postgres_url, f"fresh_{uuid.uuid4().hex[:8]}")
    ran = run_workers([url, "first", str(tmp_path)], tmp_path / "ready", workers=2)
    check_shared_study(ran, optuna.load_study(study_name="first",
                                              storage=open_storage(url, "first", tmp_path)))


def check_shared_study(ran: list[dict[int, float]], study: optuna.Study) -> None:
    """The study holds exactly the trials the workers ran, each number once, and they overlapped."""
    by_worker = [set(numbers) for numbers in ran]
    assert all(len(numbers) == TRIALS_PER_WORKER for numbers in by_worker)
    assert not by_worker[0] & by_worker[1], "a trial number was given to both workers"
    stored = {t.number: t.value for t in study.trials if t.state.name == "COMPLETE"}
    assert len(study.trials) == len(stored) == 2 * TRIALS_PER_WORKER
    assert stored == {number: value for worker in ran for number, value in worker.items()}
    assert sorted(stored) == list(range(2 * TRIALS_PER_WORKER))
    assert interleaved(*by_worker), "the workers did not run at the same time"


def run_workers(study: list[str], ready: Path, *, workers: int) -> list[dict[int, float]]:
    """Start ``workers`` processes on one study (storage, name, directory) at once.

    Returns the trials each one ran, number -> value. One worker failing stops the others (they
    would wait for it at their barrier).
    """
    args = [*study, str(TRIALS_PER_WORKER), str(ready), str(workers)]
    running = [subprocess.Popen([sys.executable, str(WORKER), *args], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for _ in range(workers)]
    try:
        wait_all_or_first_failure(running)
        outputs = [process.communicate() for process in running]
    finally:
        for process in running:
            process.kill()
    for process, (_, err) in zip(running, outputs, strict=True):
        assert process.returncode == 0, err
    return [{int(n): value for n, value in json.loads(out).items()} for out, _ in outputs]


def wait_all_or_first_failure(running: list[subprocess.Popen[str]]) -> None:
    """Wait until every process has exited, or one has failed (its output says why)."""
    deadline = time.monotonic() + WORKER_TIMEOUT
    while None in (codes := [process.poll() for process in running]):
        failed = [p for p, code in zip(running, codes, strict=True) if code not in (None, 0)]
        if failed:
            raise AssertionError(f"a worker failed:\n{failed[0].communicate()[1]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the workers did not finish within {WORKER_TIMEOUT} s")
        time.sleep(0.02)


def interleaved(first: set[int], second: set[int]) -> bool:
    """Whether neither worker's trials all came before the other's."""
    return min(first) < max(second) and min(second) < max(first)
