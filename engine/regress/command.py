"""``python -m engine regress SUITE [--against REF | --baseline PATH] [--update-baseline]``:
parse the arguments and hand them to the gate (a recorded baseline) or to the side-by-side
comparison (``--against``)."""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.tracking.summary import make_console


def regress(args: Sequence[str]) -> None:
    """Run a regression suite; exit 0 (nothing regressed), 1 (something did), 2 (bad input) or
    3 (with --against, the base failed)."""
    parser = argparse.ArgumentParser(
        prog="engine regress",
        description="Run the experiments of a suite (sweeps/<name>.yaml), compare each guarded "
                    "metric with the baseline, or with the base commit run side by side "
                    "(--against), and exit 0 (nothing regressed), 1 (something regressed or "
                    "failed), 2 (the suite or the ref is wrong) or 3 (the base failed).",
    )
    parser.add_argument("suite", type=Path, help="a suite file, e.g. sweeps/ci.yaml")
    parser.add_argument("--against", metavar="REF",
                        help="compare with the merge-base of HEAD and REF (origin/main, a "
                             "commit, HEAD~1), run side by side in this job; timings are judged "
                             "only this way")
    parser.add_argument("--baseline", type=Path,
                        help="the baseline JSON (default: the suite's, sweeps/baselines/<name>."
                             "json)")
    parser.add_argument("--update-baseline", action="store_true",
                        help="record this run as the baseline (after a deliberate change)")
    parser.add_argument("-o", "--output", type=Path,
                        help="where runs, regress.md, junit.xml and results.json go (default "
                             "outputs/regress/<suite>/<time>)")
    parser.add_argument("--cache", type=Path,
                        help="with --against: where the base's worktree, environment and scores "
                             "are kept by commit (default outputs/regress/cache)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override added to every experiment (repeatable), to see what "
                             "a change would do to the whole suite, e.g. --set features=ordinal")
    parser.add_argument("-j", "--jobs", type=int,
                        help="experiments at a time (default: the suite's jobs, else one per "
                             "core)")
    options = parser.parse_args(args)
    from engine.errors import ConfigError
    from engine.tracking.files import default_output_dir

    if options.jobs is not None and options.jobs < 1:
        raise ConfigError(f"regress --jobs: expected at least 1; got {options.jobs}.")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    output = options.output or default_output_dir() / "regress" / options.suite.stem / stamp
    if options.against is None:
        from engine.regress.gate import run_gate

        sys.exit(run_gate(options.suite, baseline_path=options.baseline,
                          update_baseline=options.update_baseline, output_dir=output,
                          project_dir=Path.cwd(), jobs=options.jobs, console=make_console(),
                          extra_overrides=tuple(options.set)))
    for flag, given in (("--baseline", options.baseline), ("--update-baseline",
                                                           options.update_baseline)):
        if given:
            raise ConfigError(f"regress: {flag} and --against {options.against} exclude each "
                              f"other: --against compares with the base commit run now, not "
                              f"with a recorded baseline. Drop one of them.")
    from engine.regress.against import run_against

    # Absolute: the base's own regress runs with its worktree as the working directory.
    cache = (options.cache or default_output_dir() / "regress" / "cache").resolve()
    sys.exit(run_against(options.suite, options.against, output_dir=output.resolve(), cache=cache,
                         jobs=options.jobs, console=make_console(),
                         extra_overrides=tuple(options.set)))
