"""``python -m engine compare RUN_A RUN_B``: paired tests of two runs' models."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from engine.tracking.summary import make_console


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
