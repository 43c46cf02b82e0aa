"""A local model registry in SQLite, named as MLflow names models: versions 1, 2, ... of a name,
and aliases (``champion``, ``challenger``) that point at one version each.

A version links back to its run directory and records the SHA-256 of the bundle's manifest, so
a bundle changed after registration is refused, before any of it is loaded, rather than served
under the old name.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, DataError, did_you_mean
from engine.tracking.files import default_output_dir

if TYPE_CHECKING:
    from engine.deploy.bundle import Bundle

# engine.deploy.bundle imports scikit-learn, which only registering and serving need: it is
# imported where they start, so `registry list`, `alias` and `promote` start without it.

REGISTRY_VARIABLE = "ENGINE_REGISTRY"
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, run_dir TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL, created TEXT NOT NULL, description TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (name, alias), FOREIGN KEY (name, version) REFERENCES versions (name, version));
"""


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    run_dir: str
    manifest_sha256: str
    created: str
    description: str
    aliases: tuple[str, ...] = ()


def default_registry_path() -> Path:
    """``$ENGINE_REGISTRY``, else ``registry.db`` in the outputs directory."""
    if os.environ.get(REGISTRY_VARIABLE):
        return Path(os.environ[REGISTRY_VARIABLE])
    return default_output_dir() / "registry.db"


class Registry:
    """The registry database at ``path`` (created on first use)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_registry_path()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")  # one writer at a time: versions never clash
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        """The database, its tables made; a path that is a directory or a file of another kind
        is refused in one line."""
        if self.path.is_dir():
            raise DataError(f"registry {self.path}: is a directory, not a registry database; "
                            f"point {REGISTRY_VARIABLE} at a file such as "
                            f"{self.path / 'registry.db'}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            connection.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            connection.close()
            raise DataError(f"registry {self.path}: not a SQLite registry database ({error}); "
                            f"point {REGISTRY_VARIABLE} at the registry's file, or at a new path "
                            "to start one.") from None
        return connection

    def register(self, run_dir: Path, name: str, *, description: str = "",
                 alias: str | None = None, trust_pickle: bool = False) -> ModelVersion:
        """Register the run's bundle as the next version of ``name`` (and point ``alias`` at
        it); the bundle must load (``trust_pickle`` as for :func:`load_bundle`)."""
        from engine.deploy.bundle import find_bundle, load_bundle

        _check_name(name, "model name")
        digest = _manifest_digest(find_bundle(run_dir))
        bundle = load_bundle(run_dir, trust_pickle=trust_pickle)  # verifies the manifest
        with self._connect() as db:
            latest = db.execute("SELECT MAX(version) FROM versions WHERE name = ?",
                                (name,)).fetchone()[0]
            version = (latest or 0) + 1
            db.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)",
                       (name, version, str(bundle.directory.parent.resolve()), digest,
                        datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                        description))
            if alias:
                self._point(db, name, alias, version)
        return self.version(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``name@alias`` at ``version`` (moving it if it pointed elsewhere)."""
        with self._connect() as db:
            self._versions(db, name, version)
            self._point(db, name, alias, version)
        return self.version(name, version)

    def delete_alias(self, name: str, alias: str) -> None:
        with self._connect() as db:
            self._alias_version(db, name, alias)
            db.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))

    def promote(self, name: str, source: str, target: str) -> ModelVersion:
        """Point ``target`` (``champion``) at the version ``source`` (``challenger``) names."""
        with self._connect() as db:
            version = self._alias_version(db, name, source)
            self._point(db, name, target, version)
        return self.version(name, version)

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of ``name``), oldest first, with its aliases."""
        with self._connect() as db:
            if name is not None:
                self._versions(db, name)
            return self._versions(db, name)

    def version(self, name: str, version: int) -> ModelVersion:
        with self._connect() as db:
            return self._versions(db, name, version)[0]

    def resolve(self, reference: str) -> ModelVersion:
        """``name@alias`` or ``name/version`` (``models:/`` prefix allowed, as MLflow writes)."""
        reference = reference.removeprefix("models:/")
        name, at, alias = reference.partition("@")
        with self._connect() as db:
            if at:
                return self._versions(db, name, self._alias_version(db, name, alias))[0]
            name, _, number = reference.rpartition("/")
            if not name or not number.isdigit():
                raise ConfigError(f"model '{reference}': name a registered model as NAME@ALIAS "
                                  "or NAME/VERSION (e.g. churn@champion, churn/3), or pass a "
                                  "run directory.")
            return self._versions(db, name, int(number))[0]

    def _versions(self, db: sqlite3.Connection, name: str | None,
                  version: int | None = None) -> list[ModelVersion]:
        query = "SELECT * FROM versions"
        values: list[str | int] = []
        if name is not None:
            query += " WHERE name = ?" + (" AND version = ?" if version is not None else "")
            values = [name] if version is None else [name, version]
        rows = db.execute(query + " ORDER BY name, version", values).fetchall()
        if name is not None and not rows:
            names = [row[0] for row in db.execute("SELECT DISTINCT name FROM versions")]
            if name not in names:
                raise ConfigError(f"registry {self.path}: no model '{name}'."
                                  f"{did_you_mean(name, names)} Registered: "
                                  f"{', '.join(names) or 'none yet'}.")
            known = [str(row[0]) for row in db.execute(
                "SELECT version FROM versions WHERE name = ? ORDER BY version", (name,))]
            raise ConfigError(f"registry: model '{name}' has no version {version}; it has "
                              f"{', '.join(known)}.")
        aliases: dict[tuple[str, int], list[str]] = {}
        for alias_name, alias, alias_version in db.execute(
                "SELECT name, alias, version FROM aliases ORDER BY alias"):
            aliases.setdefault((alias_name, alias_version), []).append(alias)
        return [ModelVersion(model, number, run_dir, sha256, created, description,
                             aliases=tuple(aliases.get((model, number), [])))
                for model, number, run_dir, sha256, created, description in rows]

    def _alias_version(self, db: sqlite3.Connection, name: str, alias: str) -> int:
        self._versions(db, name)
        row = db.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?",
                         (name, alias)).fetchone()
        if row is None:
            known = [r[0] for r in db.execute("SELECT alias FROM aliases WHERE name = ?",
                                              (name,))]
            raise ConfigError(f"registry: model '{name}' has no alias '{alias}'."
                              f"{did_you_mean(alias, known)} Its aliases: "
                              f"{', '.join(known) or 'none'}.")
        return int(row[0])

    @staticmethod
    def _point(db: sqlite3.Connection, name: str, alias: str, version: int) -> None:
        _check_name(alias, "alias")
        if alias == "latest" or alias.isdigit():
            raise ConfigError(f"alias '{alias}': reserved (the newest version and version "
                              "numbers are named by NAME/VERSION); pick another, e.g. champion.")
        db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)", (name, alias, version))


def resolve_model(reference: str, registry_path: Path | None = None, *,
                  trust_pickle: bool = False) -> tuple[Bundle, dict[str, Any]]:
    """The bundle a run directory or a registry reference names, and its lineage. A registered
    bundle's manifest must match the digest registered before any of the bundle is loaded;
    ``trust_pickle`` as for :func:`load_bundle`."""
    from engine.deploy.bundle import find_bundle, load_bundle

    path = Path(reference)
    if path.exists():
        return (load_bundle(path, trust_pickle=trust_pickle),
                {"run_dir": str(find_bundle(path).parent.resolve())})
    registry = Registry(registry_path)
    if not registry.path.exists():
        raise ConfigError(f"model '{reference}': no such run directory, and no registry at "
                          f"{registry.path} to look it up in (register one with python -m "
                          "engine registry register RUN NAME).")
    version = registry.resolve(reference)
    directory = find_bundle(Path(version.run_dir))
    if _manifest_digest(directory) != version.manifest_sha256:
        raise DataError(f"registry: {version.name} version {version.version}'s bundle in "
                        f"{version.run_dir} changed after it was registered; register the run "
                        "again to serve it.")
    bundle = load_bundle(directory, trust_pickle=trust_pickle)
    return bundle, {"run_dir": version.run_dir, "registered": {
        "name": version.name, "version": version.version, "aliases": list(version.aliases),
        "created": version.created}}


def _manifest_digest(bundle_dir: Path) -> str:
    from engine.deploy.bundle import MANIFEST_FILE

    return hashlib.sha256((bundle_dir / MANIFEST_FILE).read_bytes()).hexdigest()


def _check_name(value: str, what: str) -> None:
    if not NAME_PATTERN.fullmatch(value):
        raise ConfigError(f"{what} '{value}': use letters, digits, '_', '.' and '-', starting "
                          "with a letter.")
