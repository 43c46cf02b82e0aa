"""``split``: the held-out test split and the cross-validation folds on the rest."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from engine.config.schema.base import Positive, Section

TestStrategy = Literal["auto", "random", "stratified", "group", "time"]
CVStrategy = Literal[
    "auto", "none", "kfold", "stratified", "group", "stratified_group", "timeseries",
    "repeated", "repeated_kfold", "repeated_stratified",
]
NEEDS_GROUPS = ("group", "stratified_group")
NEEDS_TIME = ("time", "timeseries")
# Folds that do not hold out each training row exactly once.
UNPARTITIONED = ("none", "timeseries", "repeated", "repeated_kfold", "repeated_stratified")


class CVConfig(Section):
    """The folds on the training rows."""

    strategy: CVStrategy = "auto"
    """auto (stratified for classification, k-fold for regression) | none | kfold | stratified |
    group | stratified_group | timeseries | repeated (repeated_stratified for classification,
    repeated_kfold for regression) | repeated_kfold | repeated_stratified."""
    n_splits: Annotated[int, Field(ge=2)] = 5
    n_repeats: Positive = 3
    """Repeats, for the repeated strategies."""
    shuffle: bool = True


class SplitConfig(Section):
    """A fraction in (0, 1) or a row count held out for testing (0: none), and the folds."""

    test_size: float | int = 0.2
    """A fraction, or a row count (0: no test split)."""
    test_strategy: TestStrategy = "auto"
    """auto (stratified for classification) | random | stratified | group | time."""
    cv: CVConfig = CVConfig()

    @field_validator("test_size")
    @classmethod
    def _fraction_or_count(cls, value: float | int) -> float | int:
        if (isinstance(value, int) and value >= 0) or 0 <= value < 1:
            return value
        raise ValueError(
            f"{value!r} is neither a fraction in (0, 1) nor a row count (an integer). Use e.g. "
            "split.test_size=0.2, split.test_size=1000, or 0 for no test set"
        )

    @property
    def is_fraction(self) -> bool:
        return isinstance(self.test_size, float) and 0 < self.test_size < 1
