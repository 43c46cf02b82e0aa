"""The word commands: ``python -m engine predict RUN INPUT [-o OUT] [--strict]`` and
``python -m engine compare RUN_A RUN_B [--metric NAME]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from engine.tracking.summary import make_console


def run_verb(verb: str, args: Sequence[str]) -> None:
    """Run one verb with its own arguments."""
    {"predict": predict, "compare": compare}[verb](args)


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
        help="treat extra columns and unseen categories as errors instead of warnings",
    )
    parser.add_argument(
        "--keep", default="", metavar="COLUMNS",
        help="input columns to copy into the output, comma-separated (e.g. an id: --keep id)",
    )
    options = parser.parse_args(args)
    from engine.deploy.batch_predict import check_output_path, predict_rows, read_rows, write_rows
    from engine.deploy.bundle import load_bundle

    console = make_console(stderr=True)
    output = check_output_path(
        options.output or options.run / "predictions" / f"{options.input.stem}.csv"
    )
    bundle = load_bundle(options.run)
    rows = read_rows(options.input, bundle.metadata.get("reading"))
    keep = [column for column in options.keep.split(",") if column]
    predictions, warnings = predict_rows(bundle, rows, strict=options.strict, keep=keep)
    for warning in warnings:
        console.print(f"[yellow]warning[/yellow]: {warning}")
    write_rows(predictions, output)
    console.print(f"predicted {len(predictions)} rows with {bundle.metadata['model']} -> {output}")


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
