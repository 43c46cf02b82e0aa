"""Alias moves made after registration reach MLflow's registry: register, promote, rollback,
alias and delete-alias on the engine's registry, read back with MLflow's own client. A version
whose run was logged to MLflow without registering there is registered on its first move; one
never logged leaves MLflow without the alias; a store that is gone is one warning line and the
engine's move stands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason='the tracking extra: pip install -e ".[tracking]"')

from mlflow import MlflowClient

from engine.deploy.registry import Registry
from tests.conftest import REPO, run_main
from tests.postgres import free_port

QUICK = ("model=logistic_regression", "split.cv.n_splits=2", "metrics.bootstrap.resamples=0",
         "metrics.explain.importance_repeats=0", "report=false")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two runs logged to one SQLite store: the first registered as ``cancer`` version 1 with
    ``champion`` by the run itself (mirrored then), the second only logged; and a run never
    logged to MLflow."""
    outputs = tmp_path_factory.mktemp("outputs")
    registry = outputs / "registry.db"
    runs = {}
    for label, extra in (("first", ["tracking=mlflow", "deploy=registry",
                                    "deploy.registry.name=cancer",
                                    "deploy.registry.alias=champion",
                                    f"deploy.registry.path={registry}"]),
                         ("second", ["tracking=mlflow", "tracking.wait=true", "seed=1"]),
                         ("untracked", ["seed=2"])):
        done = run_main([*QUICK, *extra, f"hydra.run.dir={outputs / label}"], outputs)
        assert done.returncode == 0, done.stderr
        runs[label] = outputs / label
    return {**runs, "registry": registry}


def mlflow_aliases(world: dict[str, Path]) -> dict[str, int]:
    uri = json.loads((world["first"] / "mlflow.json").read_text())["tracking_uri"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {alias: int(version)
            for alias, version in client.get_registered_model("cancer").aliases.items()}


def registry(world: dict[str, Path], *args: str) -> str:
    done = run_main(["registry", "--registry", str(world["registry"]), *args], world["first"])
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


def test_every_later_move_is_mirrored_and_a_version_is_registered_on_its_first(
        world: dict[str, Path]) -> None:
    assert mlflow_aliases(world) == {"champion": 1}
    registry(world, "register", str(world["second"]), "cancer", "--alias", "challenger")
    assert mlflow_aliases(world) == {"champion": 1, "challenger": 2}
    uri = json.loads((world["second"] / "mlflow.json").read_text())["tracking_uri"]
    second = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("cancer", "2")
    assert second.run_id == json.loads((world["second"] / "mlflow.json").read_text())["run_id"]
    assert second.tags["engine.version"] == "2"
    registry(world, "promote", "cancer")
    assert mlflow_aliases(world) == {"champion": 2, "challenger": 2}
    registry(world, "rollback", "cancer")
    assert mlflow_aliases(world) == {"champion": 1, "challenger": 2}
    registry(world, "delete-alias", "cancer", "challenger")
    assert mlflow_aliases(world) == {"champion": 1}
    registry(world, "register", str(world["untracked"]), "cancer", "--alias", "champion")
    assert mlflow_aliases(world) == {}  # MLflow holds no version 3: no alias claims version 1
    registry(world, "alias", "cancer", "champion", "2")
    assert mlflow_aliases(world) == {"champion": 2}
    versions = [version.version for version in Registry(world["registry"]).versions("cancer")]
    assert versions == [1, 2, 3]


def test_an_alias_set_in_mlflow_alone_is_left_alone(world: dict[str, Path]) -> None:
    uri = json.loads((world["first"] / "mlflow.json").read_text())["tracking_uri"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias("cancer", "reviewed", "1")
    try:
        registry(world, "alias", "cancer", "staging", "1")
        assert mlflow_aliases(world)["reviewed"] == 1 and mlflow_aliases(world)["staging"] == 1
    finally:  # the other tests see the model as they left it
        client.delete_registered_model_alias("cancer", "reviewed")
        registry(world, "delete-alias", "cancer", "staging")


def test_a_store_that_is_gone_is_a_warning_and_the_move_stands(world: dict[str, Path],
                                                               tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(world["second"], moved)
    logged = json.loads((moved / "mlflow.json").read_text())
    gone = f"http://127.0.0.1:{free_port()}"
    (moved / "mlflow.json").write_text(json.dumps({**logged, "tracking_uri": gone}))
    path = tmp_path / "registry.db"
    done = run_main(["registry", "--registry", str(path), "register", str(moved), "elsewhere",
                     "--alias", "champion"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"warning: MLflow's registry at {gone} still shows the "
                                  "aliases of 'elsewhere' as they were: the server at ")
    assert done.stderr.rstrip().endswith("The engine's registry has the change.")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert Registry(path).alias_version("elsewhere", "champion") == 1


def test_without_mlflow_installed_a_move_warns_and_stands(world: dict[str, Path],
                                                         tmp_path: Path) -> None:
    """MLflow hidden from the interpreter, as where the registry is used without the tracking
    extra: the run's mlflow.json asks for a mirror that cannot be made."""
    path = tmp_path / "registry.db"
    probe = ("import sys; sys.modules['mlflow'] = None\n"
             "from engine.cli import main\n"
             f"main(['registry', '--registry', {str(path)!r}, 'register', "
             f"{str(world['second'])!r}, 'offline', '--alias', 'champion'])\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == (
        "warning: MLflow's registry at " + json.loads(
            (world["second"] / "mlflow.json").read_text())["tracking_uri"]
        + " still shows the aliases of 'offline' as they were: MLflow is not installed here "
        '(pip install -e ".[tracking]" (or pip install "engine[tracking]")). The engine\'s '
        "registry has the change.")
    assert Registry(path).alias_version("offline", "champion") == 1
