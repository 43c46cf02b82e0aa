"""``python -m engine registry ...``: register runs, point aliases, list, promote, roll back and
show the aliases' history."""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.tracking.summary import make_console

if TYPE_CHECKING:
    from rich.console import Console

    from engine.deploy.registry import Registry


def registry(args: Sequence[str]) -> None:
    """Register runs as model versions, point aliases at versions, list, promote, roll back and
    show the history of alias moves and gate decisions."""
    parser = argparse.ArgumentParser(
        prog="engine registry",
        description="A local model registry (SQLite): versions of named models and aliases such "
                    "as champion and challenger, as MLflow names them. Serve one with python -m "
                    "engine serve NAME@ALIAS.",
    )
    parser.add_argument("--registry", type=Path, help="the registry database (default: "
                        "$ENGINE_REGISTRY, else outputs/registry.db)")
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="register a run as the next version")
    register.add_argument("run", type=Path, help="a run directory")
    register.add_argument("name", help="the model's name, e.g. churn")
    register.add_argument("--alias", help="also point this alias at the new version")
    register.add_argument("--description", default="")
    listing = commands.add_parser("list", help="list models, versions and aliases")
    listing.add_argument("name", nargs="?")
    alias = commands.add_parser("alias", help="point NAME@ALIAS at a version")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", type=int)
    unalias = commands.add_parser("delete-alias", help="remove an alias")
    unalias.add_argument("name")
    unalias.add_argument("alias")
    promote = commands.add_parser(
        "promote", help="point one alias at the version another names (default: challenger "
                        "becomes champion)")
    promote.add_argument("name")
    promote.add_argument("--from", dest="source", default="challenger")
    promote.add_argument("--to", dest="target", default="champion")
    rollback = commands.add_parser(
        "rollback", help="put back the version an alias pointed at before its current one")
    rollback.add_argument("name")
    rollback.add_argument("--alias", default="champion")
    rollback.add_argument("--reason", default="", help="why, kept in the history")
    history = commands.add_parser(
        "history", help="every alias move (time, from -> to, kind, reason) and gate decision")
    history.add_argument("name")
    history.add_argument("--alias", help="only this alias's moves")
    history.add_argument("--json", action="store_true",
                         help="print the moves and decisions as JSON, for scripts")
    options = parser.parse_args(args)
    from rich.table import Table

    from engine.deploy.registry import Registry

    store, console = Registry(options.registry), make_console()
    if options.command == "register":
        made = store.register(options.run, options.name, description=options.description,
                              alias=options.alias)
        console.print(f"registered {made.name} version {made.version} from {made.run_dir}"
                      + (f" as {made.name}@{options.alias}" if options.alias else ""),
                      highlight=False)
    elif options.command == "alias":
        made = store.set_alias(options.name, options.alias, options.version)
        console.print(f"{made.name}@{options.alias} -> version {made.version}; recorded as "
                      "manual, no gate", highlight=False)
    elif options.command == "delete-alias":
        store.delete_alias(options.name, options.alias)
        console.print(f"removed {options.name}@{options.alias}", highlight=False)
    elif options.command == "promote":
        made = store.promote(options.name, options.source, options.target)
        console.print(f"{made.name}@{options.target} -> version {made.version} (was "
                      f"{options.source}); recorded as manual, no gate", highlight=False)
    elif options.command == "rollback":
        made = store.rollback(options.name, options.alias, reason=options.reason)
        move = [move for move in store.history(options.name, options.alias)
                if move.kind == "rollback"][-1]
        left = "its removal" if move.previous is None else f"version {move.previous}"
        console.print(f"{made.name}@{options.alias} -> version {made.version} (rolled back from "
                      f"{left})", highlight=False)
    elif options.command == "history":
        show_history(store, options.name, options.alias, as_json=options.json, console=console)
    else:
        table = Table(show_edge=False, header_style="bold")
        for column in ("name", "version", "aliases", "registered", "run directory"):
            table.add_column(column)
        for version in store.versions(options.name):
            table.add_row(version.name, str(version.version), ", ".join(version.aliases),
                          version.created, version.run_dir)
        console.print(table)


def show_history(store: Registry, name: str, alias: str | None, *, as_json: bool,
                 console: Console) -> None:
    """The alias moves (oldest first) and the gate decisions of ``name``: a table, or JSON
    (``{"moves": [...], "decisions": [...]}``)."""
    from rich.table import Table

    moves, decisions = store.history(name, alias), store.decisions(name)
    if as_json:
        print(json.dumps({"moves": [asdict(move) for move in moves], "decisions": decisions},
                         indent=2, default=str))
        return
    if moves:
        table = Table(show_edge=False, header_style="bold")
        for column in ("time", "alias", "from -> to", "kind", "reason"):
            table.add_column(column, no_wrap=column != "reason")
        for move in moves:
            table.add_row(move.time, move.alias,
                          f"{_shown(move.previous)} -> {_shown(move.version)}", move.kind,
                          move.reason)
        console.print(table)
    else:
        console.print(f"{name}: no alias moves recorded"
                      + (f" for {alias}" if alias else ""), highlight=False)
    if decisions:
        table = Table(show_edge=False, header_style="bold")
        for column in ("decided", "outcome", "champion vs challenger", "evidence"):
            table.add_column(column, no_wrap=column != "evidence")
        for record in decisions:
            table.add_row(*_decision_row(record))
        console.print(table)
        console.print("(each decision's full record: --json)", highlight=False)


def _decision_row(record: dict[str, Any]) -> tuple[str, str, str, str]:
    """A gate decision as the lifecycle records it (engine.lifecycle.step), in one row: why it
    was rejected, or what the promoted challenger measured."""
    gate = record.get("gate") or {}
    measured = f"{gate['metric']} {gate['difference']:+.4g}, p={gate['p_value']:.3g}" if all(
        gate.get(key) is not None for key in ("metric", "difference", "p_value")) else ""
    versions = [(record.get(side) or {}).get("version") for side in ("champion", "challenger")]
    return (_to_seconds(str(record["time"])),
            str(record.get("outcome", "")) + (" (dry run)" if record.get("dry_run") else ""),
            f"{_shown(versions[0])} vs {_shown(versions[1])}",
            "; ".join(record.get("reasons") or []) or measured)


def _to_seconds(time: str) -> str:
    """An ISO-8601 time to the second, as the moves are written (a decision's own clock may
    keep microseconds)."""
    try:
        return datetime.datetime.fromisoformat(time).isoformat(timespec="seconds")
    except ValueError:
        return time


def _shown(version: int | None) -> str:
    return "-" if version is None else str(version)
