"""The model registry: versions, aliases, promotion, and serving NAME@ALIAS."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest

from engine.deploy.bundle import PICKLE_FILE, PIPELINE_FILE
from engine.deploy.registry import Registry, resolve_model
from engine.errors import ConfigError, DataError
from tests.conftest import REPO, run_cli, run_main
from tests.deploy.conftest import start_server
from tests.deploy.test_bundle_trust import reseal, swap_in_pickle


@pytest.fixture
def two_runs(trained_run: Path, tmp_path: Path) -> tuple[Path, Path]:
    second = tmp_path / "second"
    shutil.copytree(trained_run, second)
    return trained_run, second


def test_versions_aliases_and_promotion(two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.db")
    first = registry.register(two_runs[0], "churn", alias="champion")
    second = registry.register(two_runs[1], "churn", alias="challenger", description="retrained")
    assert (first.version, second.version) == (1, 2)
    assert registry.resolve("churn@champion").version == 1
    promoted = registry.promote("churn", "challenger", "champion")
    assert promoted.version == 2 and set(promoted.aliases) == {"champion", "challenger"}
    assert registry.resolve("models:/churn@champion").run_dir == str(two_runs[1].resolve())
    assert registry.resolve("churn/1").aliases == ()
    registry.set_alias("churn", "champion", 1)  # roll back
    assert registry.resolve("churn@champion").version == 1
    registry.delete_alias("churn", "challenger")
    assert [v.aliases for v in registry.versions("churn")] == [("champion",), ()]


@pytest.mark.parametrize(("reference", "message"), [
    ("chrun@champion", "no model 'chrun'. Did you mean 'churn'"),
    ("churn@champoin", "no alias 'champoin'. Did you mean 'champion'"),
    ("churn/7", "has no version 7; it has 1"),
    ("churn", "NAME@ALIAS or NAME/VERSION"),
])
def test_unknown_references_are_named(trained_run: Path, tmp_path: Path, reference: str,
                                      message: str) -> None:
    registry = Registry(tmp_path / "registry.db")
    registry.register(trained_run, "churn", alias="champion")
    with pytest.raises(ConfigError, match=message):
        registry.resolve(reference)


def test_a_bundle_changed_after_registration_is_refused(two_runs: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    registry_path = tmp_path / "registry.db"
    Registry(registry_path).register(two_runs[1], "churn", alias="champion")
    bundle, lineage = resolve_model("churn@champion", registry_path)
    assert bundle.directory == two_runs[1] / "model"
    assert lineage["registered"] == {"name": "churn", "version": 1, "aliases": ["champion"],
                                     "created": lineage["registered"]["created"]}
    manifest = two_runs[1] / "model" / "MANIFEST.json"
    manifest.write_text(manifest.read_text().replace("{", "{ ", 1))
    with pytest.raises(DataError, match="changed after it was registered"):
        resolve_model("churn@champion", registry_path)


def test_a_pipeline_swapped_after_registration_is_refused_before_it_loads(
        two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    registry_path = tmp_path / "registry.db"
    Registry(registry_path).register(two_runs[1], "churn", alias="champion")
    marker = tmp_path / "ran"
    swap_in_pickle(two_runs[1] / "model", marker)  # the manifest resealed to match
    with pytest.raises(DataError, match="changed after it was registered"):
        resolve_model("churn@champion", registry_path, trust_pickle=True)
    assert not marker.exists()


def test_an_older_pickled_bundle_registers_and_serves_only_when_trusted(
        two_runs: tuple[Path, Path], tmp_path: Path) -> None:
    bundle = two_runs[1] / "model"
    pipeline = resolve_model(str(two_runs[1]))[0].pipeline
    (bundle / PIPELINE_FILE).unlink()
    joblib.dump(pipeline, bundle / PICKLE_FILE)
    reseal(bundle, PICKLE_FILE)
    registry = Registry(tmp_path / "registry.db")
    with pytest.raises(DataError, match="pass --trust-pickle if you trust its origin"):
        registry.register(two_runs[1], "churn", alias="champion")
    registry.register(two_runs[1], "churn", alias="champion", trust_pickle=True)
    with pytest.raises(DataError, match="is a pickle written by an older version"):
        resolve_model("churn@champion", registry.path)
    assert resolve_model("churn@champion", registry.path, trust_pickle=True)[0].pipeline


@pytest.mark.parametrize(("make", "message"), [
    (lambda path: path.write_text("not a database\n" * 100),
     r"registry .*registry.db: not a SQLite registry database \(file is not a database\); "
     r"point ENGINE_REGISTRY at"),
    (lambda path: path.mkdir(),
     r"registry .*registry.db: is a directory, not a registry database; point ENGINE_REGISTRY "
     r"at a file such as"),
])
def test_a_registry_path_that_is_no_database_is_one_line_and_exit_2(
        trained_run: Path, tmp_path: Path, make: Any, message: str) -> None:
    path = tmp_path / "registry.db"
    make(path)
    with pytest.raises(DataError, match=message):
        Registry(path).versions()
    for args in (["registry", "list"], ["serve", "churn@champion"]):
        done = run_main(args, tmp_path, {"ENGINE_REGISTRY": str(path)})
        assert done.returncode == 2, done.stderr
        assert re.search(message, done.stderr) and "Traceback" not in done.stderr


@pytest.mark.slow
def test_registry_commands_and_serving_an_alias(trained_run: Path, tmp_path: Path) -> None:
    env = {"ENGINE_REGISTRY": str(tmp_path / "registry.db")}
    done = run_main(["registry", "register", str(trained_run), "churn", "--alias", "challenger"],
                    tmp_path, env)
    assert done.returncode == 0 and "registered churn version 1" in done.stdout, done.stderr
    done = run_main(["registry", "promote", "churn"], tmp_path, env)
    assert done.returncode == 0
    assert done.stdout == ("churn@champion -> version 1 (was challenger); recorded as manual, no "
                           "gate\n")
    listing = run_main(["registry", "list"], tmp_path, env).stdout
    assert "challenger, champion" in listing and str(trained_run.resolve()) in listing
    bad = run_main(["registry", "alias", "churn", "latest", "1"], tmp_path, env)
    assert bad.returncode == 2 and "reserved" in bad.stderr
    for url in start_server("churn@champion", env=env):
        metadata = httpx.get(f"{url}/metadata").json()
        assert metadata["lineage"]["registered"]["version"] == 1
        assert metadata["lineage"]["registered"]["aliases"] == ["challenger", "champion"]


def test_serving_an_unknown_model_exits_2(tmp_path: Path) -> None:
    env = {"ENGINE_REGISTRY": str(tmp_path / "none.db")}
    # A process of its own: were the reference to resolve, serve would block this one.
    done = run_cli(["serve", "churn@champion"], tmp_path, env)
    assert done.returncode == 2
    assert "no such run directory, and no registry at" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_registry_target_registers_a_challenger_to_promote(tmp_path: Path) -> None:
    env = {"ENGINE_REGISTRY": str(tmp_path / "registry.db")}
    done = run_main(["dataset=iris", "model=logistic_regression",
                     "deploy.targets=[bundle,registry]", "split.cv.n_splits=2", "report=false",
                     "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0"],
                    tmp_path, env)
    assert done.returncode == 0, done.stderr
    registry = Registry(tmp_path / "registry.db")
    assert registry.resolve("iris-logistic_regression@challenger").version == 1
    done = run_main(["registry", "promote", "iris-logistic_regression"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "iris-logistic_regression@champion -> version 1 (was challenger)" in done.stdout
    assert registry.resolve("iris-logistic_regression@champion").version == 1


def test_registry_commands_start_without_scikit_learn(trained_run: Path, tmp_path: Path) -> None:
    """Listing, aliasing, promoting and the history read SQLite only; scikit-learn (1 s) waits
    for register, rollback (which checks the bundle) and serve."""
    Registry(tmp_path / "registry.db").register(trained_run, "churn", alias="challenger")
    probe = ("import sys\n"
             "from engine.cli import main\n"
             "for args in (['list'], ['promote', 'churn'], ['alias', 'churn', 'old', '1'], "
             "['history', 'churn']):\n"
             "    main(['registry', *args])\n"
             "print('HEAVY', sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', "
             "'pandas', 'torch'}))\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "ENGINE_REGISTRY": str(tmp_path / "registry.db")})
    assert done.returncode == 0, done.stderr
    assert "churn@champion -> version 1" in done.stdout
    assert "HEAVY []" in done.stdout
