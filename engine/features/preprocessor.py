"""Building the features ColumnTransformer from the ``features`` config group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline, make_pipeline

from engine.config.binding import from_config_values, instantiate_checked
from engine.config.schema.features import FeatureBlock, FeaturesConfig
from engine.config.targets import ESTIMATOR, TRANSFORMER, Kind, import_target
from engine.errors import ConfigError, did_you_mean
from engine.features.selectors import ColumnSelector


def build_preprocessor(
    features: FeaturesConfig,
    *,
    columns: Sequence[str] | None = None,
    allowed: Iterable[str] = (),
) -> ColumnTransformer:
    """One ColumnTransformer: a block of steps per named group of columns.

    With ``columns`` (the data's feature names) given, every column named in the config is
    checked to exist, so a typo fails with did-you-mean instead of deep inside ``fit``. A block
    with ``column: <name>`` gives its steps that one column as 1-D data (ColumnTransformer's
    string selector), which text vectorisers (TfidfVectorizer) need.
    """
    allowed = tuple(allowed)
    blocks = []
    for name, block in features.transformers.items():
        key = f"features.transformers.{name}"
        selector = _selector(block, key, columns)
        blocks.append((name, _steps(block.steps, key, allowed), selector))
    return ColumnTransformer(blocks, remainder=features.remainder,
                             verbose_feature_names_out=False)


def text_columns(features: FeaturesConfig) -> list[str]:
    """The columns that blocks take one at a time as 1-D text (``column: <name>``)."""
    return [block.column for block in features.transformers.values() if block.column is not None]


def _selector(
    block: FeatureBlock, key: str, columns: Sequence[str] | None
) -> ColumnSelector | str:
    """What ColumnTransformer selects for a block: a column name (1-D data) or a selector.

    With the data's ``columns``, each named column is checked to exist."""
    named = [("column", [block.column] if block.column else []), ("columns", block.columns),
             ("exclude", block.exclude)]
    for field, listed in named if columns is not None else []:
        for column in listed:
            _check_column(column, f"{key}.{field}", columns)
    if block.column is not None:
        return block.column
    return ColumnSelector(kind=block.dtype, names=tuple(block.columns),
                          exclude=tuple(block.exclude))


def _check_column(column: str, key: str, columns: Sequence[str] | None) -> None:
    if columns is not None and column not in columns:
        raise ConfigError(
            f"{key}: the data has no column '{column}'.{did_you_mean(column, columns)}"
        )


def _steps(steps: Sequence[Mapping[str, Any]], key: str,
           allowed: tuple[str, ...]) -> Pipeline | str:
    if not steps:
        return "passthrough"
    return make_pipeline(*(_component(step, f"{key}.steps[{index}]", allowed, TRANSFORMER)
                           for index, step in enumerate(steps)))


def _component(config: Mapping[str, Any], key: str, allowed: tuple[str, ...], kind: Kind) -> Any:
    """The instance ``config`` describes, its class of the ``kind`` its place takes.

    A parameter given as a mapping with its own ``_target_`` is an estimator built the same
    way (SelectFromModel's ``estimator``); function names and lists become what the class takes
    (see :func:`from_config_values`).
    """
    cls = import_target(config["_target_"], f"{key}._target_", allowed, kind=kind)
    params = {
        name: _component(value, f"{key}.{name}", allowed, ESTIMATOR)
        if isinstance(value, Mapping) and "_target_" in value else value
        for name, value in config.items() if name != "_target_"
    }
    return instantiate_checked(cls, from_config_values(cls, params, key, allowed), key)
