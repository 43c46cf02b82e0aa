"""``python -m engine abtest LOG_ROOT [--control NAME] [--alpha 0.05] [--metric accuracy |
--outcome] [--split 90/10] [--tau T] [--json]``: an online experiment's verdict from its
prediction log. Exit status 0 whatever the verdict; 2 a mistake in the input (one line)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from engine.tracking.summary import make_console


def abtest(args: Sequence[str]) -> None:
    """Parse, read the log, judge, print (a table, or JSON with ``--json``)."""
    from engine.arguments import OneLineErrors, positive

    parser = OneLineErrors(
        prog="engine abtest",
        description="Judge an online experiment from the prediction log of a server answering "
                    "with several variants: rows and outcome metric per variant, each "
                    "challenger's difference from the control with an always-valid interval "
                    "and p-value (a mixture SPRT: valid however often you look), the guardrails "
                    "(sample ratio, latency p99, error rate, shadow agreement) and a verdict.")
    parser.add_argument("log", type=Path, help="the prediction log's folder (monitor.log.path)")
    parser.add_argument("--control", metavar="NAME",
                        help="the control variant's name (default: control)")
    parser.add_argument("--alpha", type=positive(float), default=0.05,
                        help="the test's error rate, under continuous peeking (default 0.05)")
    measure = parser.add_mutually_exclusive_group()
    measure.add_argument("--metric", choices=["accuracy"], default="accuracy",
                         help="judge the labels fed back: the share predicted right (default)")
    measure.add_argument("--outcome", action="store_true",
                         help="judge the outcomes fed back (a conversion, revenue): their mean")
    parser.add_argument("--split", metavar="P/P",
                        help="the declared split in percent, the control's share first, then "
                             "the challengers' in name order, e.g. 90/10 (checked for a sample "
                             "ratio mismatch; leave it out for a canary, whose share ramps)")
    parser.add_argument("--tau", type=positive(float), metavar="T",
                        help="the smallest difference worth detecting, in the metric's unit "
                             "(default: 0.05 of the outcome's standard deviation)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    options = parser.parse_args(args)
    from engine.abtest.analysis import Settings, analyse, parse_split
    from engine.abtest.console import print_result
    from engine.abtest.experiment_log import read_experiment
    from engine.errors import ConfigError

    if options.alpha >= 1:
        raise ConfigError(f"abtest --alpha {options.alpha:g}: expected a probability below 1, "
                          "e.g. --alpha 0.05.")
    settings = Settings(control=options.control, alpha=options.alpha,
                        metric="outcome" if options.outcome else "accuracy",
                        split=parse_split(options.split) if options.split else None,
                        tau=options.tau)
    result = analyse(read_experiment(options.log), settings)
    if options.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_result(make_console(), result, options.log)
