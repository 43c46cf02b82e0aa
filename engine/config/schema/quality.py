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
DEFAULT_SEVERITY: dict[Check, Severity] = {
    "missing_values": "warning", "missing_target": "warning", "duplicate_rows": "warning",
    "constant_columns": "warning", "id_like_columns": "warning", "leakage": "error",
    "class_imbalance": "warning", "missing_markers": "warning", "high_cardinality": "warning",
    "date_columns": "info", "outliers": "info"}


class QualityConfig(Section):
    """A finding at ``fail_on`` or above fails the run."""

    fail_on: FailOn = "error"
    """The lowest severity that fails the run: info | warning | error | never."""
    severity: dict[Check, Severity] = DEFAULT_SEVERITY
    """Each check's findings: info | warning | error (set one with e.g.
    quality.severity.leakage=warning; a check left out keeps its default)."""
    max_missing_fraction: Fraction = 0.5
    """A column missing more than this is a warning (the pipeline imputes it with a missing
    indicator); to fail the run on one, set quality.severity.missing_values=error."""
    id_like_unique_fraction: Fraction = 0.95
    high_cardinality_fraction: Fraction = 0.5
    """A category column with more distinct values than this fraction of rows (or than
    high_cardinality_levels) is flagged."""
    high_cardinality_levels: Annotated[int, Field(ge=2)] = 200
    leakage_threshold: Fraction = 0.98
    """One feature alone scoring this well in CV is flagged as leakage."""
    imbalance_ratio: Annotated[float, Field(ge=1.0)] = 10.0
    """Majority / minority class count flagged as imbalance."""
    sample_rows: Annotated[int, Field(ge=100)] = 5000
    """Rows sampled for the leakage check (a near-perfect feature shows in far fewer)."""
    outlier_z: Annotated[float, Field(gt=0.0)] = 3.5
    """|value - median| / (1.4826 * MAD) above this is an outlier."""
    outlier_fraction: Fraction = 0.05
    """A numeric column with more outliers than this share of its values is flagged."""
