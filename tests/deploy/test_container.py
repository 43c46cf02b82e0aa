"""The deploy targets ``rest`` (a container directory) and ``registry``, from one run."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.deploy.registry import Registry
from engine.experiment import run_experiment
from tests.conftest import REPO
from tests.deploy.conftest import start_server


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The default experiment with deploy.targets=[bundle,rest,registry]; run dir, registry."""
    tmp = tmp_path_factory.mktemp("deployed")
    run_dir, registry = tmp / "run", tmp / "registry.db"
    run_dir.mkdir()
    spec = compose_spec(["deploy=registry", "deploy.targets=[bundle,rest,registry]",
                         f"deploy.registry.path={registry}", "report=false",
                         "split.cv.n_splits=2", "metrics.bootstrap.resamples=0",
                         "metrics.explain.importance_repeats=0"])
    console = Console(file=io.StringIO(), width=200)
    run_experiment(spec, run_dir, project_dir=REPO, console=console)
    (run_dir / "console.txt").write_text(console.file.getvalue())
    return run_dir, registry


def test_the_run_is_registered_as_a_challenger(deployed: tuple[Path, Path]) -> None:
    run_dir, registry = deployed
    version = Registry(registry).resolve("breast_cancer-hist_gbm@challenger")
    assert version.version == 1 and Path(version.run_dir) == run_dir.resolve()
    assert "registered: breast_cancer-hist_gbm version 1 @challenger" in (
        run_dir / "console.txt").read_text()
    record = json.loads((run_dir / "run.json").read_text())["deploy"]
    assert record["registry"] == {"name": "breast_cancer-hist_gbm", "version": 1,
                                  "aliases": ["challenger"]}


def test_the_container_files(deployed: tuple[Path, Path]) -> None:
    container = deployed[0] / "container"
    dockerfile = (container / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile and "EXPOSE 8080" in dockerfile
    assert "RUN pip install --no-cache-dir -r requirements.txt\n" in dockerfile  # no torch index
    assert 'CMD ["python", "-m", "engine", "serve", "/app/model", "--host", "0.0.0.0", ' \
           '"--port", "8080"]' in dockerfile
    requirements = (container / "requirements.txt").read_text().split()
    for name in ("scikit-learn", "numpy", "pandas", "fastapi", "uvicorn", "joblib"):
        assert f"{name}=={metadata.version(name)}" in requirements
    assert not any(line.startswith("torch==") for line in requirements)
    assert f"container: {container} (docker build it" in (
        deployed[0] / "console.txt").read_text()
    assert (container / "model" / "MANIFEST.json").is_file()
    assert (container / "engine" / "deploy" / "server.py").is_file()


@pytest.mark.slow
def test_the_containers_command_serves_locally(deployed: tuple[Path, Path]) -> None:
    """The Dockerfile's CMD, run with /app as the container directory (images cannot be built
    here): the copied engine source serves the copied bundle."""
    container = deployed[0] / "container"
    cmd_line = next(line for line in (container / "Dockerfile").read_text().splitlines()
                    if line.startswith("CMD "))
    command = [part.replace("/app", str(container)) for part in json.loads(cmd_line[4:])]
    command[0] = sys.executable
    command[command.index("0.0.0.0")] = "127.0.0.1"
    command[command.index("--port") + 1] = "{port}"
    env = {"PYTHONPATH": str(container)}
    imported = subprocess.run([sys.executable, "-c", "import engine; print(engine.__file__)"],
                              cwd=container, env=env, capture_output=True, text=True)
    assert imported.stdout.strip() == str(container / "engine" / "__init__.py")
    for url in start_server(command=command, cwd=container, env=env):
        metadata_body = httpx.get(f"{url}/metadata").json()
        assert metadata_body["lineage"]["bundle"] == str(container / "model")
        row = {column["name"]: 1.0 for column in metadata_body["schema"]["columns"]}
        answer = httpx.post(f"{url}/invocations", json={"dataframe_records": [row]})
        assert answer.status_code == 200 and answer.json()["predictions"] in ([0], [1])


def test_a_pytorch_models_container_installs_the_cpu_build_of_torch(tmp_path: Path) -> None:
    spec = compose_spec(["dataset=iris", "model=mlp", "model.max_epochs=2", "report=false",
                         "deploy.targets=[bundle,rest]", "metrics.explain.importance_repeats=0",
                         "split.cv.n_splits=2", "metrics.bootstrap.resamples=0"])
    run_experiment(spec, tmp_path, project_dir=REPO, console=Console(quiet=True))
    dockerfile = (tmp_path / "container" / "Dockerfile").read_text()
    assert "-r requirements.txt --extra-index-url https://download.pytorch.org/whl/cpu" in \
        dockerfile
    requirements = (tmp_path / "container" / "requirements.txt").read_text().split()
    assert f"torch=={metadata.version('torch')}" in requirements
