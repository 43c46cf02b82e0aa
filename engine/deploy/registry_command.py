"""``python -m engine registry ...``: register runs, point aliases, list and promote."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from engine.tracking.summary import make_console


def registry(args: Sequence[str]) -> None:
    """Register runs as model versions, point aliases at versions, list and promote."""
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
        console.print(f"{made.name}@{options.alias} -> version {made.version}", highlight=False)
    elif options.command == "delete-alias":
        store.delete_alias(options.name, options.alias)
        console.print(f"removed {options.name}@{options.alias}", highlight=False)
    elif options.command == "promote":
        made = store.promote(options.name, options.source, options.target)
        console.print(f"{made.name}@{options.target} -> version {made.version} (was "
                      f"{options.source})", highlight=False)
    else:
        table = Table(show_edge=False, header_style="bold")
        for column in ("name", "version", "aliases", "registered", "run directory"):
            table.add_column(column)
        for version in store.versions(options.name):
            table.add_row(version.name, str(version.version), ", ".join(version.aliases),
                          version.created, version.run_dir)
        console.print(table)
