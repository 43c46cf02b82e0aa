"""Where a study lives: a journal file by default, SQLite, or a database URL shared by machines.

``tune.storage``:

- ``null`` or ``journal``: ``<studies_dir>/<study_name>.journal`` (Optuna's JournalStorage);
  several local processes share it through its lock file. Chosen over SQLite by
  tests/bench/bench_storage.py: 0.8 ms per trial above in-memory at 1,000 trials, SQLite 10 ms.
- ``sqlite``: ``<studies_dir>/<study_name>.db``.
- a path ending in ``.journal``: that journal file.
- a URL (``postgresql+psycopg://user@host/db``, ``sqlite:///path.db``): Optuna's RDBStorage, with a
  heartbeat so a dead worker's trial is marked FAIL by the others.
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ConfigError, first_line

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 30
CREATE_ATTEMPTS = 5


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
    if not isinstance(storage, str) or not storage:
        raise ConfigError(_storage_hint(storage))
    if "://" in storage or storage.endswith(".journal"):
        return storage
    raise ConfigError(_storage_hint(storage))


def open_storage(storage: str | None, study_name: str, studies_dir: Path) -> BaseStorage:
    """The Optuna storage ``tune.storage`` names; database errors become one clear message."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    location = storage_location(storage, study_name, studies_dir)
    if "://" not in location:
        Path(location).parent.mkdir(parents=True, exist_ok=True)
        # Optuna's default lock, the one optuna-dashboard also takes on the same file.
        return optuna.storages.JournalStorage(JournalFileBackend(location))
    if location.startswith("sqlite:///"):
        Path(location.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return _rdb_storage(location)
    except ImportError as error:  # Optuna re-raises a missing driver as a plain ImportError
        raise ConfigError(
            f"tune.storage={_hide_password(location)}: the database driver is not installed "
            f"({first_line(error)}). For PostgreSQL: pip install -e \".[postgres]\" and use a "
            "postgresql+psycopg:// URL."
        ) from None
    except Exception as error:  # SQLAlchemy's errors: bad URL, refused connection, auth
        raise ConfigError(
            f"tune.storage={_hide_password(location)}: cannot open the study storage: "
            f"{first_line(error)}."
        ) from None


def _rdb_storage(url: str) -> BaseStorage:
    """RDBStorage, retried when workers starting together race to create Optuna's tables
    (the loser sees a duplicate table or key; the next attempt finds the tables made)."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    attempt = 1
    while True:
        try:
            with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 5
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS
                )
        except (IntegrityError, ProgrammingError):
            if attempt == CREATE_ATTEMPTS:
                raise
            time.sleep(0.2 * attempt)
            attempt += 1


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]+@", r"\1:***@", url)


def _storage_hint(storage: object) -> str:
    return (
        f"tune.storage: {storage!r} is not a storage. Use null (a journal file under "
        "outputs/studies/), 'sqlite', a path ending in .journal, or a database URL such as "
        "postgresql+psycopg://user@host/db."
    )
