"""Building the features ColumnTransformer from the ``features`` config group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline, make_pipeline

from engine.config.binding import instantiate_checked
from engine.config.checks import check_keys
from engine.config.targets import import_target
from engine.errors import ConfigError, did_you_mean, options_hint
from engine.features.selectors import ColumnSelector

BLOCK_KEYS = ("dtype", "columns", "exclude", "steps")
REMAINDER_OPTIONS = ("drop", "passthrough")


def build_preprocessor(
    features: Mapping[str, Any],
    *,
    columns: Sequence[str] | None = None,
    allowed: Iterable[str] = (),
) -> ColumnTransformer:
    """One ColumnTransformer: a block of steps per named group of columns.

    With ``columns`` (the data's feature names) given, every column named in the config is
    checked to exist, so a typo fails with did-you-mean instead of deep inside ``fit``.
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


def _selector(block: Mapping[str, Any], key: str, columns: Sequence[str] | None) -> ColumnSelector:
    check_keys(block, BLOCK_KEYS, f"{key}.")
    names = tuple(block.get("columns") or ())
    exclude = tuple(block.get("exclude") or ())
    if not names and not block.get("dtype"):
        raise ConfigError(
            f"{key}: say which columns the block takes, with `columns: [name, ...]` or "
            "`dtype: numeric | categorical | datetime | <pandas dtype>`."
        )
    if columns is not None:
        for field, listed in (("columns", names), ("exclude", exclude)):
            for column in listed:
                if column not in columns:
                    raise ConfigError(
                        f"{key}.{field}: the data has no column '{column}'."
                        f"{did_you_mean(column, columns)}"
                    )
    return ColumnSelector(kind=block.get("dtype"), names=names, exclude=exclude)


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
        params = {k: v for k, v in step.items() if k != "_target_"}
        cls = import_target(step["_target_"], f"{step_key}._target_", allowed)
        built.append(instantiate_checked(cls, params, step_key))
    return make_pipeline(*built)
