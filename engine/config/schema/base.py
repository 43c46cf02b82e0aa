"""The base of every config section: unknown keys forbidden, strict types, frozen values."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)


class Section(BaseModel):
    """One config group (or a block inside one), validated once and read by attribute."""

    # A field's docstring is its description in the JSON Schema (``python -m engine schema``),
    # which is what a YAML editor shows for the key.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, values: Any) -> Any:
        """``null`` in YAML means the key's default (``pick: null``, ``drop: null``), as
        leaving it out does."""
        if not isinstance(values, dict):
            return values
        return {key: value for key, value in values.items() if value is not None
                or key not in cls.model_fields or cls.model_fields[key].is_required()}


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
Label = str | int | float | bool
"""A class label as YAML writes it."""
Names = Annotated[list[str], BeforeValidator(lambda value: [value] if isinstance(value, str)
                                             else value, json_schema_input_type=list[str] | str)]
"""Column names: a list, or one name on its own."""


def _whole_float_as_int(value: Any) -> Any:
    """1e6 (a float after YAML reads it) as the integer 1000000."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Integer = Annotated[int, BeforeValidator(_whole_float_as_int)]
"""A whole number, which may be written as 1e6 or 2.0."""
Count = Annotated[Integer, Field(ge=1)]
"""A count of at least 1, which may be written as 1e6."""


def _some_workers(value: int) -> int:
    if value == 0:
        raise ValueError("0 workers cannot run anything; use 1, a count, or -1 for one per core")
    return value


Workers = Annotated[int, AfterValidator(_some_workers)]
"""Worker processes: a count, or -1 for one per core (joblib's convention)."""
