"""Explanations within the command's ``budget``.

Permutation importance and partial dependence send the explained test rows through the
Pipeline once per column and repeat, and once per grid value: on adult (9,769 test rows, 14
columns) that is about 1.2 million rows, 10 s of a 17 s run with LightGBM, where the refit took
0.7 s. Under a budget the run times one batch of predictions and explains as many test rows as
the seconds left allow (a seeded sample, as ``metrics.explain.max_rows`` draws it), or, with too
few for a stable ranking, none, with a warning saying so. The batch is timed after a first call,
the fastest of three: on adult's ensemble the first took 49 us a row, the next 30, and the
explanations' own batches of up to 200,000 rows 24-27.
"""

from __future__ import annotations

import timeit
from typing import Any

import numpy as np
import pandas as pd

from engine.config.schema.metrics import MetricsConfig
from engine.evaluation.explanations import GRID_RESOLUTION

PROBE_ROWS = 2_000
"""Rows predicted to time the Pipeline (the test rows repeated when fewer): the explanations
predict in batches of thousands, where a call's fixed cost no longer counts."""
TIMINGS = 3
"""Timed batches; the fastest counts, as timeit's: the others met another process's work."""
MIN_ROWS = 200
"""Fewer explained rows than this give no explanations."""


def explain_within(settings: MetricsConfig, pipeline: Any, X: pd.DataFrame,
                   seconds: float | None) -> tuple[MetricsConfig, str | None]:
    """``settings`` with ``explain.max_rows`` lowered so the explanations fit in ``seconds``
    (None: no budget), or turned off; and a note when they were cut."""
    explain = settings.explain
    if seconds is None or not explain.importance_repeats or X.empty:
        return settings, None
    probe = X.iloc[np.arange(PROBE_ROWS) % len(X)]  # a batch as large as theirs, however few
    method = pipeline.predict_proba if hasattr(pipeline, "predict_proba") else pipeline.predict
    method(probe)  # a first call warms caches and thread pools: timed, it doubled the estimate
    per_row = min(timeit.repeat(lambda: method(probe), number=1, repeat=TIMINGS)) / len(probe)
    passes = (X.shape[1] * explain.importance_repeats
              + min(explain.dependence_features, X.shape[1]) * GRID_RESOLUTION)
    rows = int(max(seconds, 0.0) / (per_row * passes))
    wanted = min(len(X), explain.max_rows)
    if rows >= wanted:
        return settings, None
    if rows < MIN_ROWS:
        off = explain.model_copy(update={"importance_repeats": 0})
        return settings.model_copy(update={"explain": off}), (
            f"budget: permutation importance and partial dependence left out: {seconds:.1f} s "
            f"were left for them, too few for {MIN_ROWS} test rows "
            f"({per_row * passes * MIN_ROWS:.1f} s)")
    fewer = explain.model_copy(update={"max_rows": rows})
    return settings.model_copy(update={"explain": fewer}), (
        f"budget: explanations computed on {rows} of the {wanted} test rows they would take, "
        f"to fit the {seconds:.1f} s left")
