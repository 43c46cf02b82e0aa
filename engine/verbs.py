"""The word commands: ``python -m engine predict RUN INPUT [-o OUT] [--what-if COLUMN=VALUE]``,
``python -m engine compare RUN_A RUN_B [--metric NAME]``, ``python -m engine report DIR``; the
others (regress, serve, ...) live beside what they drive (``ELSEWHERE``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from engine.tracking.summary import make_console

if TYPE_CHECKING:
    import pandas as pd

    from engine.deploy.bundle import Bundle

# Verbs whose code lives beside what they drive: the verb names the module's function.
ELSEWHERE = {"compare": "engine.evaluation.compare_command", "serve": "engine.deploy.serve_command",
             "registry": "engine.deploy.registry_command",
             "card": "engine.card.command",
             "retrain": "engine.lifecycle.command", "lifecycle": "engine.lifecycle.command",
             "abtest": "engine.abtest.command", "regress": "engine.regress.command",
             "runs": "engine.tracking.runs_command", "worker": "engine.tuning.worker_command"}


def run_verb(verb: str, args: Sequence[str]) -> None:
    """Run one verb with its own arguments."""
    if verb in ELSEWHERE:
        module = importlib.import_module(ELSEWHERE[verb])
        getattr(module, verb)(args)
        return
    {"predict": predict, "report": report, "schema": schema, "monitor": monitor}[verb](args)


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
