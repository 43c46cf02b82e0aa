"""Building the features ColumnTransformer from the ``features`` config group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline, make_pipeline

from engine.config.binding import from_config_values, instantiate_checked
from engine.config.checks import check_keys
from engine.config.targets import import_target
from engine.errors import ConfigError, did_you_mean, options_hint
from engine.features.selectors import ColumnSelector

BLOCK_KEYS = ("dtype", "columns", "column", "exclude", "steps")
REMAINDER_OPTIONS = ("drop", "passthrough")
TRANSFORMER = ("fit", "transform", "get_params")  # what a step's class must have
ESTIMATOR = ("fit", "get_params")  # what an estimator parameter's class must have


def build_preprocessor(
    features: Mapping[str, Any],
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
    remainder = features.get("remainder", "drop")
    if remainder not in REMAINDER_OPTIONS:
        raise ConfigError(
            f"features.remainder: unknown value {remainder!r}. {options_hint(REMAINDER_OPTIONS)}"
        )
    blocks = []
    for name, block in (features.get("transformers") or {}).items():
        key = f"features.transformers.{name}"
        selector = _selector(block, key, columns)
        blocks.append((name, _steps(block.get("steps") or [], key, allowed), selector))
    return ColumnTransformer(blocks, remainder=remainder, verbose_feature_names_out=False)


def text_columns(features: Mapping[str, Any]) -> list[str]:
    """The columns that blocks take one at a time as 1-D text (``column: <name>``)."""
    blocks = (features.get("transformers") or {}).values()
    return [str(block["column"]) for block in blocks if block.get("column") is not None]


def _selector(
    block: Mapping[str, Any], key: str, columns: Sequence[str] | None
) -> ColumnSelector | str:
    """What ColumnTransformer selects for a block: a column name (1-D data) or a selector."""
    check_keys(block, BLOCK_KEYS, f"{key}.")
    if block.get("column") is not None:
        return _one_column(block, key, columns)
    names = tuple(block.get("columns") or ())
    exclude = tuple(block.get("exclude") or ())
    if not names and not block.get("dtype"):
        raise ConfigError(
            f"{key}: say which columns the block takes, with `columns: [name, ...]`, "
            "`dtype: numeric | categorical | datetime | <pandas dtype>`, or one text column as "
            "`column: <name>`."
        )
    if columns is not None:
        for field, listed in (("columns", names), ("exclude", exclude)):
            for column in listed:
                _check_column(column, f"{key}.{field}", columns)
    return ColumnSelector(kind=block.get("dtype"), names=names, exclude=exclude)


def _one_column(block: Mapping[str, Any], key: str, columns: Sequence[str] | None) -> str:
    column = str(block["column"])
    others = [field for field in ("columns", "dtype", "exclude") if block.get(field)]
    if others:
        raise ConfigError(
            f"{key}: `column: {column}` gives the steps that one column as 1-D text; drop "
            f"`{'`, `'.join(others)}`, or use `columns: [...]` instead of `column`."
        )
    if columns is not None:
        _check_column(column, f"{key}.column", columns)
    return column


def _check_column(column: str, key: str, columns: Sequence[str]) -> None:
    if column not in columns:
        raise ConfigError(
            f"{key}: the data has no column '{column}'.{did_you_mean(column, columns)}"
        )


def _steps(steps: Sequence[Any], key: str, allowed: tuple[str, ...]) -> Pipeline | str:
    if not steps:
        return "passthrough"
    built = []
    for index, step in enumerate(steps):
        step_key = f"{key}.steps[{index}]"
        if not isinstance(step, Mapping) or "_target_" not in step:
            raise ConfigError(
                f"{step_key}: each step needs a `_target_`, e.g. "
                f"{{_target_: sklearn.preprocessing.StandardScaler}}; got {step!r}."
            )
        built.append(_component(step, step_key, allowed, TRANSFORMER))
    return make_pipeline(*built)


def _component(
    config: Mapping[str, Any], key: str, allowed: tuple[str, ...], kind: tuple[str, ...]
) -> Any:
    """The instance ``config`` describes, its class checked to have the methods ``kind`` lists.

    A parameter given as a mapping with its own ``_target_`` is an estimator built the same
    way (SelectFromModel's ``estimator``); function names and lists become what the class takes
    (see :func:`from_config_values`).
    """
    target = config["_target_"]
    cls = import_target(target, f"{key}._target_", allowed)
    lacking = [method for method in kind if not hasattr(cls, method)]
    if lacking:
        what = "transformer" if kind == TRANSFORMER else "estimator"
        example = ("sklearn.preprocessing.StandardScaler" if kind == TRANSFORMER
                   else "sklearn.linear_model.LogisticRegression")
        raise ConfigError(
            f"{key}._target_: '{target}' is not a scikit-learn {what} (it has no "
            f"{', '.join(lacking)}); name one such as {example}."
        )
    params = {
        name: _component(value, f"{key}.{name}", allowed, ESTIMATOR)
        if isinstance(value, Mapping) and "_target_" in value else value
        for name, value in config.items() if name != "_target_"
    }
    return instantiate_checked(cls, from_config_values(cls, params, key, allowed), key)
