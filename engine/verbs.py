"""The word commands: ``python -m engine predict RUN INPUT [-o OUT] [--what-if COLUMN=VALUE]``,
``python -m engine compare RUN_A RUN_B [--metric NAME]``, ``python -m engine report DIR`` and
``python -m engine regress SUITE [--baseline PATH] [--update-baseline]``."""

from __future__ import annotations

import argparse
import math
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from engine.tracking.summary import make_console

if TYPE_CHECKING:
    import pandas as pd

    from engine.deploy.bundle import Bundle


def run_verb(verb: str, args: Sequence[str]) -> None:
    """Run one verb with its own arguments."""
    {"predict": predict, "compare": compare, "report": report, "regress": regress,
     "serve": serve, "registry": registry, "schema": schema, "monitor": monitor}[verb](args)


def monitor(args: Sequence[str]) -> None:
    """Judge new rows (a file, or the prediction log) against a model's reference profile."""
    from engine.monitoring.command import monitor as run_monitor

    run_monitor(args)


def predict(args: Sequence[str]) -> None:
    """Predict a file of rows with a run's model bundle."""
    parser = argparse.ArgumentParser(
        prog="engine predict",
        description="Predict rows from a CSV or Parquet file with a trained run's model bundle.",
    )
    parser.add_argument("run", type=Path, help="a run directory (or its model/ bundle)")
    parser.add_argument("input", type=Path, help="rows to predict: .csv or .parquet")
    parser.add_argument(
        "-o", "--output", type=Path,
        help="where to write predictions (.csv or .parquet); default RUN/predictions/INPUT.csv",
    )
    parser.add_argument(
        "--strict", action="store_true",
        help="treat extra columns and categories unseen in training as errors (exit 2) instead "
             "of warnings",
    )
    parser.add_argument(
        "--keep", default="", metavar="COLUMNS",
        help="input columns to copy into the output, comma-separated (e.g. an id: --keep id)",
    )
    parser.add_argument(
        "--what-if", action="append", default=[], metavar="COLUMN=VALUE",
        help="also predict each row with COLUMN set to VALUE (repeatable; COLUMN= for missing) "
             "and show how far the predictions move",
    )
    parser.add_argument("--trust-pickle", action="store_true",
                        help="load a bundle an older engine pickled (pipeline.joblib); loading a "
                             "pickle can run any code in it, so only for a bundle you trust")
    parser.add_argument("--log", nargs="?", const=True, type=Path, metavar="DIR",
                        help="also write the rows and predictions to the prediction log (one "
                             "request id for the file), in DIR or where the model's "
                             "monitor.log.path says (default RUN/prediction_log)")
    options = parser.parse_args(args)
    from engine.deploy.batch_predict import check_output_path, predict_rows, read_rows, write_rows
    from engine.deploy.bundle import load_bundle
    from engine.deploy.what_if import parse_changes, what_if

    console = make_console(stderr=True)
    output = check_output_path(
        options.output or options.run / "predictions" / f"{options.input.stem}.csv"
    )
    bundle = load_bundle(options.run, trust_pickle=options.trust_pickle)
    rows = read_rows(options.input, bundle.metadata.reading)
    keep = [column for column in options.keep.split(",") if column]
    summary = ""
    if options.what_if:
        changes = parse_changes(options.what_if, bundle.schema)
        predictions, warnings, summary = what_if(bundle, rows, changes, strict=options.strict,
                                                 keep=keep)
    else:
        predictions, warnings = predict_rows(bundle, rows, strict=options.strict, keep=keep)
    for warning in warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}")
    write_rows(predictions, output)
    console.print(f"predicted {len(predictions)} rows with {bundle.metadata.model} -> {output}")
    if options.log:
        console.print(_log_batch(bundle, rows, predictions,
                                 None if options.log is True else options.log), highlight=False)
    if summary:
        console.print(summary, highlight=False)


def _log_batch(bundle: Bundle, rows: pd.DataFrame, predictions: pd.DataFrame,
               root: Path | None) -> str:
    """Write a predicted file to the prediction log as one request; the line saying where."""
    import uuid

    from engine.monitoring.prediction_log import bundle_monitor, open_log

    settings, _ = bundle_monitor(bundle)
    log = open_log(bundle, settings.log, root=root)
    request_id = str(uuid.uuid4())
    answer = ["prediction", *(f"proba_{label}" for label in bundle.metadata.classes
                              if f"proba_{label}" in predictions)]
    log.record(rows.reset_index(drop=True), predictions[answer], request_id=request_id,
               received=rows.reset_index(drop=True))
    log.close()
    return f"logged {len(rows)} rows as request {request_id} -> {log.root}"


def compare(args: Sequence[str]) -> None:
    """Compare two runs on the same data and splits with paired tests."""
    parser = argparse.ArgumentParser(
        prog="engine compare",
        description="Is one run's model really better? Paired tests on the same CV folds "
                    "(corrected resampled t-test) and the same test rows (paired bootstrap, "
                    "McNemar for classifiers).",
    )
    parser.add_argument("first", type=Path, help="a run directory")
    parser.add_argument("second", type=Path, help="another run of the same data and split")
    parser.add_argument("--metric", help="a scorer both runs report (default: the primary)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument("--resamples", type=int, default=2000, help="paired bootstrap draws")
    options = parser.parse_args(args)
    from engine.errors import ConfigError
    from engine.evaluation.run_comparison import compare_runs
    from engine.tracking.comparison_table import print_comparison

    if not 0 < options.alpha < 1 or options.resamples < 1:
        raise ConfigError("compare: --alpha must be between 0 and 1 and --resamples at least 1; "
                          f"got --alpha {options.alpha}, --resamples {options.resamples}.")
    comparison = compare_runs(options.first, options.second, metric=options.metric,
                              alpha=options.alpha, resamples=options.resamples)
    print_comparison(make_console(), comparison, options.alpha)


def report(args: Sequence[str]) -> None:
    """Write (again) the HTML report of a run or a sweep directory."""
    parser = argparse.ArgumentParser(
        prog="engine report",
        description="Write report.html for a run directory (outputs/runs/<time>) or a sweep "
                    "directory (outputs/multiruns/<time>) from the files in it.",
    )
    parser.add_argument("directory", type=Path, help="a run or sweep directory")
    options = parser.parse_args(args)
    from engine.errors import DataError
    from engine.reporting.run_report import write_run_report
    from engine.reporting.sweep_report import write_sweep_report
    from engine.tracking.leaderboard import collect_jobs, rank_jobs

    directory = options.directory
    if (directory / "run.json").is_file():
        path = write_run_report(directory)
    elif directory.is_dir() and any((job / ".hydra").is_dir() for job in directory.iterdir()):
        path = write_sweep_report(directory, rank_jobs(collect_jobs(directory)))
    else:
        raise DataError(f"report: '{directory}' is neither a run directory (with run.json) nor a "
                        "sweep directory (with numbered job directories).")
    make_console().print(f"report: {path}")


def regress(args: Sequence[str]) -> None:
    """Run a regression suite against its baseline; exit 1 when a guarded value got worse."""
    parser = argparse.ArgumentParser(
        prog="engine regress",
        description="Run the experiments of a suite (sweeps/<name>.yaml), compare each guarded "
                    "metric with the baseline and exit 0 (nothing regressed), 1 (something "
                    "regressed or failed) or 2 (the suite itself is broken).",
    )
    parser.add_argument("suite", type=Path, help="a suite file, e.g. sweeps/ci.yaml")
    parser.add_argument("--baseline", type=Path,
                        help="the baseline JSON (default: the suite's, sweeps/baselines/<name>."
                             "json)")
    parser.add_argument("--update-baseline", action="store_true",
                        help="record this run as the baseline (after a deliberate change)")
    parser.add_argument("-o", "--output", type=Path,
                        help="where runs, regress.md, junit.xml and results.json go (default "
                             "outputs/regress/<suite>/<time>)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="an override added to every experiment (repeatable), to see what "
                             "a change would do to the whole suite, e.g. --set features=ordinal")
    parser.add_argument("-j", "--jobs", type=int,
                        help="experiments at a time (default: the suite's jobs, else one per "
                             "core)")
    options = parser.parse_args(args)
    import datetime
    import sys

    from engine.errors import ConfigError
    from engine.regress.gate import run_gate
    from engine.tracking.files import default_output_dir

    if options.jobs is not None and options.jobs < 1:
        raise ConfigError(f"regress --jobs: expected at least 1; got {options.jobs}.")
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    output = options.output or default_output_dir() / "regress" / options.suite.stem / stamp
    sys.exit(run_gate(options.suite, baseline_path=options.baseline,
                      update_baseline=options.update_baseline, output_dir=output,
                      project_dir=Path.cwd(), jobs=options.jobs, console=make_console(),
                      extra_overrides=tuple(options.set)))


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
    parser.add_argument("model", help="a run directory, or a registered model as NAME@ALIAS or "
                                      "NAME/VERSION (e.g. churn@champion)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (0.0.0.0 for all)")
    parser.add_argument("--port", type=_port, default=8080, help="0 to 65535 (0: any free one)")
    parser.add_argument("--max-body-mb", type=_positive(float), default=10.0,
                        help="largest request body in MB, however it is sent (413 above it)")
    parser.add_argument("--max-rows", type=_positive(int), default=10_000,
                        help="most rows in one request (413 above it)")
    parser.add_argument("--max-cell-chars", type=_positive(int), default=65_536,
                        help="longest text in one cell or column name (413 above it)")
    parser.add_argument("--timeout", type=_positive(float), default=60.0, metavar="SECONDS",
                        help="a request's body must arrive (408) and its answer come (503) "
                             f"within this; a connection idle for {keep_alive_s} s (or not "
                             "sending its request's headers) is closed")
    parser.add_argument("--token", default=os.environ.get("ENGINE_SERVE_TOKEN"),
                        help="require 'Authorization: Bearer TOKEN' on every endpoint but "
                             "/health (401 otherwise); default $ENGINE_SERVE_TOKEN")
    parser.add_argument("--registry", type=Path, help="the registry database (default: "
                        "$ENGINE_REGISTRY, else outputs/registry.db)")
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
    import uvicorn

    from engine.deploy.registry import resolve_model
    from engine.deploy.server import HeaderDeadline, Limits, create_app

    bundle, lineage = resolve_model(options.model, options.registry,
                                    trust_pickle=options.trust_pickle)
    limits = Limits(max_body_bytes=int(options.max_body_mb * 1024 * 1024),
                    max_rows=options.max_rows, max_cell_chars=options.max_cell_chars,
                    timeout_s=options.timeout)
    app = create_app(bundle, lineage=lineage, limits=limits, strict=options.strict,
                     token=options.token, log=False if options.no_log else options.log or True)
    listening = _listen(options.host, options.port)
    port = listening.getsockname()[1]
    make_console(stderr=True).print(
        f"serving {bundle.metadata.model} from {bundle.directory} at "
        f"http://{options.host}:{port} (OpenAPI docs at /docs)"
        + (", bearer token required" if options.token else "")
        + (f"; logging predictions to {app.state.log_root}" if app.state.log_root else
           "; not logging predictions"), highlight=False)
    uvicorn.Server(uvicorn.Config(app, http=HeaderDeadline, log_level="warning",
                                  timeout_keep_alive=keep_alive_s)).run(sockets=[listening])


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose errors are one line (exit 2), as the engine's other errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


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


def _port(text: str) -> int:
    number = int(text)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port: give 0 to 65535")
    return number


_port.__name__ = "port"  # argparse's "invalid port value: 'abc'"


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a finite number of ``kind`` above zero (not nan, not inf)."""

    def parse(text: str) -> float:
        number = kind(text)
        if not math.isfinite(number) or number <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
        return number

    parse.__name__ = kind.__name__
    return parse


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


def schema(args: Sequence[str]) -> None:
    """The config schema as JSON Schema, or the effective values of one experiment's config."""
    from engine.config.schema import GROUPS, json_schema

    parser = argparse.ArgumentParser(
        prog="engine schema",
        description="Write the JSON Schema of the experiment config (for YAML editors), or with "
                    "--effective show one experiment's validated config, every default filled.",
    )
    parser.add_argument("-o", "--output", type=Path, help="write the JSON Schema to this file")
    parser.add_argument("--group", choices=sorted(GROUPS),
                        help="the schema of one group's files (conf/<group>/*.yaml)")
    parser.add_argument("--effective", nargs="*", metavar="OVERRIDE",
                        help="show the validated config for these overrides (e.g. model=svm)")
    parser.add_argument("--config-dir", help="your own folder of config groups, as for a run "
                        "(default: $ENGINE_CONFIG_DIR)")
    options = parser.parse_args(args)
    import json

    import yaml

    if options.effective is not None:
        from engine.config.compose import compose_spec

        spec = compose_spec(options.effective, config_dir=options.config_dir)
        sections = {name: getattr(spec, name).model_dump(mode="json") for name in (
            "dataset", "features", "split", "metrics", "tune", "deploy", "quality")}
        print(yaml.safe_dump({**sections, "model": {"name": spec.model.name,
                              "_target_": spec.model.targets, **spec.model.params},
                              "seed": spec.seed, "n_jobs": spec.n_jobs, "report": spec.report,
                              "allowed_targets": list(spec.allowed_targets)},
                             sort_keys=False), end="")
        return
    if options.output is None:
        print(json.dumps(json_schema(options.group), indent=2))
        return
    from engine.tracking.files import write_json

    write_json(options.output, json_schema(options.group))
    print(f"JSON Schema written to {options.output}", file=sys.stderr)
