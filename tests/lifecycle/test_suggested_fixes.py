"""Every fix a lifecycle message suggests works when pasted as written.

Each case makes a mistake through the real ``retrain`` command, takes the suggested override
out of the real message, runs ``retrain`` again with it pasted verbatim (split as a shell splits
it) and checks that the step then runs: exit 0 (promoted, nothing to do, waiting) or 1 (the
challenger rejected), never 2, the mark of a mistake. ``tests/test_suggested_fixes.py`` counts
these cases when it checks that every suggestion in the source has one.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_main
from tests.lifecycle.conftest import Champion, make_world, train_champion

FEATURE_SEARCH = ("+features.search_space={numeric__simpleimputer__strategy: "
                  "{type: categorical, choices: [mean, median]}}")


@dataclass(frozen=True)
class Case:
    """A mistake (``retrain`` arguments after the lifecycle file), the suggestion its message
    makes (the pattern's first group), the fixture of the champion it is made on (``champion``,
    or ``searched``: one that tuned a feature parameter and has no time column) and whether the
    suggestion replaces the mistaken arguments (an override of the wrong form) or is added
    after them."""

    name: str
    arguments: tuple[str, ...]
    suggestion: str
    champion: str = "champion"
    replaces: bool = False


CASES = [
    Case("promote-alias", ("promote.alias=production",),
         r"or set (lifecycle\.promote\.alias=champion)\."),
    Case("schedule", ("triggers.when=[schedule]",),
         r"e\.g\. (lifecycle\.triggers\.every_hours=24)\."),
    Case("new-rows", ("triggers.when=[new_rows]",),
         r"e\.g\. (lifecycle\.triggers\.every_rows=1000)\."),
    Case("window-width", ("window.kind=last_days",), r"e\.g\. (lifecycle\.window\.days=30)\."),
    Case("override-form", ("gate.alpha", "0.01"), r"e\.g\. (gate\.alpha=0\.01) ",
         replaces=True),
    Case("override-form-list", ("triggers.when", "[drift]"),
         r"or (triggers\.when=\[drift,decay\])\.", replaces=True),
    Case("window-by-time", ("window.kind=last_days", "window.days=30"),
         r"or use (window\.kind=last_rows)\.", champion="searched"),
    Case("search", ("--force",), r"set (lifecycle\.search=true) ", champion="searched"),
]


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """A champion without a time column (ts dropped) whose search picked a feature parameter."""
    return train_champion(tmp_path_factory.mktemp("searched"), "dataset.time_column=null",
                          "dataset.drop=[ts]", "tune=tpe", "tune.n_trials=2", "tune.plots=false",
                          FEATURE_SEARCH)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_suggested_fix_works_when_pasted(request: pytest.FixtureRequest, tmp_path: Path,
                                             case: Case) -> None:
    world = make_world(request.getfixturevalue(case.champion), tmp_path)

    def retrain(*arguments: str) -> tuple[int, str]:
        done = run_main(["retrain", str(world.lifecycle), *arguments], tmp_path, env=world.env)
        return done.returncode, done.stderr.removeprefix("error: ").strip()

    status, message = retrain(*case.arguments)
    assert status == 2, message
    found = re.search(case.suggestion, message)
    assert found, f"no suggestion {case.suggestion!r} in: {message!r}"
    pasted = shlex.split(found[1])
    status, again = retrain(*(pasted if case.replaces else [*case.arguments, *pasted]))
    assert status in (0, 1) and not again, f"{found[1]} did not fix: {message}\nnow: {again}"


def test_a_champion_searched_across_families_is_refused_without_a_circle(
        tmp_path: Path) -> None:
    """Neither search=true nor search=false can retrain it: one line says so, and suggests
    neither (each used to suggest the other)."""
    (tmp_path / "families").mkdir()
    champion = train_champion(tmp_path / "families", "tune=tpe", "tune.n_trials=2",
                              "tune.plots=false", "tune.models=[logistic_regression,dummy]")
    world = make_world(champion, tmp_path)
    for search in ("lifecycle.search=false", "lifecycle.search=true"):
        done = run_main(["retrain", str(world.lifecycle), "--force", search], tmp_path,
                        env=world.env)
        assert done.returncode == 2, done.stdout
        assert done.stderr == (
            "error: lifecycle: the champion searched across model families (tune.models="
            "['logistic_regression', 'dummy']), which retrain cannot compose again (search or "
            "not); train and register a champion of the one family it picked (model=NAME, its "
            "parameters in model.*) to retrain it.\n")
