"""``features``: named blocks of columns, each with its scikit-learn steps."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator, model_validator

from engine.config.schema.base import Section
from engine.errors import did_you_mean

KINDS = ("numeric", "categorical", "datetime")


class FeatureBlock(Section):
    """Columns by name (``columns``) or by ``dtype`` (numeric | categorical | datetime | a pandas
    dtype), minus ``exclude``, or one text column given 1-D (``column``); ``steps`` run in
    order, each a transformer by ``_target_``."""

    dtype: str | None = None
    column: str | None = None
    columns: list[str] = []
    exclude: list[str] = []
    steps: list[dict[str, Any]] = []

    @field_validator("dtype")
    @classmethod
    def _known_kind(cls, dtype: str | None) -> str | None:
        if dtype is None or dtype in KINDS:
            return dtype
        from pandas.api.types import pandas_dtype

        try:
            pandas_dtype(dtype)
        except TypeError:
            raise ValueError(
                f"{dtype!r} is neither a kind of column nor a pandas dtype."
                f"{did_you_mean(dtype, KINDS)} Use {', '.join(KINDS)}, or a pandas dtype such as "
                "float32") from None
        return dtype

    @model_validator(mode="after")
    def _says_which_columns(self) -> FeatureBlock:
        if self.column is not None:
            others = [name for name in ("columns", "dtype", "exclude") if getattr(self, name)]
            if others:
                raise ValueError(
                    f"`column: {self.column}` gives the steps that one column as 1-D text; drop "
                    f"`{'`, `'.join(others)}`, or use `columns: [...]` instead of `column`"
                )
        elif not self.columns and not self.dtype:
            raise ValueError(
                "say which columns the block takes, with `columns: [name, ...]`, "
                "`dtype: numeric | categorical | datetime | <pandas dtype>`, or one text "
                "column as `column: <name>`"
            )
        for index, step in enumerate(self.steps):
            if "_target_" not in step:
                raise ValueError(
                    f"steps[{index}] needs a `_target_`, e.g. "
                    f"{{_target_: sklearn.preprocessing.StandardScaler}}; got {step!r}"
                )
        return self


class FeaturesConfig(Section):
    transformers: dict[str, FeatureBlock] = {}
    remainder: Literal["drop", "passthrough"] = "drop"
    search_space: dict[str, Any] | None = None
