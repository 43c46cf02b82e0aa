"""``python -m engine retrain NAME@ALIAS|LIFECYCLE_YAML [key=value ...] [--dry-run] [--force]``
runs one step of the loop; ``python -m engine lifecycle run ... [--every 1h] [--once]`` keeps it
going. Exit status: 0 promoted, nothing to do or waiting for labels; 1 the challenger was
rejected; 2 a mistake in the settings or the rows (one line, no alias moved); 130 Ctrl-C."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from engine.tracking.summary import make_console

INTERRUPTED_EXIT = 130
TARGET_HELP = ("a registered model as NAME@ALIAS (its run's lifecycle settings), or a lifecycle "
               "YAML file (the same keys plus model: NAME@ALIAS)")
OVERRIDES_HELP = "lifecycle settings to override, e.g. gate.alpha=0.01 triggers.when=[drift]"


def retrain(args: Sequence[str]) -> None:
    """One step: triggers, window, challenger, gate, decision."""
    from engine.arguments import OneLineErrors

    parser = OneLineErrors(
        prog="engine retrain",
        description="One step of the lifecycle: check the triggers on the rows new since the "
                    "last step, retrain the champion's config on the window, score champion and "
                    "challenger on the newest labelled rows and promote only a challenger "
                    "proven better. Exit 0 promoted, nothing to do or waiting for labels; 1 "
                    "rejected; 2 a mistake in the settings or the rows.")
    parser.add_argument("target", help=TARGET_HELP)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=OVERRIDES_HELP)
    parser.add_argument("--dry-run", action="store_true",
                        help="decide and record the decision, but move no alias")
    parser.add_argument("--force", action="store_true",
                        help="retrain whatever the triggers say (the manual trigger fires)")
    parser.add_argument("--registry", type=Path, help="the registry database (default: "
                        "$ENGINE_REGISTRY, else outputs/registry.db)")
    options = parser.parse_intermixed_args(args)
    from engine.deploy.registry import Registry
    from engine.lifecycle.settings import load_lifecycle
    from engine.lifecycle.step import run_step

    settings = load_lifecycle(options.target, options.overrides, registry=options.registry)
    console = make_console()
    outcome = run_step(settings, registry=Registry(settings.registry), console=console,
                       dry_run=options.dry_run, by_hand=True, force=options.force)
    console.print(f"{outcome.status}: {outcome.message}", highlight=False)
    if outcome.exit_status:
        sys.exit(outcome.exit_status)


def lifecycle(args: Sequence[str]) -> None:
    """``lifecycle run``: the loop."""
    from engine.arguments import OneLineErrors

    top = OneLineErrors(
        prog="engine lifecycle",
        description="Keep a deployed model fresh: run a retraining step every interval on a "
                    "folder or table that grows. A restart resumes without retraining twice.")
    top.add_argument("command", choices=["run"], help="run: loop the steps of retrain "
                                                      "(engine lifecycle run --help)")
    top.parse_args(args[:1])
    run = OneLineErrors(prog="engine lifecycle run", description="Run a step of retrain every "
                        "interval; exit 130 on Ctrl-C.")
    run.add_argument("target", help=TARGET_HELP)
    run.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=OVERRIDES_HELP)
    run.add_argument("--every", default="1h",
                     help="time between steps: 30s, 15m, 1h (default) or 1d")
    run.add_argument("--once", action="store_true", help="run one step and exit with its status")
    run.add_argument("--registry", type=Path, help="the registry database (default: "
                     "$ENGINE_REGISTRY, else outputs/registry.db)")
    options = run.parse_intermixed_args(args[1:])
    from engine.deploy.registry import Registry
    from engine.lifecycle.loop import parse_interval, run_loop
    from engine.lifecycle.settings import load_lifecycle

    every = parse_interval(options.every)
    settings = load_lifecycle(options.target, options.overrides, registry=options.registry)
    try:
        outcome = run_loop(settings, registry=Registry(settings.registry),
                           console=make_console(), every=every, once=options.once)
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C): the loop stopped; run it again to resume (a step cut short "
              "reuses its trained challenger).", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)
    if outcome.exit_status:
        sys.exit(outcome.exit_status)
