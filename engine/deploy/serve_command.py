"""``python -m engine serve MODEL [MODEL ...]``: a run's bundle, or a registered version, over
HTTP; several of them as an online experiment (an A/B split, a canary, a shadow), declared by
flags or in a YAML file (``serve --experiment FILE``)."""

from __future__ import annotations

import argparse
import math
import os
import socket
from collections.abc import Sequence
from pathlib import Path

from engine.arguments import OneLineErrors, port_number, positive
from engine.tracking.summary import make_console


def serve(args: Sequence[str]) -> None:
    """Serve a run's model bundle (or a registered version) over HTTP."""
    keep_alive_s = 5  # uvicorn's default, stated: a client idle this long is disconnected
    parser = OneLineErrors(
        prog="engine serve",
        description="Serve a model over HTTP with FastAPI on uvicorn: POST /invocations (MLflow's "
                    "formats), POST /predict, POST /feedback, GET /health, /ready, /metadata, "
                    "/metrics; the "
                    "OpenAPI docs at /docs.",
    )
    parser.add_argument("model", nargs="*",
                        help="a run directory, or a registered model as NAME@ALIAS or "
                             "NAME/VERSION (e.g. churn@champion); NAME@ALIAS follows the alias "
                             "as it moves (--follow). Several: an A/B experiment (--split), "
                             "the first the control, each alias pinned to its version now. "
                             "None with --experiment FILE")
    variants = parser.add_argument_group(
        "online experiment", "variants answer by a seeded hash of --key (a request without it: "
                             "at random); the answer and the prediction log name each row's "
                             "variant and version")
    variants.add_argument("--experiment", type=Path, metavar="FILE",
                          help="a YAML file declaring the experiment instead of MODEL and the "
                               "flags below: an experiment block with variants, split, key, "
                               "seed, shadow, canary, ramp")
    variants.add_argument("--split", metavar="P/P[/P...]",
                          help="each model's percentage of keys, summing to 100 (e.g. 90/10)")
    variants.add_argument("--key", help="the column whose value picks a row's variant (an "
                                        "input column, or an id the training dropped)")
    variants.add_argument("--seed", type=int,
                          help="the assignment's seed: the same seed puts a key on the same "
                               "variant in every process (default 0)")
    variants.add_argument("--shadow", metavar="MODEL",
                          help="a model fed the same rows after the live answer, on a thread "
                               "of its own; its answers are logged (variant shadow:MODEL), "
                               "never returned")
    variants.add_argument("--canary", metavar="MODEL",
                          help="a model taking a growing share of keys from the control "
                               "(keys only ever move to the canary), by --ramp")
    variants.add_argument("--ramp", metavar="P,P,...@STEP",
                          help="the canary's shares and how long each lasts, e.g. "
                               "5,25,50@10m (s, m, h, d)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (0.0.0.0 for all)")
    parser.add_argument("--port", type=port_number, default=8080,
                        help="0 to 65535 (0: any free one)")
    parser.add_argument("--max-body-mb", type=positive(float), default=10.0,
                        help="largest request body in MB, however it is sent (413 above it)")
    parser.add_argument("--max-rows", type=positive(int), default=10_000,
                        help="most rows in one request (413 above it)")
    parser.add_argument("--max-cell-chars", type=positive(int), default=65_536,
                        help="longest text in one cell or column name (413 above it)")
    parser.add_argument("--timeout", type=positive(float), default=60.0, metavar="SECONDS",
                        help="a request's body must arrive (408) and its answer come (503) "
                             f"within this; a connection idle for {keep_alive_s} s (or not "
                             "sending its request's headers) is closed")
    parser.add_argument("--token", default=os.environ.get("ENGINE_SERVE_TOKEN"),
                        help="require 'Authorization: Bearer TOKEN' on every endpoint but "
                             "/health (401 otherwise); default $ENGINE_SERVE_TOKEN")
    parser.add_argument("--registry", type=Path, help="the registry database (default: "
                        "$ENGINE_REGISTRY, else outputs/registry.db)")
    parser.add_argument("--follow", type=not_negative, default=2.0, metavar="SECONDS",
                        help="serving NAME@ALIAS, read the alias this often and swap to the "
                             "version it names when it moves (promotion, rollback), without a "
                             "restart; 0 keeps the version the server started with (default 2)")
    parser.add_argument("--strict", action="store_true",
                        help="answer 422 to rows with extra columns or categories unseen in "
                             "training, instead of predicting them with warnings")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="load a bundle an older engine pickled (pipeline.joblib); loading a "
                             "pickle can run any code in it, so only for a bundle you trust")
    logging = parser.add_mutually_exclusive_group()
    logging.add_argument("--log", type=Path, metavar="DIR",
                         help="write the prediction log (and /feedback's labels) to DIR (default: "
                              "the model's monitor.log.path, else RUN/prediction_log)")
    logging.add_argument("--no-log", action="store_true",
                         help="log nothing (the log is on by default; /feedback answers 409)")
    options = parser.parse_args(args)
    if options.token is not None and not options.token.strip():
        parser.error("argument --token: the token is empty; give one, or leave it out")
    declared = [flag for flag, given in [("MODEL", options.model), *(
        (f"--{name}", getattr(options, name)) for name in EXPERIMENT_FLAGS)]
        if given not in (None, [])]
    if options.experiment is not None and declared:
        parser.error(f"argument --experiment: the file declares the experiment; leave out "
                     f"{', '.join(declared)} (or leave out --experiment and declare it by flags)")
    if options.experiment is None and not options.model:
        parser.error("give a MODEL to serve (a run directory, NAME@ALIAS or NAME/VERSION), or "
                     "--experiment FILE")
    import uvicorn

    from engine.deploy.connection import GuardedConnection
    from engine.deploy.model_follower import followed_alias
    from engine.deploy.registry import resolve_model
    from engine.deploy.server import Limits, create_app
    from engine.deploy.variant_plan import plan_declared, plan_experiment, read_experiment_file

    if options.experiment is not None:
        block = read_experiment_file(options.experiment)
        served = block.variants[0]
        experiment = plan_declared(block, registry=options.registry,
                                   trust_pickle=options.trust_pickle)
    else:
        served = options.model[0]
        experiment = plan_experiment(
            options.model, split=options.split, canary=options.canary, ramp=options.ramp,
            key=options.key, shadow=options.shadow,
            seed=0 if options.seed is None else options.seed, registry=options.registry,
            trust_pickle=options.trust_pickle)
    if experiment is None:
        bundle, lineage = resolve_model(served, options.registry,
                                        trust_pickle=options.trust_pickle)
    else:
        bundle, lineage = experiment.variants[0].bundle, experiment.variants[0].lineage
    limits = Limits(max_body_bytes=int(options.max_body_mb * 1024 * 1024),
                    max_rows=options.max_rows, max_cell_chars=options.max_cell_chars,
                    timeout_s=options.timeout)
    follow = None if experiment else followed_alias(served, options.registry, options.follow)
    app = create_app(bundle, lineage=lineage, limits=limits, strict=options.strict,
                     token=options.token, log=False if options.no_log else options.log or True,
                     follow=follow, trust_pickle=options.trust_pickle, experiment=experiment)
    listening = _listen(options.host, options.port)
    port = listening.getsockname()[1]
    make_console(stderr=True).print(
        f"serving {bundle.metadata.model} from {bundle.directory} at "
        f"http://{options.host}:{port} (OpenAPI docs at /docs)"
        + (f", following {follow.name}@{follow.alias} from version "
           f"{lineage['registered']['version']} (read every {follow.every_s:g} s)"
           if follow else "")
        + (f"; {experiment.describe()}" if experiment else "")
        + (", bearer token required" if options.token else "")
        + (f"; logging predictions to {app.state.log_root}" if app.state.log_root else
           "; not logging predictions"), highlight=False, soft_wrap=True)
    uvicorn.Server(uvicorn.Config(app, http=GuardedConnection, log_level="warning",
                                  timeout_keep_alive=keep_alive_s)).run(sockets=[listening])


EXPERIMENT_FLAGS = ("split", "key", "seed", "shadow", "canary", "ramp")
"""The flags an experiment file declares in their place."""


def not_negative(text: str) -> float:
    """An argparse type: a finite number of seconds, 0 or more."""
    number = float(text)
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of seconds, 0 or more")
    return number


not_negative.__name__ = "seconds"  # argparse's "invalid seconds value: 'abc'"


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before uvicorn starts, so a taken port is one line (exit 2)."""
    from engine.errors import EngineError

    try:
        return socket.create_server((host, port))
    except OSError as error:
        raise EngineError(
            f"serve --host {host} --port {port}: cannot listen there ({error.strerror}). "
            "Choose another port (e.g. --port 0 for any free one), or stop what holds it."
        ) from None
