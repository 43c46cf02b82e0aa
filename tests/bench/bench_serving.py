"""The REST service under concurrent single-row requests, against ``mlflow models serve``.

MLflow lives in a virtualenv of its own (never a dependency of the engine); make it once with
the scikit-learn and pandas the engine has, so both servers run the same fitted pipeline:

    python3 -m venv /tmp/mlflow-venv
    /tmp/mlflow-venv/bin/pip install mlflow scikit-learn==<ours> pandas==<ours>

then, from the repository root:

    python tests/bench/bench_serving.py [--load] [--mlflow-venv /tmp/mlflow-venv]

Trains the default experiment (hist_gbm on breast_cancer), serves it with
``python -m engine serve`` and sends
1. 1,024 single-row ``/invocations`` requests from 32 concurrent clients (32 each): errors
   (target 0), throughput, median and p99 latency;
2. single-row requests from 16 concurrent clients for 20 s: throughput and p99;
3. the prediction log's cost: two servers of the same run, one logging (the default) and one
   started with ``--no-log``, 16 clients for 10 s at a time, interleaved off, on three times; the
   ratio is the logging server's throughput over the other's (target >= 0.9), and the log is
   read back to check that it holds every request answered.
With ``--load``, (2) runs for 10 s at a time on a quiet machine and on one made busy by
``../shared/tools/cpu_load.py`` (the one "busy machine" of every under-load figure: two busy
loops), interleaved quiet, loaded, quiet, loaded; the ratio is loaded over quiet throughput
(target >= 0.5).
With ``--mlflow-venv``, the same fitted pipeline is saved with ``mlflow.sklearn.save_model`` and
served by ``mlflow models serve --env-manager local`` (its defaults otherwise), and (2) runs
against it too; the ratios are ours over MLflow's (target: 2x the throughput, a lower p99).
Servers and clients share the machine's cores, as on a developer's laptop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import joblib
from common import REPO, engine_command, timed_process
from sklearn.datasets import load_breast_cancer

from engine.deploy.bundle import load_bundle
from engine.monitoring.prediction_log import read_log

PORT = 8765
CPU_LOAD = REPO.parent / "shared" / "tools" / "cpu_load.py"
ROW = {"dataframe_records": load_breast_cancer(as_frame=True).data.head(1).to_dict("records")}
SAVE_FOR_MLFLOW = """
import sys, joblib, mlflow.sklearn
mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2],
                          serialization_format="cloudpickle")
"""


@dataclass(frozen=True)
class Load:
    requests: int
    errors: int
    per_second: float
    median_ms: float
    p99_ms: float

    def __str__(self) -> str:
        return (f"{self.requests} requests, {self.errors} errors, {self.per_second:.0f} req/s, "
                f"median {self.median_ms:.1f} ms, p99 {self.p99_ms:.1f} ms")


def client_loop(url: str, *, requests: int | None = None, seconds: float | None = None
                ) -> tuple[int, list[float]]:
    """Errors and latencies of one client sending requests one after another."""
    errors, latencies = 0, []
    deadline = time.perf_counter() + (seconds or 0)
    with httpx.Client(base_url=url, timeout=30) as client:
        while (requests is not None and len(latencies) < requests) or \
                (seconds is not None and time.perf_counter() < deadline):
            started = time.perf_counter()
            try:
                errors += client.post("/invocations", json=ROW).status_code != 200
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - started)
    return errors, latencies


def load(url: str, clients: int, **budget: float) -> Load:
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: client_loop(url, **budget), range(clients)))
    elapsed = time.perf_counter() - started
    latencies = sorted(x for _, lat in results for x in lat)
    return Load(requests=len(latencies), errors=sum(e for e, _ in results),
                per_second=len(latencies) / elapsed,
                median_ms=statistics.median(latencies) * 1000,
                p99_ms=latencies[int(0.99 * len(latencies))] * 1000)


@contextmanager
def serving(command: Sequence[str], url: str, env: dict[str, str] | None = None
            ) -> Iterator[str]:
    """A server process, ready (answering a request) and warmed up."""
    server = subprocess.Popen(list(command), cwd=REPO, env={**os.environ, **(env or {})},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.post(f"{url}/invocations", json=ROW).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"{' '.join(command)} did not answer in 60 s")
        client_loop(url, requests=50)
        yield url
    finally:
        server.terminate()
        server.wait()


@contextmanager
def busy_machine(seconds: float) -> Iterator[None]:
    """``cpu_load.py`` spinning for ``seconds`` from the block's start (then waited for)."""
    spinning = subprocess.Popen([sys.executable, str(CPU_LOAD), "--seconds", str(seconds)])
    try:
        time.sleep(0.5)  # its busy loops started
        yield
    finally:
        spinning.wait()


def quiet_and_loaded(url: str, rounds: int = 2, seconds: float = 10.0) -> None:
    """16 clients for ``seconds``, quiet then under ``cpu_load.py``, ``rounds`` times; each
    figure and the ratio of the loaded to the quiet throughput."""
    quiet, loaded = [], []
    for _ in range(rounds):
        quiet.append(load(url, 16, seconds=seconds))
        print(f"  quiet:  {quiet[-1]}")
        with busy_machine(seconds + 1):
            loaded.append(load(url, 16, seconds=seconds))
        print(f"  loaded: {loaded[-1]}")
    ratio = sum(x.per_second for x in loaded) / sum(x.per_second for x in quiet)
    print(f"under load / quiet throughput: {ratio:.2f} (target >= 0.5); p99 quiet "
          f"{max(x.p99_ms for x in quiet):.0f} ms, loaded {max(x.p99_ms for x in loaded):.0f} ms "
          "(the worse round of each)")


def log_on_and_off(run_dir: Path, log: Path, rounds: int = 3, seconds: float = 10.0) -> None:
    """16 clients for ``seconds`` against a server logging to ``log`` and one with --no-log,
    interleaved ``rounds`` times; each figure, the ratio, and the rows the log holds."""
    on_url, off_url = f"http://127.0.0.1:{PORT + 2}", f"http://127.0.0.1:{PORT + 3}"
    on, off = [], []
    with serving(engine_command("serve", str(run_dir), "--port", str(PORT + 2), "--log",
                                str(log)), on_url), \
            serving(engine_command("serve", str(run_dir), "--port", str(PORT + 3), "--no-log"),
                    off_url):
        for _ in range(rounds):
            off.append(load(off_url, 16, seconds=seconds))
            print(f"  log off: {off[-1]}")
            on.append(load(on_url, 16, seconds=seconds))
            print(f"  log on:  {on[-1]}")
    answered = 1 + 50 + sum(x.requests - x.errors for x in on)  # serving()'s warm-up included
    logged = read_log(log)["_request_id"].nunique()  # the server wrote the rest as it stopped
    ratio = sum(x.per_second for x in on) / sum(x.per_second for x in off)
    print(f"log on / log off throughput: {ratio:.2f} (target >= 0.9); p99 off "
          f"{max(x.p99_ms for x in off):.0f} ms, on {max(x.p99_ms for x in on):.0f} ms; "
          f"{logged} of {answered} requests in the log")


def mlflow_server(pipeline: Path, venv: Path, directory: Path) -> tuple[list[str], dict]:
    """Save the pipeline as an MLflow model; the command and environment serving it."""
    model = directory / "mlflow-model"
    env = {"PYTHONPATH": str(REPO),  # the pipeline's column selectors are the engine's
           "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    timed_process([str(venv / "bin" / "python"), "-c", SAVE_FOR_MLFLOW, str(pipeline),
                   str(model)], env=env)
    command = [str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(model),
               "--env-manager", "local", "--port", str(PORT + 1)]
    return command, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlflow-venv", type=Path,
                        help="virtualenv with mlflow (see the module's docstring)")
    parser.add_argument("--load", action="store_true",
                        help="also measure throughput on a machine busy with cpu_load.py")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as outputs:
        timed_process(engine_command("report=false"), env={"ENGINE_OUTPUT_DIR": outputs})
        run_dir = next((Path(outputs) / "runs").iterdir())
        ours_url = f"http://127.0.0.1:{PORT}"
        with serving(engine_command("serve", str(run_dir), "--port", str(PORT)), ours_url):
            print(f"engine, 32 clients x 32 requests (hist_gbm, breast_cancer, one row each): "
                  f"{load(ours_url, 32, requests=32)}")
            ours = load(ours_url, 16, seconds=20.0)
            print(f"engine, 16 clients for 20 s: {ours}")
            if args.load:
                print(f"engine, 16 clients, quiet and under {CPU_LOAD.name}, interleaved:")
                quiet_and_loaded(ours_url)
        print("engine, 16 clients, the prediction log off and on, interleaved:")
        log_on_and_off(run_dir, Path(outputs) / "prediction_log")
        if not args.mlflow_venv:
            print("pass --mlflow-venv to compare with mlflow models serve")
            return
        pickled = Path(outputs) / "pipeline.joblib"  # MLflow's venv has no skops: hand it a pickle
        joblib.dump(load_bundle(run_dir).pipeline, pickled)
        command, env = mlflow_server(pickled, args.mlflow_venv, Path(outputs))
        theirs_url = f"http://127.0.0.1:{PORT + 1}"
        with serving(command, theirs_url, env):
            theirs = load(theirs_url, 16, seconds=20.0)
        print(f"mlflow models serve, 16 clients for 20 s: {theirs}")
        print(f"ratio engine / mlflow: throughput {ours.per_second / theirs.per_second:.2f}x "
              f"(target >= 2), p99 {ours.p99_ms / theirs.p99_ms:.2f}x (target < 1)")


if __name__ == "__main__":
    main()
