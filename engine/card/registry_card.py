"""The registry's copy of each version's card: the bundle's card (whose bytes never change)
with its metadata naming the registered model and version, and a history section from the
registry's own records (alias moves and gate decisions touching the version).

The registry rewrites the copies of the versions a transaction changed (registered, an alias
moved to or from them, judged in a decision: :func:`change_mark`, :func:`changed_versions`), so
registration, ``promote``, ``rollback``, alias moves, the lifecycle's gate and ``abtest
--promote`` all keep them current. They live beside the registry database: ``registry.db`` keeps
``registry.cards/NAME/VERSION/MODEL_CARD.md``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine.card import CARD_FILE
from engine.card.bundle_card import registered_card
from engine.card.markdown import cell_text, code, prose, table
from engine.card.metadata import join_front_matter, split_front_matter
from engine.errors import EngineError
from engine.tracking.files import write_text

if TYPE_CHECKING:
    from engine.deploy.registry import AliasMove, ModelVersion, Registry

Mark = tuple[int, int, int]
"""The newest row of ``versions``, ``history`` and ``decisions`` when a transaction began."""
HISTORY_HEADING = "## Registry history"


def card_path(registry_path: Path, name: str, version: int) -> Path:
    return registry_path.with_name(f"{registry_path.stem}.cards") / name / str(version) / CARD_FILE


def registry_card(registry: Registry, version: ModelVersion) -> str:
    """The registry's copy of ``version``'s card; made (and kept) when it has none yet."""
    stored = card_path(registry.path, version.name, version.version)
    if stored.is_file():
        return stored.read_text(encoding="utf-8")
    return write_registry_card(registry, version)


def write_registry_card(registry: Registry, version: ModelVersion) -> str:
    """Make and keep ``version``'s card from its bundle's verified card and its history; a
    bundle changed since registration is refused (DataError)."""
    what = f"{version.name} version {version.version}"
    metadata, body = split_front_matter(
        registered_card(Path(version.run_dir), version.manifest_sha256, what))
    index = metadata.get("model-index") or [{}]
    index[0]["name"] = version.name
    metadata.update({"model_version": str(version.version), "model-index": index,
                     "registered": {"name": version.name, "version": version.version,
                                    "created": version.created,
                                    "aliases": list(version.aliases)}})
    moves = [move for move in registry.history(version.name)
             if version.version in (move.version, move.previous)]
    decisions = [decision for decision in registry.decisions(version.name)
                 if version.version in _versions_judged(decision)]
    text = join_front_matter(yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True),
                             body.rstrip() + "\n\n" + history_section(version, moves, decisions))
    write_text(card_path(registry.path, version.name, version.version), text)
    return text


def history_section(version: ModelVersion, moves: list[AliasMove],
                    decisions: list[dict[str, Any]]) -> str:
    aliases = ", ".join(code(alias) for alias in version.aliases) or "none"
    lines = [HISTORY_HEADING, "",
             f"- registered as {code(f'{version.name}/{version.version}')} on "
             f"{code(version.created)}"
             + (f": {prose(version.description)}" if version.description else ""),
             f"- aliases now: {aliases}", ""]
    if moves:
        lines += [table(["time", "alias", "move", "kind", "reason"], [
            [code(move.time), code(move.alias), _move(move, version.version), code(move.kind),
             cell_text(move.reason) or "–"] for move in moves]), ""]
    else:
        lines += ["No alias has pointed at this version yet.", ""]
    if decisions:
        lines += ["Decisions:", "", table(["time", "outcome", "champion", "challenger", "why"], [
            [code(decision.get("time")), code(decision.get("outcome")),
             code((decision.get("champion") or {}).get("version")),
             code((decision.get("challenger") or {}).get("version")),
             cell_text("; ".join(map(str, decision.get("reasons") or []))) or "–"]
            for decision in decisions]), ""]
    return "\n".join(lines)


def _move(move: AliasMove, version: int) -> str:
    if move.version == version:
        moved = move.previous is not None and move.previous != version
        return "to this version" + (f" from {move.previous}" if moved else "")
    return f"away, to {move.version}" if move.version is not None else "removed"


def _versions_judged(decision: dict[str, Any]) -> set[Any]:
    return {(decision.get(role) or {}).get("version") for role in ("champion", "challenger")}


def refresh_cards(registry: Registry, changed: set[tuple[str, int]]) -> None:
    """Rewrite the copies of the ``(name, version)`` pairs a transaction changed. A version
    whose bundle is gone or changed keeps no copy: asking for its card names the problem. The
    change itself is committed already, so a card that cannot be written (a read-only folder)
    does not undo it: ``card NAME@ALIAS`` makes it again when asked."""
    for name, number in sorted(changed):
        try:
            write_registry_card(registry, registry.version(name, number))
        except (EngineError, OSError):
            with contextlib.suppress(OSError):
                card_path(registry.path, name, number).unlink(missing_ok=True)


def change_mark(db: sqlite3.Connection) -> Mark:
    row = db.execute("SELECT (SELECT IFNULL(MAX(rowid), 0) FROM versions), "
                     "(SELECT IFNULL(MAX(id), 0) FROM history), "
                     "(SELECT IFNULL(MAX(id), 0) FROM decisions)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def changed_versions(db: sqlite3.Connection, mark: Mark) -> set[tuple[str, int]]:
    """The ``(name, version)`` pairs whose card a transaction changed since ``mark``: a version
    registered, both ends of an alias move (each version's aliases are on its card), and the
    champion and challenger of a decision. Only those are rewritten: a step of the lifecycle
    loop touches two or three versions, however many the model has."""
    if change_mark(db) == mark:
        return set()
    versions, moves, decisions = mark
    changed = {(name, int(number)) for name, number in db.execute(
        "SELECT name, version FROM versions WHERE rowid > ? UNION "
        "SELECT name, version FROM history WHERE id > ? AND version IS NOT NULL UNION "
        "SELECT name, previous FROM history WHERE id > ? AND previous IS NOT NULL",
        (versions, moves, moves))}
    for name, record in db.execute("SELECT name, record FROM decisions WHERE id > ?",
                                   (decisions,)):
        judged = _versions_judged(json.loads(record))
        changed |= {(name, int(number)) for number in judged if isinstance(number, int)}
    return changed
