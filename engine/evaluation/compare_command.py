"""``python -m engine compare A B [--on ROWS]``: is one model really better than the other?

Without ``--on``: two runs of the same data and split, compared on their saved CV folds and test
predictions. With ``--on ROWS.csv|parquet``: two models (run directories or registry references
such as ``churn@champion`` or ``churn/3``), even trained on different data, predicted and scored
on the same labelled rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.arguments import OneLineErrors
from engine.tracking.summary import make_console


def compare(args: Sequence[str]) -> None:
    """Compare two models with paired tests, on their runs' records or on fresh rows."""
    parser = OneLineErrors(
        prog="engine compare",
        description="Is one model really better? Without --on: two runs of the same data and "
                    "split, with paired tests on the same CV folds (corrected resampled t-test) "
                    "and test rows (paired bootstrap, McNemar for classifiers). With --on: two "
                    "models scored on the same labelled rows, a paired bootstrap and McNemar.",
    )
    parser.add_argument("first", help="A: a run directory (or, with --on, a registry reference "
                                      "NAME@ALIAS or NAME/VERSION)")
    parser.add_argument("second", help="B: another, compared with A")
    parser.add_argument("--on", type=Path, metavar="ROWS",
                        help="score both models on these labelled rows (.csv or .parquet)")
    parser.add_argument("--target", help="with --on: the label column (default: A's target)")
    parser.add_argument("--metric", help="a scorer (default: A's primary metric)")
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument("--margin", type=float, default=0.0,
                        help="with --on: B must beat A by more than this, in the metric's units")
    parser.add_argument("--resamples", type=int, default=2000, help="paired bootstrap draws")
    parser.add_argument("--registry", type=Path,
                        help="with --on: the registry database (default: $ENGINE_REGISTRY, else "
                             "registry.db in the outputs directory)")
    options = parser.parse_args(args)
    from engine.errors import ConfigError
    from engine.evaluation.fresh_comparison import check_settings

    check_settings(options.alpha, options.margin, options.resamples)
    if options.on is None:
        given = [f"--{name}" for name in ("target", "registry")
                 if getattr(options, name) is not None] + (["--margin"] if options.margin else [])
        if given:
            raise ConfigError(f"compare: {', '.join(given)} applies to models scored on fresh "
                              "rows; add --on ROWS.csv, or drop it to compare two runs' records.")
        _compare_runs(options.first, options.second, options.metric, options.alpha,
                      options.resamples)
        return
    _compare_on_rows(options.first, options.second, options.on, target=options.target,
                     metric=options.metric, alpha=options.alpha, margin=options.margin,
                     resamples=options.resamples, registry=options.registry)


def _compare_runs(first: str, second: str, metric: str | None, alpha: float,
                  resamples: int) -> None:
    from engine.evaluation.run_comparison import compare_runs
    from engine.tracking.comparison_table import print_comparison

    comparison = compare_runs(Path(first), Path(second), metric=metric, alpha=alpha,
                              resamples=resamples)
    print_comparison(make_console(), comparison, alpha)


def _compare_on_rows(first: str, second: str, rows_file: Path, *, target: str | None,
                     metric: str | None, alpha: float, margin: float, resamples: int,
                     registry: Path | None) -> None:
    from engine.deploy.batch_predict import read_rows
    from engine.deploy.registry import resolve_model
    from engine.errors import DataError, did_you_mean
    from engine.evaluation.fresh_comparison import score_side_by_side
    from engine.tracking.comparison_table import print_fresh_comparison

    (first_bundle, first_lineage), (second_bundle, second_lineage) = (
        resolve_model(first, registry), resolve_model(second, registry))
    rows = read_rows(rows_file, first_bundle.metadata.reading)
    label = target or first_bundle.metadata.target
    if label not in rows.columns:
        raise DataError(f"compare --target: {rows_file} has no column '{label}'."
                        f"{did_you_mean(label, map(str, rows.columns))} Name the label column "
                        "with --target.")
    comparison = score_side_by_side(first_bundle, second_bundle, rows, rows[label],
                                    metric=metric, alpha=alpha, margin=margin,
                                    resamples=resamples)
    print_fresh_comparison(make_console(), comparison, {
        "A": (first, first_bundle, first_lineage), "B": (second, second_bundle, second_lineage)},
        f"{rows_file}, target '{label}'")
