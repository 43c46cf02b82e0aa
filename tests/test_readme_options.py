"""The README's lists of options agree with what ships (engine/conf/, the schema, the samplers),
so a new or renamed option cannot leave them stale."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import get_args

import pytest

from engine.config.schema.deploy import Target
from engine.config.schema.tune import Method, Pruner
from engine.tuning.samplers import SAMPLERS
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
CONF = REPO / "engine" / "conf"
PARENTHESES = re.compile(r"\([^()]*\)")
CODE = re.compile(r"`([^`]+)`")


def named(text: str) -> set[str]:
    """The `code` names in ``text``, leaving out those in parentheses (remarks, not options)."""
    while PARENTHESES.search(text):
        text = PARENTHESES.sub("", text)
    return set(CODE.findall(text))


def table_cell(key: str, column: int = 1) -> str:
    """The cell of the README table row whose first cell is `key`."""
    rows = [line for line in README.splitlines() if line.startswith(f"| `{key}` |")]
    assert len(rows) == 1, f"README: expected one table row for `{key}`, found {len(rows)}"
    return rows[0].split(" | ")[column]


def shipped(group: str) -> set[str]:
    return {path.stem for path in (CONF / group).glob("*.yaml")}


GROUPS = sorted(path.name for path in CONF.iterdir() if path.is_dir() and path.name != "hydra")


def test_the_config_groups_table_has_a_row_for_every_group() -> None:
    start = README.index("### Config groups")
    table = README[start:README.index("\n\n", README.index("|", start))]
    rows = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    assert rows == ["dataset", "features", "split", "model", "metrics", "tune", "deploy",
                    "monitor", "lifecycle", "card", "tracking", "experiment", "paths"]
    assert sorted(rows) == GROUPS


@pytest.mark.parametrize("group", GROUPS)
def test_the_config_groups_table_lists_every_option_of_a_group(group: str) -> None:
    assert named(table_cell(group)) == shipped(group)


@pytest.mark.parametrize(("listed", "literal"), [
    (lambda: table_cell("method").split(" — ")[0], Method),
    (lambda: table_cell("pruner`, `pruner_options").split(";")[0], Pruner),
    (lambda: README.split("`deploy.targets` lists several at once: ")[1].split(":\n")[0], Target),
], ids=["tune.method", "tune.pruner", "deploy.targets"])
def test_a_listed_choice_is_every_value_the_schema_takes(listed: Callable[[], str],
                                                        literal: object) -> None:
    assert named(listed()) == set(get_args(literal))


def test_the_tune_methods_are_the_tune_files() -> None:
    # tune=auto is a preset (TPE across families), listed in the config groups table, not a method
    assert named(table_cell("method").split(" — ")[0]) == shipped("tune") - {"auto"}


def test_the_sweepers_methods_are_the_samplers_less_none_and_grid() -> None:
    listed = README.split("`method` (sampler: ")[1].split(";")[0]
    assert named(listed) == set(SAMPLERS) - {"none", "grid"}
