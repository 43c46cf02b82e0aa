"""``dataset``: where the data is, the target and the task; one model per ``source``."""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.config.schema.base import Count, Label, NonNegativeFloat, Section

Task = Literal["auto", "binary", "multiclass", "regression"]
SklearnLoader = Literal["iris", "wine", "breast_cancer", "digits", "diabetes"]
SyntheticKind = Literal["classification", "regression", "text"]
FileFormat = Literal["auto", "csv", "parquet"]


class DatasetBase(Section):
    """The keys every source shares."""

    name: str | None = None
    target: str = "target"
    task: Task = "auto"
    positive_class: Label | None = None
    drop: list[str] | str = []
    group_column: str | None = None
    time_column: str | None = None
    dtypes: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _other_sources_keys_unset(cls, values: Any) -> Any:
        """conf/dataset_keys.yaml sets every source's keys to null under each dataset: a null
        key of another source (``url`` under a file) is no key at all."""
        if not isinstance(values, dict):
            return values
        return {key: value for key, value in values.items()
                if value is not None or key in cls.model_fields}

    @field_validator("dtypes")
    @classmethod
    def _known_dtypes(cls, dtypes: dict[str, str] | None) -> dict[str, str] | None:
        from engine.data.casting import named_dtype

        for column, dtype in (dtypes or {}).items():
            named_dtype(dtype, f"dataset.dtypes.{column}")
        return dtypes

    @property
    def dropped(self) -> list[str]:
        """``drop`` as a list (a single name is accepted on its own)."""
        return [self.drop] if isinstance(self.drop, str) else list(self.drop)


class SklearnDataset(DatasetBase):
    """A dataset bundled with scikit-learn (``sklearn.datasets.load_<loader>``)."""

    source: Literal["sklearn"]
    loader: SklearnLoader


class FileDataset(DatasetBase):
    """A CSV or Parquet file read with pandas."""

    source: Literal["file"]
    path: str
    format: FileFormat = "auto"
    na_values: list[str] | None = None
    read_options: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _readable(self) -> FileDataset:
        from engine.data.file_source import check_read_options

        check_read_options(self)
        return self


class SqlDataset(DatasetBase):
    """A query run through SQLAlchemy."""

    source: Literal["sql"]
    url: str
    query: str


class SyntheticDataset(DatasetBase):
    """Data generated with make_classification / make_regression, or support messages with a
    free-text column (``kind: text``: 2 to 5 topics, a noise share up to 0.7), seeded."""

    source: Literal["synthetic"]
    kind: SyntheticKind
    n_samples: Count | None = None
    n_features: Count | None = None
    n_informative: Count | None = None
    n_classes: Annotated[int, Field(ge=2)] | None = None
    noise: NonNegativeFloat | None = None
    weights: list[float] | None = None
    random_state: int | None = None

    @model_validator(mode="after")
    def _text_it_can_make(self) -> SyntheticDataset:
        if self.kind == "text":
            from engine.data.synthetic_text import check_text_settings, make_text

            defaults = inspect.signature(make_text).parameters
            check_text_settings(
                n_classes=self.n_classes or defaults["n_classes"].default,
                noise=defaults["noise"].default if self.noise is None else self.noise,
                weights=self.weights)
        return self


DatasetConfig = SklearnDataset | FileDataset | SqlDataset | SyntheticDataset
"""The ``dataset`` group: the model of its ``source``."""
TaggedDataset = Annotated[DatasetConfig, Field(discriminator="source")]
"""The same, as a field: pydantic picks the model by ``source``."""
SOURCES = ("sklearn", "file", "sql", "synthetic")
