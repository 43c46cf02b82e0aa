"""``check_quality``: run every data quality check on a loaded dataset.

The ``quality`` config key sets the thresholds, a severity per check, and ``fail_on``, the lowest
severity that fails the run (``QualityReport.raise_for_failures``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from pandas.api.types import is_numeric_dtype

from engine.config.schema.quality import DEFAULT_SEVERITY, QualityConfig
from engine.data import quality_checks as checks
from engine.data.dataset import Dataset
from engine.data.findings import Finding, QualityReport

__all__ = ["Finding", "QualityReport", "check_quality"]


def check_quality(data: Dataset, settings: QualityConfig, *, seed: int,
                  text_columns: Sequence[str] = ()) -> QualityReport:
    """Run every check on ``data``; ``settings`` is the ``quality`` config key.

    ``text_columns`` hold free text, a distinct value per row by nature: never id-like."""
    severity = {**DEFAULT_SEVERITY, **settings.severity}
    X, y, n_rows = data.X, data.y, len(data.y)
    missing = X.isna().sum()
    duplicates = _duplicate_count(data)
    constant, constant_findings = checks.constant_columns(X, severity=severity["constant_columns"])
    id_like, id_like_findings = checks.id_like_columns(
        X.drop(columns=list(text_columns)), unique_fraction=settings.id_like_unique_fraction,
        severity=severity["id_like_columns"])
    candidates = [column for column in X.columns if column not in {*constant, *id_like}]
    many_levels = X[[column for column in candidates
                     if column not in {*text_columns, *data.column_types.markers}]]
    findings = [
        *checks.missing_values(
            missing,
            n_rows,
            limit=settings.max_missing_fraction,
            severity=severity["missing_values"],
        ),
        *checks.missing_target(data, severity=severity["missing_target"]),
        *checks.duplicate_rows(duplicates, n_rows, severity=severity["duplicate_rows"]),
        *constant_findings,
        *id_like_findings,
        *checks.missing_markers(data.column_types, X.columns, severity=severity["missing_markers"]),
        *checks.high_cardinality(
            many_levels, unique_fraction=settings.high_cardinality_fraction,
            levels=settings.high_cardinality_levels, severity=severity["high_cardinality"]),
        *checks.date_columns(X, suggest_split=data.order is None,
                            severity=severity["date_columns"]),
        *checks.leakage(
            data, candidates, threshold=settings.leakage_threshold,
            sample_rows=settings.sample_rows, seed=seed, severity=severity["leakage"],
        ),
        *checks.outliers(X[candidates], z=settings.outlier_z,
                         fraction=settings.outlier_fraction, severity=severity["outliers"]),
    ]  # fmt: skip
    summary: dict[str, Any] = {
        "dataset": data.name,
        "rows": n_rows,
        "columns": X.shape[1],
        "numeric_columns": sum(_is_numeric(X[column]) for column in X.columns),
        "categorical_columns": sum(checks.is_categorical(X[column]) for column in X.columns),
        "missing_cells": int(missing.sum()),
        "duplicate_rows": duplicates,
        "dropped_missing_target": data.dropped_missing_target,
        "target": str(y.name),
        "task": data.task,
    }
    if data.is_classification:
        class_counts = y.value_counts()
        summary["class_counts"] = {str(label): int(count) for label, count in class_counts.items()}
        findings += checks.class_imbalance(
            class_counts, ratio_limit=settings.imbalance_ratio, severity=severity["class_imbalance"]
        )
    return QualityReport(findings=findings, summary=summary)


def _duplicate_count(data: Dataset) -> int:
    """Rows equal to an earlier row in X and y, found through 64-bit row hashes (no copy of X)."""
    row_hashes = pd.DataFrame(
        {
            "features": pd.util.hash_pandas_object(data.X, index=False).to_numpy(),
            "target": pd.util.hash_pandas_object(data.y, index=False).to_numpy(),
        }
    )
    return int(row_hashes.duplicated().sum())


def _is_numeric(column: pd.Series) -> bool:
    """Numbers that measure something (bool counts as categorical)."""
    return is_numeric_dtype(column) and not checks.is_categorical(column)
