"""The champion run's fairness limits hold on the gate rows, or the challenger is rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.deploy.registry import Registry
from tests.conftest import run_main
from tests.lifecycle.conftest import Champion, make_world, train_champion, write_batches

LIMIT = "metrics.fairness.limits.demographic_parity_difference.fail=0.6"


@pytest.fixture(scope="module")
def fair_champion(tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """A champion whose run declared a demographic parity limit across plans, which it meets."""
    return train_champion(tmp_path_factory.mktemp("fair"), "metrics.fairness.sensitive=[plan]",
                          LIMIT)


def test_a_challenger_that_breaks_a_fairness_limit_is_rejected(fair_champion: Champion,
                                                               tmp_path: Path) -> None:
    world = make_world(fair_champion, tmp_path)
    run_main(["retrain", str(world.lifecycle)], tmp_path, env=world.env)
    write_batches(world.batches, range(3, 6), by_plan=True)  # the labels now follow the plan

    done = run_main(["retrain", str(world.lifecycle), "triggers.when=[decay]"], tmp_path,
                    env=world.env)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "and failed its run's check: metrics.fairness.limits" in done.stdout.replace("\n", "")
    decision = Registry(world.registry).decisions("stream")[-1]
    assert decision["outcome"] == "rejected"
    (failure,) = decision["gate"]["fairness"]["failures"]
    assert failure.startswith("plan: demographic_parity_difference")
    assert decision["reasons"][-1] == f"fairness: {failure}"
    assert Registry(world.registry).alias_version("stream", "champion") == 1
