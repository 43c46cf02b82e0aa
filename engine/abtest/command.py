"""``python -m engine abtest LOG_ROOT|http://HOST:PORT [--control NAME] [--alpha 0.05]
[--metric accuracy | --outcome] [--split 90/10] [--tau T] [--json] [--promote [--registry PATH]
[--alias champion] [--model NAME]]``: an online experiment's verdict from its prediction log,
or from a running server's (its ``/metadata`` names the log and the declared split).

Exit status, for a cron job or a CI step: 0 "stop and adopt" (with ``--promote``: the winner
was moved to the alias) or "keep running" (nothing to do yet); 1 "stop and reject" (every
challenger lost, or a guardrail or the split broke: someone should stop the experiment); 2 a
mistake in the input, or a promotion refused (one line, nothing moved). A script that needs to
tell "adopt" from "keep running" reads ``verdict`` from ``--json``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.tracking.summary import make_console

EXIT_STATUS = {"stop and adopt": 0, "keep running": 0, "stop and reject": 1}
EXIT_HELP = ("Exit 0: stop and adopt (with --promote, the winner moved) or keep running; 1: stop "
             "and reject; 2: a mistake in the input, or a promotion refused (nothing moved).")


def abtest(args: Sequence[str]) -> None:
    """Parse, read the log, judge, print (a table, or JSON with ``--json``), promote."""
    from engine.arguments import OneLineErrors, positive

    parser = OneLineErrors(
        prog="engine abtest",
        description="Judge an online experiment from the prediction log of a server answering "
                    "with several variants: rows and outcome metric per variant, each "
                    "challenger's difference from the control with an always-valid interval "
                    "and p-value (a mixture SPRT: valid however often you look), the guardrails "
                    "(sample ratio, latency p99, error rate, shadow agreement) and a verdict. "
                    + EXIT_HELP)
    parser.add_argument("log", metavar="LOG|URL",
                        help="the prediction log's folder (monitor.log.path, serve --log), or "
                             "the server's URL (http://HOST:PORT: its /metadata names the log "
                             "and the declared split)")
    parser.add_argument("--token", default=os.environ.get("ENGINE_SERVE_TOKEN"),
                        help="the server's bearer token (default $ENGINE_SERVE_TOKEN)")
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
                             "ratio mismatch; leave it out for a canary, whose share ramps; "
                             "a server's URL declares its own)")
    parser.add_argument("--tau", type=positive(float), metavar="T",
                        help="the smallest difference worth detecting, in the metric's unit "
                             "(default: 0.05 of the outcome's standard deviation)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    promotion = parser.add_argument_group(
        "promotion", "with --promote, a stop decision is recorded in the registry with the "
                     "analysis as evidence, and an adopted challenger's registered version "
                     "becomes NAME@ALIAS (the alias left is kept as NAME@previous)")
    promotion.add_argument("--promote", action="store_true",
                           help="act on the verdict in the registry")
    promotion.add_argument("--registry", type=Path, help="the registry database (default: "
                           "$ENGINE_REGISTRY, else outputs/registry.db)")
    promotion.add_argument("--alias", default="champion",
                           help="the alias the winner moves to (default champion)")
    promotion.add_argument("--model", metavar="NAME",
                           help="the registered model the variants are versions of (default: "
                                "the one the server pinned, else the log's _registered, else "
                                "its _model)")
    options = parser.parse_args(args)
    from engine.abtest.analysis import Settings, analyse, parse_split
    from engine.abtest.console import print_result
    from engine.abtest.experiment_log import read_experiment
    from engine.abtest.server_experiment import is_server, read_served_experiment
    from engine.errors import ConfigError

    if options.alpha >= 1:
        raise ConfigError(f"abtest --alpha {options.alpha:g}: expected a probability below 1, "
                          "e.g. --alpha 0.05.")
    split = parse_split(options.split) if options.split else None
    log, control, served_names = Path(options.log), options.control, {}
    if is_server(options.log):
        served = read_served_experiment(options.log, options.token)
        log, served_names = served.log, served.names
        control = control or served.control
        split = split or served.split
    settings = Settings(control=control, alpha=options.alpha,
                        metric="outcome" if options.outcome else "accuracy", split=split,
                        tau=options.tau)
    frame = read_experiment(log)
    result = analyse(frame, settings)
    if options.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print_result(make_console(), result, log)
    if options.promote:
        from engine.abtest.promotion import Promotion, promote
        from engine.deploy.registry import Registry

        target = Promotion(Registry(options.registry), name=options.model,
                           served_names=served_names, alias=options.alias)
        print(promote(result, frame, target, log=str(log.resolve())),
              file=sys.stderr if options.json else sys.stdout)
    if EXIT_STATUS[result.verdict]:
        sys.exit(EXIT_STATUS[result.verdict])
