"""The runner's declared changes fit the README as it is."""

from __future__ import annotations

from tests.readme.markdown import read_readme
from tests.readme.plan import SKIPS, rewrite, unused
from tests.readme.runner import REPOSITORY, readme_commands

ITEMS = read_readme(REPOSITORY / "README.md")
COMMANDS = readme_commands(ITEMS)


def test_every_skip_rewrite_and_placeholder_matches_a_readme_command() -> None:
    assert unused(COMMANDS) == []


def test_at_least_nine_in_ten_readme_commands_run_even_without_the_shared_data() -> None:
    assert len(SKIPS) <= 0.1 * len(COMMANDS)


def test_a_rewrite_keeps_the_command_and_shrinks_its_budget() -> None:
    assert rewrite("python -m engine model=hist_gbm tune=tpe tune.n_trials=50") == (
        "python -m engine model=hist_gbm tune=tpe tune.n_trials=4")
    assert rewrite("python -m engine serve outputs/runs/<timestamp> --port 8080") == (
        "python -m engine serve outputs/runs/<timestamp> --port {port}")



def test_a_transcript_without_a_blocks_optional_arguments_is_that_blocks_command() -> None:
    block = ("python -m engine compare outputs/runs/<a> outputs/runs/<b> [--metric accuracy] "
             "[--alpha 0.05]")
    transcript = "python -m engine compare outputs/runs/<a> outputs/runs/<b>"
    assert block in COMMANDS
    assert transcript not in COMMANDS
    assert rewrite(block) == rewrite(transcript)
