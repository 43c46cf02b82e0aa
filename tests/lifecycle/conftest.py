"""A champion trained by the CLI on a stream of CSV batches and registered, and the world each
test retrains it in: a copy of the registry, a folder the batches land in, a lifecycle file."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import run_main

BATCH_ROWS = 400
DATASET = """\
name: stream
source: file
path: {path}
target: y
time_column: ts
"""


def batch(index: int, *, shift: float = 0.0, flip: bool = False, labelled: bool = True,
          rows: int = BATCH_ROWS, by_plan: bool = False) -> pd.DataFrame:
    """Batch ``index`` of the stream: x1, x2 (shifted by ``shift``), plan and the label y; with
    ``flip`` the rule between them is another (a concept change), with ``by_plan`` the label is
    mostly the plan's (a model learning it treats plans unequally); hourly times, in order."""
    rng = np.random.default_rng(index)
    x1, x2 = rng.normal(shift, 1, rows), rng.normal(shift, 1, rows)
    plan = rng.choice(["a", "b", "c"], rows)
    score = (x2 - x1) if flip else (x1 - 0.5 * x2 + (plan == "c") * 0.8)
    if by_plan:
        score = (plan == "c") * 2.0 - 1.0 + 0.8 * x1
    label = (score + rng.normal(0, 0.5, rows) > 0).astype(int)
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(
        index * BATCH_ROWS + np.arange(rows), unit="h")
    return pd.DataFrame({"ts": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "x1": x1, "x2": x2,
                         "plan": plan, "y": label if labelled else pd.NA})


def write_batches(folder: Path, indices: range, **options: object) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in indices:
        batch(index, **options).to_csv(folder / f"batch_{index:02d}.csv", index=False)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Champion:
    run_dir: Path
    registry: Path
    data: Path


@pytest.fixture(scope="module")
def champion(tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """stream@champion: a logistic regression the CLI trained on batches 0-2, registered."""
    return train_champion(tmp_path_factory.mktemp("champion"))


def train_champion(tmp: Path, *overrides: str) -> Champion:
    """The champion trained in ``tmp`` (with ``overrides``) and registered there."""
    data = tmp / "train.csv"
    pd.concat([batch(index) for index in range(3)]).to_csv(data, index=False)
    (tmp / "conf" / "dataset").mkdir(parents=True)
    (tmp / "conf" / "dataset" / "stream.yaml").write_text(DATASET.format(path=data))
    done = run_main(["--config-dir", str(tmp / "conf"), "dataset=stream",
                     "model=logistic_regression", "split.cv.n_splits=3", "report=false",
                     *overrides], tmp / "outputs")
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp / "outputs" / "runs").iterdir()
    registry = tmp / "registry.db"
    done = run_main(["registry", "--registry", str(registry), "register", str(run_dir), "stream",
                     "--alias", "champion"], tmp / "outputs")
    assert done.returncode == 0, done.stderr
    return Champion(run_dir, registry, data)


@dataclass(frozen=True)
class World:
    """One test's registry (a copy), batches folder, lifecycle file and state folder."""

    registry: Path
    batches: Path
    lifecycle: Path
    state: Path
    champion: Champion

    def settings(self, **changes: object) -> Path:
        """Rewrite the lifecycle file with ``changes`` (top-level keys) and return it."""
        values = yaml.safe_load(self.lifecycle.read_text())
        values.update(changes)
        self.lifecycle.write_text(yaml.safe_dump(values))
        return self.lifecycle

    @property
    def env(self) -> dict[str, str]:
        return {"ENGINE_REGISTRY": str(self.registry)}


@pytest.fixture
def world(champion: Champion, tmp_path: Path) -> World:
    """Batches 0-2 (what the champion saw) in a folder; a lifecycle file that watches it."""
    return make_world(champion, tmp_path)


def make_world(champion: Champion, tmp_path: Path) -> World:
    """A test's world around ``champion``."""
    registry = tmp_path / "registry.db"
    shutil.copy(champion.registry, registry)
    batches, state = tmp_path / "batches", tmp_path / "state"
    write_batches(batches, range(3))
    lifecycle = tmp_path / "lifecycle.yaml"
    lifecycle.write_text(yaml.safe_dump({
        "model": "stream@champion",
        "source": {"type": "files", "path": str(batches / "*.csv")},
        "window": {"kind": "last_rows", "rows": 1200},
        "triggers": {"when": ["drift", "decay"]},
        "gate": {"holdout_rows": 400, "min_rows": 200, "resamples": 500},
        "state_dir": str(state)}))
    return World(registry, batches, lifecycle, state, champion)
