"""Date features: numbers a model can use from date and datetime columns, instead of categories."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from engine.errors import did_you_mean, first_line

DAY = pd.Timedelta(days=1)
PARTS: dict[str, Callable[[pd.Series], pd.Series]] = {
    "year": lambda dates: dates.dt.year,
    "quarter": lambda dates: dates.dt.quarter,
    "month": lambda dates: dates.dt.month,
    "day": lambda dates: dates.dt.day,
    "weekday": lambda dates: dates.dt.day_of_week,
    "dayofyear": lambda dates: dates.dt.day_of_year,
    "hour": lambda dates: dates.dt.hour,
}
ELAPSED = "elapsed_days"
ALL_PARTS = (*PARTS, ELAPSED)
DEFAULT_PARTS = ("year", "month", "day", "weekday", ELAPSED)


class DateFeatures(TransformerMixin, BaseEstimator):
    """Each date column as the ``parts`` named: ``year``, ``quarter``, ``month``, ``day`` (of
    the month), ``weekday`` (Monday 0), ``dayofyear``, ``hour``, and ``elapsed_days`` since the
    earliest training date of that column (fractional for datetimes).

    Takes datetime columns, or text that pandas reads as dates; a missing date gives missing
    features (put an imputer after this step), and a date later than any seen in training is
    simply further on. Zoned datetimes are taken in UTC. In a features block:
    ``{_target_: engine.features.dates.DateFeatures, parts: [year, month, elapsed_days]}``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"parts": [list, tuple, str]}

    def __init__(self, parts: Sequence[str] = DEFAULT_PARTS) -> None:
        self.parts = parts

    def _validate_params(self) -> None:
        """scikit-learn's check of the parameter's type, then that ``parts`` is a non-empty list
        of known parts (the config's builder calls this, so a typo fails before any data)."""
        super()._validate_params()
        parts = [self.parts] if isinstance(self.parts, str) else list(self.parts)
        unknown = [part for part in parts if part not in ALL_PARTS]
        if unknown or not parts:
            hint = did_you_mean(str(unknown[0]), ALL_PARTS) if unknown else ""
            raise ValueError(
                f"The 'parts' parameter of DateFeatures must be a non-empty list of "
                f"{', '.join(ALL_PARTS)}. Got {self.parts!r} instead.{hint}"
            )

    def fit(self, X: Any, y: Any = None) -> DateFeatures:
        """Learn each column's earliest date, the origin of ``elapsed_days``."""
        self._validate_params()
        frame = self._checked(X, reset=True)
        self.origin_ = [_dates(frame[column], column).min().to_datetime64()
                        for column in frame.columns]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The parts of each column, in float64 (NaN for a missing date)."""
        check_is_fitted(self)
        frame = self._checked(X, reset=False)
        outputs = []
        for column, origin in zip(frame.columns, self.origin_, strict=True):
            dates = _dates(frame[column], column)
            for part in self._parts:
                if part == ELAPSED:
                    outputs.append((dates - origin) / DAY if not pd.isna(origin)
                                   else pd.Series(np.nan, index=dates.index))
                else:
                    outputs.append(PARTS[part](dates))
        return np.column_stack([np.asarray(values, dtype=float) for values in outputs])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``<column>_<part>`` for each column and part: ``signup_year``."""
        check_is_fitted(self)
        columns = (input_features if input_features is not None
                   else getattr(self, "feature_names_in_",
                                [f"x{index}" for index in range(self.n_features_in_)]))
        return np.asarray([f"{column}_{part}" for column in columns for part in self._parts],
                          dtype=object)

    def _checked(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """``X`` as a DataFrame, after scikit-learn's checks of its shape, names and column
        count (``reset`` on fit); an array's columns are named x0, x1, ..."""
        validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
        if isinstance(X, pd.DataFrame):
            return X
        values = np.asarray(X)
        return pd.DataFrame(values, columns=[f"x{index}" for index in range(values.shape[1])])

    @property
    def _parts(self) -> list[str]:
        return [self.parts] if isinstance(self.parts, str) else list(self.parts)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # a missing date is a missing feature
        return tags


def _dates(values: pd.Series, column: Any) -> pd.Series:
    """The column as naive datetimes: zoned ones in UTC, text parsed (ISO 8601 fast, any other
    form value by value), numbers as nanoseconds since 1970; unreadable text raises."""
    if pd.api.types.is_numeric_dtype(values):
        values = pd.to_datetime(values, utc=True)
    elif not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, utc=True, format="ISO8601")
        except (TypeError, ValueError, OverflowError):
            try:
                values = pd.to_datetime(values, utc=True, format="mixed")
            except TypeError:  # a value that is neither text nor a number, such as a dict
                raise TypeError(f"DateFeatures: column {column!r}: each date argument must be a "
                                "string or a number") from None
            except (ValueError, OverflowError) as error:
                raise ValueError(f"DateFeatures: column {column!r} holds values that are not "
                                 f"dates: {first_line(error)}") from None
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return values
