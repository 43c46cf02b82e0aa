"""``quality``: the thresholds of the data checks, a severity per check, and what fails a run."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from engine.config.schema.base import Fraction, Section

Severity = Literal["info", "warning", "error"]
FailOn = Literal["info", "warning", "error", "never"]
Check = Literal["missing_values", "missing_target", "duplicate_rows", "constant_columns",
                "id_like_columns", "leakage", "class_imbalance", "missing_markers",
                "high_cardinality", "date_columns", "outliers"]


class QualityConfig(Section):
    """A finding at ``fail_on`` or above fails the run."""

    fail_on: FailOn = "error"
    severity: dict[Check, Severity] | None = None
    max_missing_fraction: Fraction = 0.5
    id_like_unique_fraction: Fraction = 0.95
    high_cardinality_fraction: Fraction = 0.5
    high_cardinality_levels: Annotated[int, Field(ge=2)] = 200
    leakage_threshold: Fraction = 0.98
    imbalance_ratio: Annotated[float, Field(ge=1.0)] = 10.0
    sample_rows: Annotated[int, Field(ge=100)] = 5000
    outlier_z: Annotated[float, Field(gt=0.0)] = 3.5
    outlier_fraction: Fraction = 0.01
