"""Run every command of README.md, in order, and check the output it shows.

    python -m tests.readme.runner [--keep DIR] [--timeout SECONDS]

The commands run in one bash session (so ``cd`` and an activated environment carry over), inside
a scratch copy of the checkout (tests/readme/scratch.py): the checkout, its environment and its
``outputs/`` are never touched, and a command that needs an earlier one's result (a run
directory, a registered model, a study) sees it, as a reader's would. Each code block starts in
the copy's root. How the README is read: tests/readme/markdown.py. What the runner changes (the
skips, the smaller budgets, the placeholders, the servers started in the background and probed)
is declared, each with its reason, in tests/readme/plan.py.

A command fails when it exits with another status than expected (0; 2 for a transcript whose
output starts with ``error:``, the engine's status for a user's mistake; or the status plan.py
declares for it) or when a line of the
output the README shows for it is missing from its real output. Which parts of a shown line are
compared (its stable words, not scores, timings or run directories) is the rule in
tests/readme/stable.py. The runner exits 1 when a command failed, naming it with its exit status
and the tail of its output, and prints the coverage (commands run of the README's total) and the
skip list at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.readme.markdown import Command, Item, Shown, read_readme
from tests.readme.plan import rewrite, unused
from tests.readme.scratch import PRELUDE, environment, make_scratch
from tests.readme.session import Outcome, Session
from tests.readme.shell import Shell, ShellError

REPOSITORY = Path(__file__).resolve().parents[2]
TAIL_LINES = 40


def readme_commands(items: list[Item]) -> list[str]:
    """Every distinct command the README's code blocks hold, in order (of two that are the same
    once rewritten, the first)."""
    commands = [item if isinstance(item, Command) else item.command for item in items
                if isinstance(item, Command | Shown)]
    distinct: dict[str, str] = {}
    for command in commands:
        distinct.setdefault(rewrite(command.text), command.text)
    return list(distinct.values())


def describe(outcome: Outcome) -> str:
    where = f"README line {outcome.command.line}"
    if outcome.skipped:
        return f"skip  {where}: {outcome.command.text}\n      ({outcome.skipped})"
    state = "FAIL" if outcome.failed else "ok  "
    return f"{state}  {outcome.seconds:6.1f} s  {where}: {outcome.ran}"


def report_failure(outcome: Outcome) -> str:
    tail = "\n".join(outcome.output.splitlines()[-TAIL_LINES:])
    problems = "\n".join(f"  {problem}" for problem in outcome.problems)
    return (f"\n=== FAILED: {outcome.ran or outcome.command.text} (README line "
            f"{outcome.command.line})\n  exit status {outcome.status}\n{problems}\n"
            f"--- last {TAIL_LINES} lines of its output ---\n{tail}")


def play(readme: Path, scratch: Path, timeout: float) -> list[Outcome]:
    """Run the README in ``scratch``; print each command's line and each failure's report."""
    items = read_readme(readme)
    checkout = make_scratch(REPOSITORY, scratch)
    logs = scratch / "logs"
    logs.mkdir()
    shell = Shell(checkout, environment(scratch), PRELUDE)
    session = Session(shell, checkout, logs, REPOSITORY, timeout=timeout)
    try:
        session.play(items)
    except ShellError:
        pass  # recorded on the command that broke the session
    finally:
        shell.close()
    outcomes = list(session.outcomes.values())
    for outcome in outcomes:
        print(describe(outcome))
    for outcome in outcomes:
        if outcome.failed:
            print(report_failure(outcome))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=REPOSITORY / "README.md")
    parser.add_argument("--keep", type=Path, help="run in this new folder and keep it (else in a "
                        "temporary one, removed at the end)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per command")
    args = parser.parse_args(argv)

    commands = readme_commands(read_readme(args.readme))
    stale = unused(commands)
    if stale:
        print("tests/readme/plan.py names what the README no longer has:\n  "
              + "\n  ".join(stale))
        return 1
    started = time.monotonic()
    if args.keep:
        args.keep.mkdir(parents=True)
        outcomes = play(args.readme, args.keep.resolve(), args.timeout)
    else:
        with tempfile.TemporaryDirectory(prefix="readme-") as scratch:
            outcomes = play(args.readme, Path(scratch), args.timeout)
    return summarise(commands, outcomes, time.monotonic() - started)


def summarise(commands: list[str], outcomes: list[Outcome], seconds: float) -> int:
    ran = [outcome for outcome in outcomes if not outcome.skipped]
    skipped = [outcome for outcome in outcomes if outcome.skipped]
    failed = [outcome for outcome in outcomes if outcome.failed]
    not_reached = len(commands) - len(outcomes)
    print(f"\nREADME commands: ran {len(ran)} of {len(commands)} "
          f"({100 * len(ran) / len(commands):.0f} %), skipped {len(skipped)}"
          + (f", not reached {not_reached}" if not_reached else "")
          + f"; {len(failed)} failed; {seconds / 60:.1f} min")
    for outcome in skipped:
        print(f"  skipped: {outcome.command.text}  ({outcome.skipped})")
    return 1 if failed or not_reached else 0


if __name__ == "__main__":
    sys.exit(main())
