"""A local model registry in SQLite, named as MLflow names models: versions 1, 2, ... of a name,
and aliases (``champion``, ``challenger``) that point at one version each.

A version links back to its run directory and records the SHA-256 of the bundle's manifest, so
a bundle changed after registration is refused, before any of it is loaded, rather than served
under the old name.

Every alias move is written with a row in ``history`` in the same transaction (who moved it:
registration, a person, the gate, a rollback), so a rollback can walk back through the
champions, and every gate decision, promoted or not, is kept in ``decisions`` with its evidence.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, DataError, did_you_mean, options_hint
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
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, alias TEXT NOT NULL,
    version INTEGER, previous INTEGER, time TEXT NOT NULL, kind TEXT NOT NULL,
    reason TEXT NOT NULL, evidence TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_by_alias ON history (name, alias, id);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, time TEXT NOT NULL,
    record TEXT NOT NULL);
"""
# move_alias records manual and gate moves; the other kinds have a method of their own.
MOVE_ALIAS_KINDS = ("manual", "gate")
OWN_METHOD = {"register": "Registry.register", "rollback": "Registry.rollback",
              "delete": "Registry.delete_alias"}
MANUAL = "manual, no gate"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    run_dir: str
    manifest_sha256: str
    created: str
    description: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AliasMove:
    """One move of ``name@alias``: from ``previous`` to ``version`` (None: no alias). Its
    ``kind`` is ``register``, ``manual``, ``gate``, ``rollback`` or ``delete``."""

    id: int
    name: str
    alias: str
    version: int | None
    previous: int | None
    time: str
    kind: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``2 (gate)``, ``deleted (delete)``: where the move left the alias, and why."""
        return f"{'deleted' if self.version is None else self.version} ({self.kind})"


def default_registry_path() -> Path:
    """``$ENGINE_REGISTRY``, else ``registry.db`` in the outputs directory."""
    if os.environ.get(REGISTRY_VARIABLE):
        return Path(os.environ[REGISTRY_VARIABLE])
    return default_output_dir() / "registry.db"


class Registry:
    """The registry database at ``path`` (created on first use)."""

    def __init__(self, path: Path | None = None, *, mirror: bool = True) -> None:
        self.path = path or default_registry_path()
        self.mirror = mirror
        """Mirror each change in MLflow's registry (:mod:`engine.tracking.registry_mirror`)
        for the models whose runs were logged there; off for a run whose own tracking mirrors
        the version it registers."""

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A transaction; once it committed, the cards of the versions it changed are rewritten
        (:mod:`engine.card.registry_card`) and, with ``mirror``, the models it changed are
        brought up to date in MLflow's registry."""
        from engine.card.registry_card import change_mark, changed_versions, refresh_cards
        from engine.tracking.registry_mirror import mirror_aliases

        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")  # one writer at a time: versions never clash
            mark = change_mark(connection)
            yield connection
            changed = changed_versions(connection, mark)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()
        refresh_cards(self, changed)
        if self.mirror and changed:
            mirror_aliases(self, {name for name, _ in changed})

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
            raise self._not_a_registry(error) from None
        return connection

    def _not_a_registry(self, error: sqlite3.DatabaseError) -> DataError:
        return DataError(f"registry {self.path}: not a SQLite registry database ({error}); "
                         f"point {REGISTRY_VARIABLE} at the registry's file, or at a new path to "
                         "start one.")

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
                        _now(), description))
            if alias:
                self._move(db, name, alias, version, kind="register",
                           reason=" ".join(["registered", description]).strip())
        return self.version(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``name@alias`` at ``version`` by hand (recorded as "manual, no gate")."""
        return self.move_alias(name, alias, version, kind="manual", reason=MANUAL)

    def move_alias(self, name: str, alias: str, version: int, *, kind: str, reason: str,
                   evidence: dict[str, Any] | None = None,
                   previous_alias: str | None = None) -> ModelVersion:
        """Point ``name@alias`` at ``version``, recording the move's ``kind`` (``manual`` or
        ``gate``), its one-line ``reason`` and ``evidence`` (the gate's decision record).
        ``previous_alias`` (e.g. ``previous``) is pointed at the version ``alias`` left."""
        if kind in OWN_METHOD:
            raise ConfigError(f"alias move kind '{kind}': recorded by {OWN_METHOD[kind]}, which "
                              "moves the alias itself; move_alias records manual and gate moves.")
        if kind not in MOVE_ALIAS_KINDS:
            raise ConfigError(f"alias move kind '{kind}': not a kind of move."
                              f"{did_you_mean(kind, MOVE_ALIAS_KINDS)} "
                              f"{options_hint(MOVE_ALIAS_KINDS)}")
        with self._connect() as db:
            self._versions(db, name, version)
            left = self._move(db, name, alias, version, kind=kind, reason=reason,
                              evidence=evidence)
            if previous_alias and left is not None and left != version:
                self._move(db, name, previous_alias, left, kind=kind, reason=reason,
                           evidence=evidence)
        return self.version(name, version)

    def delete_alias(self, name: str, alias: str, *, reason: str = "removed by hand") -> None:
        """Remove ``name@alias`` (its history stays, so a rollback can put it back)."""
        with self._connect() as db:
            self._alias_version(db, name, alias)
            self._move(db, name, alias, None, kind="delete", reason=reason)

    def promote(self, name: str, source: str, target: str) -> ModelVersion:
        """Point ``target`` (``champion``) at the version ``source`` (``challenger``) names, by
        hand (recorded as "manual, no gate")."""
        with self._connect() as db:
            version = self._alias_version(db, name, source)
            self._move(db, name, target, version, kind="manual", reason=MANUAL)
        return self.version(name, version)

    def rollback(self, name: str, alias: str = "champion", *, reason: str = "") -> ModelVersion:
        """Put back the version ``name@alias`` pointed at before its current one, as a new move
        of kind ``rollback``. Rollbacks walk back, never toggle: after champions 1, 2, 3 one
        rollback leaves 2 and the next 1; a version rolled away from is never rolled back to.
        The version's bundle must be unchanged since registration (DataError otherwise)."""
        with self._connect() as db:
            moves = self._history(db, name, alias)
            held = _versions_held(moves)
            current = held[-1] if held else None
            earlier = _rolled_back(held)
            if not earlier:
                told = ", ".join(move.describe() for move in moves) or (
                    "none recorded (it was pointed before this registry kept history)")
                raise ConfigError(f"registry: {name}@{alias} has no earlier version to roll back "
                                  f"to; its history: {told}. Point it by hand with python -m "
                                  f"engine registry alias {name} {alias} VERSION.")
            target = earlier[-1]
            assert target is not None  # a removal is never left on top
            version = self._versions(db, name, target)[0]
            _check_unchanged(version, f"cannot roll {name}@{alias} back to version {target}: ")
            left = "its removal" if current is None else f"version {current}"
            self._move(db, name, alias, target, kind="rollback",
                       reason=f"rolled back from {left}" + (f": {reason}" if reason else ""),
                       evidence={"rolled_back_from": current})
        return self.version(name, target)

    def history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of ``name``'s aliases (or of ``alias`` only), oldest first."""
        with self._connect() as db:
            return self._history(db, name, alias)

    def record_decision(self, name: str, record: dict[str, Any]) -> int:
        """Keep one gate decision (promoted, rejected or a dry run) with its evidence and
        lineage; its id. The record's own ``time`` is kept (a replay's clock), else now."""
        _check_name(name, "model name")
        time = str(record.get("time") or _now())
        with self._connect() as db:
            cursor = db.execute("INSERT INTO decisions (name, time, record) VALUES (?, ?, ?)",
                                (name, time, _json(record)))
            return int(cursor.lastrowid or 0)

    def decisions(self, name: str) -> list[dict[str, Any]]:
        """Every decision recorded for ``name``, oldest first, each with its ``id`` and
        ``time``."""
        with self._connect() as db:
            rows = db.execute("SELECT id, time, record FROM decisions WHERE name = ? ORDER BY id",
                              (name,)).fetchall()
            if not rows:
                self._versions(db, name)
        return [{**_from_json(record), "id": number, "time": time}
                for number, time, record in rows]

    def alias_version(self, name: str, alias: str) -> int | None:
        """The version ``name@alias`` points at, or None (no such registry, model or alias):
        one read-only SELECT that takes no write lock, cheap enough to poll every second."""
        if not self.path.is_file():
            return None
        connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=30)
        try:
            row = connection.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?",
                                     (name, alias)).fetchone()
        except sqlite3.DatabaseError as error:
            raise self._not_a_registry(error) from None
        finally:
            connection.close()
        return None if row is None else int(row[0])

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

    def _history(self, db: sqlite3.Connection, name: str,
                 alias: str | None) -> list[AliasMove]:
        self._versions(db, name)
        query = "SELECT * FROM history WHERE name = ?" + (" AND alias = ?" if alias else "")
        rows = db.execute(query + " ORDER BY id", (name, alias) if alias else (name,)).fetchall()
        if alias and not rows:
            self._alias_version(db, name, alias)  # an unknown alias is named, with its options
        return [AliasMove(number, model, moved, version, previous, time, kind, reason,
                          _from_json(evidence))
                for number, model, moved, version, previous, time, kind, reason, evidence
                in rows]

    @staticmethod
    def _move(db: sqlite3.Connection, name: str, alias: str, version: int | None, *, kind: str,
              reason: str, evidence: dict[str, Any] | None = None) -> int | None:
        """Point ``name@alias`` at ``version`` (None: remove it) and record the move, in the
        caller's transaction; the version it pointed at before."""
        _check_name(alias, "alias")
        if alias == "latest" or alias.isdigit():
            raise ConfigError(f"alias '{alias}': reserved (the newest version and version "
                              "numbers are named by NAME/VERSION); pick another, e.g. champion.")
        row = db.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?",
                         (name, alias)).fetchone()
        previous = None if row is None else int(row[0])
        if version is None:
            db.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))
        else:
            db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)", (name, alias, version))
        db.execute("INSERT INTO history (name, alias, version, previous, time, kind, reason, "
                   "evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (name, alias, version, previous, _now(), kind, " ".join(reason.split()),
                    _json(evidence or {})))
        return previous


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
    bundle = load_bundle(_check_unchanged(version), trust_pickle=trust_pickle)
    return bundle, {"run_dir": version.run_dir, "registered": {
        "name": version.name, "version": version.version, "aliases": list(version.aliases),
        "created": version.created}}


def _check_unchanged(version: ModelVersion, context: str = "") -> Path:
    """The version's bundle directory, refused (DataError, after ``context``) when its manifest
    is no longer the one registered."""
    from engine.deploy.bundle import find_bundle

    directory = find_bundle(Path(version.run_dir))
    if _manifest_digest(directory) != version.manifest_sha256:
        raise DataError(f"registry: {context}{version.name} version {version.version}'s bundle "
                        f"in {version.run_dir} changed after it was registered; register the run "
                        "again to serve it.")
    return directory


def _versions_held(moves: list[AliasMove]) -> list[int | None]:
    """The versions an alias has held, as a stack a rollback pops: each move pushes where it
    left the alias (None when removed), a rollback pops (:func:`_rolled_back`). The first
    move's ``previous`` (an alias pointed before history was kept) is the bottom."""
    held: list[int | None] = []
    if moves and moves[0].previous is not None:
        held.append(moves[0].previous)
    for move in moves:
        if move.kind == "rollback":
            held = _rolled_back(held)
        elif not held or held[-1] != move.version:
            held.append(move.version)
    return held


def _rolled_back(held: list[int | None]) -> list[int | None]:
    """``held`` after a rollback: the current version and any removals under it gone."""
    earlier = held[:-1]
    while earlier and earlier[-1] is None:
        earlier.pop()
    return earlier


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str)


def _from_json(text: str) -> dict[str, Any]:
    """A stored record; a NaN or infinity (a p-value of an empty comparison) reads as None, so
    ``history --json`` prints JSON any parser takes."""
    return dict(json.loads(text, parse_constant=lambda _: None))


def _manifest_digest(bundle_dir: Path) -> str:
    from engine.deploy.bundle import MANIFEST_FILE

    return hashlib.sha256((bundle_dir / MANIFEST_FILE).read_bytes()).hexdigest()


def _check_name(value: str, what: str) -> None:
    if not NAME_PATTERN.fullmatch(value):
        raise ConfigError(f"{what} '{value}': use letters, digits, '_', '.' and '-', starting "
                          "with a letter.")
