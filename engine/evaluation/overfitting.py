"""The overfitting check: the primary score on the training rows, in CV and on the test rows."""

from __future__ import annotations

import math
from typing import Any

OVERFITTING_ROWS = 10_000
"""The training score is taken on a seeded sample of about this many training rows, stratified
by class with every class kept (a rare class would otherwise go missing and leave a log loss or
ROC AUC undefined): a million-row run does not predict its whole training split again."""


def overfitting_record(primary: str, train: float, cv: float | None, test: float | None,
                       max_gap: float, *, train_rows: int) -> dict[str, Any]:
    """The three scores, the gaps between them and whether training beats CV by too much.

    Gaps are relative to the magnitude of the reference score (``(train - cv) / |cv|``), so one
    threshold suits a ROC AUC and an RMSE in dollars alike. Without CV the test score is the
    reference.
    """
    reference = cv if cv is not None else test
    record: dict[str, Any] = {"metric": primary, "train": train, "train_rows": train_rows,
                              "cv": cv, "test": test, "max_gap": max_gap}
    record["train_vs_cv"] = _relative(train, cv)
    record["cv_vs_test"] = _relative(cv, test) if cv is not None else None
    record["train_vs_test"] = _relative(train, test)
    gap = _relative(train, reference)
    record["flagged"] = bool(gap is not None and gap > max_gap)
    return record


def _relative(better: float | None, reference: float | None) -> float | None:
    if better is None or reference is None or not math.isfinite(better) or \
            not math.isfinite(reference) or reference == 0:
        return None
    return (better - reference) / abs(reference)
