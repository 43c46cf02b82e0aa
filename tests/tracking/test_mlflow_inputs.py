"""Tracking's bad inputs: one line and exit 2 before any work; a server that is down only warns.
And MLflow stays unimported unless tracking=mlflow asks for it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from engine.config.compose import CONFIG_DIR
from engine.config.schema import TrackingConfig
from tests.conftest import FAST, REPO, only_run_dir, run_main
from tests.postgres import free_port


@pytest.mark.parametrize(("uri", "message"), [
    ("htp://localhost:5000", r"tracking.tracking_uri='htp://localhost:5000': unknown scheme "
                             r"'htp'. Did you mean 'http'\?"),
    ("outputs/mlflow.db", r"not a URI. Write a local store as sqlite:///outputs/mlflow.db"),
    ("sqlite://mlflow.db", r"a SQLite store is sqlite:///<file>"),
    ("http://:5000", r"no host. Write it as http://host:port"),
    ("http://no-such-host.invalid:5000", r"the host 'no-such-host.invalid' is unreachable"),
])
def test_a_bad_tracking_uri_is_one_line_and_exit_2_before_any_data(
        uri: str, message: str, tmp_path: Path) -> None:
    done = run_main(["tracking=mlflow", f"tracking.tracking_uri={uri}"], tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert re.search(message, line), line
    assert not list(tmp_path.rglob("data_report.json"))  # no data was loaded


def test_a_sweep_with_a_bad_uri_starts_no_job(tmp_path: Path) -> None:
    done = run_main(["-m", "seed=1,2", "tracking=mlflow", "tracking.tracking_uri=htp://x:1"],
                    tmp_path)
    assert done.returncode == 2
    assert "No job was started" in done.stderr and "Did you mean 'http'?" in done.stderr


def test_without_mlflow_installed_the_extra_is_named() -> None:
    """MLflow hidden from the interpreter, as on a machine without the tracking extra."""
    probe = ("import sys; sys.modules['mlflow'] = None\n"
             "from engine.cli import main\n"
             "main(['tracking=mlflow'])\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        'error: tracking=mlflow: MLflow is not installed. Install the tracking extra: pip '
        'install -e ".[tracking]" (or pip install "engine[tracking]"), or use tracking=none.')


@pytest.mark.slow
def test_a_server_that_is_down_warns_and_the_run_completes(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason='the tracking extra: pip install -e ".[tracking]"')
    uri = f"http://127.0.0.1:{free_port()}"
    done = run_main(["tracking=mlflow", f"tracking.tracking_uri={uri}", "tracking.wait=true",
                     "report=false", *FAST], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: tracking: the run was not logged to MLflow (the server at " \
           f"{uri} does not answer" in done.stdout.replace("\n", " ")
    run_dir = only_run_dir(tmp_path)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "ok"
    assert (run_dir / "model" / "MANIFEST.json").is_file()
    assert not (run_dir / "mlflow.json").exists()
    again = run_main(["runs", "sync"], tmp_path)  # tries again, and says why it still cannot
    assert again.returncode == 1
    assert f"{run_dir}: not logged to MLflow (the server at {uri} does not answer" in \
           again.stdout.replace("\n", " ")


@pytest.mark.slow
def test_the_default_run_does_not_import_mlflow(tmp_path: Path) -> None:
    probe = ("import sys\n"
             "from engine.cli import main\n"
             f"main(['report=false', 'paths.output_dir={tmp_path}', '{FAST[0]}'])\n"
             "print('MLFLOW', 'mlflow' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "MLFLOW False" in done.stdout


@pytest.mark.parametrize("path", sorted((CONFIG_DIR / "tracking").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_key_of_the_shipped_tracking_files_is_known(path: Path) -> None:
    values = OmegaConf.to_container(OmegaConf.load(path))
    assert isinstance(values, dict)
    assert set(values) <= set(TrackingConfig.model_fields)
