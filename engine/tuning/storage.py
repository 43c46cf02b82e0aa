"""Where a study lives: a journal file by default, SQLite, or a database URL shared by machines.

``tune.storage``:

- ``null`` or ``journal``: ``<studies_dir>/<study_name>.journal`` (Optuna's JournalStorage);
  several local processes share it through its lock file. Chosen over SQLite by
  tests/bench/bench_storage.py: 0.8 ms per trial above in-memory at 1,000 trials, SQLite 10 ms.
  A last record cut short (disk full, power loss) is dropped, with a warning, when it is opened.
- ``sqlite``: ``<studies_dir>/<study_name>.db``.
- a path ending in ``.journal``: that journal file.
- a URL (``postgresql+psycopg://user@host/db``, ``sqlite:///path.db``): Optuna's RDBStorage, with a
  heartbeat: a dead worker's trial is failed by the others and queued to run again
  (:mod:`engine.tuning.recovery` leaves such a retried trial out of the count).
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from engine.errors import ConfigError, did_you_mean, first_line

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30
HEARTBEAT_RETRIES = 3  # a trial whose parameters keep killing workers fails after that many
CREATE_ATTEMPTS = 5
DATABASE_SCHEMES = (  # SQLAlchemy's dialect+driver names for the databases Optuna supports
    "postgresql", "postgresql+psycopg", "postgresql+psycopg2", "postgresql+pg8000", "sqlite",
    "mysql", "mysql+pymysql", "mysql+mysqldb", "mysql+mysqlconnector", "mariadb",
    "mariadb+pymysql",
)


def check_study_name(name: str) -> str:
    """A study name is also a file name: letters, digits, ``_ . -``."""
    if not isinstance(name, str) or not STUDY_NAME.match(name):
        raise ConfigError(
            f"tune.study_name: {name!r} cannot name a study file; use letters, digits, '_', '.' "
            "and '-', starting with a letter or digit (e.g. tune.study_name=rf_adult)."
        )
    return name


def storage_location(storage: str | None, study_name: str, studies_dir: Path) -> str:
    """The journal path or database URL ``tune.storage`` means, for messages and records."""
    check_study_name(study_name)
    if storage in (None, "journal"):
        return str(studies_dir / f"{study_name}.journal")
    if storage == "sqlite":
        return f"sqlite:///{studies_dir / f'{study_name}.db'}"
    if isinstance(storage, str) and "://" in storage:
        return _checked_scheme(storage)
    if isinstance(storage, str) and storage.endswith(".journal"):
        return storage
    raise ConfigError(_storage_hint(storage))


def _checked_scheme(url: str) -> str:
    """A database URL whose scheme SQLAlchemy and Optuna know; a typo gets did-you-mean."""
    scheme = url.split("://", 1)[0]
    if scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            f"tune.storage={hide_password(url)}: cannot open the study storage: '{scheme}://' "
            "is not a database URL scheme."
            f"{did_you_mean(scheme, DATABASE_SCHEMES)} Use postgresql+psycopg://user@host/db "
            "(many machines), sqlite:///path.db, or a path ending in .journal."
        ) from None  # as every storage error: one line, no chained context
    return url


def open_storage(storage: str | None, study_name: str, studies_dir: Path) -> BaseStorage:
    """The Optuna storage ``tune.storage`` names; database errors become one clear message."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    location = storage_location(storage, study_name, studies_dir)
    if "://" not in location:
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        repair_journal(Path(location))
        # Optuna's default lock, the one optuna-dashboard also takes on the same file.
        return optuna.storages.JournalStorage(JournalFileBackend(location))
    if location.startswith("sqlite:///"):
        Path(location.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return _rdb_storage(location)
    except ImportError as error:  # Optuna re-raises a missing driver as a plain ImportError
        raise ConfigError(
            f"tune.storage={hide_password(location)}: the database driver is not installed "
            f"({first_line(error)}). For PostgreSQL: pip install -e \".[postgres]\" and use a "
            "postgresql+psycopg:// URL."
        ) from None
    except Exception as error:  # SQLAlchemy's errors: bad URL, refused connection, auth
        raise ConfigError(
            f"tune.storage={hide_password(location)}: cannot open the study storage: "
            f"{first_line(error)}."
        ) from None


def repair_journal(path: Path) -> int:
    """Cut a last record that was never finished (no newline: the disk filled, the power went)
    and warn on stderr; returns the bytes dropped.

    Optuna would append the next record onto it and fail to read the study from then on. The
    truncation happens under the journal's own lock, so no writer is mid-record meanwhile.
    """
    from optuna.storages.journal import JournalFileSymlinkLock

    if _complete_bytes(path) is None:
        return 0
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        keep = _complete_bytes(path)  # again, now that no writer is mid-record
        if keep is None:
            return 0
        dropped = path.stat().st_size - keep
        os.truncate(path, keep)
    finally:
        lock.release()
    print(f"warning: {path}: dropped an unfinished last record ({dropped} bytes, a write cut "
          "short); the study goes on from its complete records.", file=sys.stderr)
    return dropped


def _complete_bytes(path: Path) -> int | None:
    """The size of the journal's complete lines when a partial line follows them, else None."""
    try:
        with path.open("rb") as journal:
            size = journal.seek(0, os.SEEK_END)
            if size == 0 or _byte_at(journal, size - 1) == b"\n":
                return None
            return _after_last_newline(journal, size)
    except FileNotFoundError:
        return None


def _byte_at(journal: BinaryIO, offset: int) -> bytes:
    journal.seek(offset)
    return journal.read(1)


def _after_last_newline(journal: BinaryIO, end: int, block: int = 1 << 16) -> int:
    """The offset just past the last newline before ``end`` (0 when there is none)."""
    while end > 0:
        start = max(0, end - block)
        journal.seek(start)
        found = journal.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _rdb_storage(url: str) -> BaseStorage:
    """RDBStorage with a heartbeat whose stale trials are queued again (Optuna's retry callback);
    retried when workers starting together race to create Optuna's tables (the loser sees a
    duplicate table or key; the next attempt finds the tables made)."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    attempt = 1
    while True:
        try:
            # The heartbeat is "experimental"; from Optuna 4.9 the callback and its keyword are
            # aliases of RetryHeartbeatStaleTrialCallback (absent before 4.9) and warn so.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.simplefilter("ignore", FutureWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                    failed_trial_callback=optuna.storages.RetryFailedTrialCallback(
                        max_retry=HEARTBEAT_RETRIES),
                )
        except (IntegrityError, ProgrammingError):
            if attempt == CREATE_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
            attempt += 1


def hide_password(url: str) -> str:
    """The URL with its password, if any, as ``***``: for messages and records."""
    return re.sub(r"(://[^:/@]+):[^@]+@", r"\1:***@", url)


def _storage_hint(storage: object) -> str:
    return (
        f"tune.storage: {storage!r} is not a storage. Use null (a journal file under "
        "outputs/studies/), 'sqlite', a path ending in .journal, or a database URL such as "
        "postgresql+psycopg://user@host/db."
    )
