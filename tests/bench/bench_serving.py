"""The REST service under concurrent single-row requests, against ``mlflow models serve``.

MLflow lives in a virtualenv of its own (never a dependency of the engine); make it once with
the scikit-learn and pandas the engine has, so both servers run the same fitted pipeline:

    python3 -m venv /tmp/mlflow-venv
    /tmp/mlflow-venv/bin/pip install mlflow scikit-learn==<ours> pandas==<ours>

then, from the repository root:

    python tests/bench/bench_serving.py [--load] [--variants] [--mlflow-venv /tmp/mlflow-venv]

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
With ``--variants`` (issue 21's serving cost), the default experiment is trained three times
(seeds 1, 2, 3) into a scratch registry as bench 1 (champion), 2 (challenger) and 3 (candidate);
two servers stay up, each logging its predictions: (a) ``serve bench@champion`` and (b) ``serve
bench@champion bench@challenger --split 50/50 --shadow bench@candidate`` (single-row requests
carry no key, so each is placed as a whole, at random), both with ``--follow 0`` (neither reads
the registry again). 16 clients for 10 s at a time, interleaved (a), (b) three times; after each
(b) round the shadow's backlog is waited for. The ratio is the median (b) throughput over the
median (a) throughput (target >= 0.85), the live p99 the median of each server's rounds, and the
shadow's coverage its rows answered over the live rows (``/metrics``' engine_variant_rows_total;
target >= 0.99), checked against the prediction log read back after (b) stops. The figures go
to outputs/bench/serving/variants.json.
With ``--mlflow-venv``, the same fitted pipeline is saved with ``mlflow.sklearn.save_model`` and
served by ``mlflow models serve --env-manager local`` (its defaults otherwise), and (2) runs
against it too; the ratios are ours over MLflow's (target: 2x the throughput, a lower p99).
Servers and clients share the machine's cores, as on a developer's laptop.
"""

from __future__ import annotations

import argparse
import os
import shlex
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
from engine.monitoring.columns import SHADOW_PREFIX
from engine.monitoring.prediction_log import read_log
from engine.tracking.files import write_json

PORT = 8765
CPU_LOAD = REPO.parent / "shared" / "tools" / "cpu_load.py"
OUTPUT = REPO / "outputs" / "bench" / "serving"
VERSIONS = (("champion", 1), ("challenger", 2), ("candidate", 3))
"""The registered model's aliases, each on the version trained with this seed."""
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


def register_versions(outputs: Path, registry: Path) -> None:
    """The default experiment trained once per seed of :data:`VERSIONS`, each run registered
    as the next version of ``bench`` with its alias."""
    for alias, seed in VERSIONS:
        directory = outputs / f"seed-{seed}"
        timed_process(engine_command("report=false", f"seed={seed}"),
                      env={"ENGINE_OUTPUT_DIR": str(directory)})
        run_dir = next((directory / "runs").iterdir())
        timed_process(engine_command("registry", "--registry", str(registry), "register",
                                     str(run_dir), "bench", "--alias", alias))


def variant_rows(url: str) -> dict[str, float]:
    """``/metrics``' rows answered by variant (the shadow's: predicted and logged), and the
    shadow's dropped rows and failed requests under ``dropped`` and ``failed``."""
    from prometheus_client.parser import text_string_to_metric_families

    found = {"dropped": 0.0, "failed": 0.0}
    wanted = {"engine_variant_rows_total": None, "engine_shadow_dropped_rows_total": "dropped",
              "engine_shadow_failures_total": "failed"}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name in wanted:
                key = wanted[sample.name] or sample.labels["variant"]
                found[key] = found.get(key, 0.0) + sample.value
    return found


def shadow_settled(url: str, attempts: int = 100) -> dict[str, float]:
    """``variant_rows`` once every live row is accounted for by the shadow (answered, dropped
    or failed), or after ``attempts`` reads 0.1 s apart."""
    for _ in range(attempts):
        rows = variant_rows(url)
        live = sum(value for name, value in rows.items() if name in ("control", "challenger"))
        if shadow_rows(rows) + rows["dropped"] + rows["failed"] >= live:
            break
        time.sleep(0.1)
    return rows


def shadow_rows(rows: dict[str, float]) -> float:
    return sum(value for name, value in rows.items() if name.startswith(SHADOW_PREFIX))


def single_and_variants(registry: Path, outputs: Path, rounds: int = 3,
                        seconds: float = 10.0) -> None:
    """16 clients for ``seconds`` against one model and against a 50/50 split with a shadow,
    interleaved ``rounds`` times; the table of figures, targets and verdicts, and
    ``variants.json``."""
    single_url, split_url = f"http://127.0.0.1:{PORT + 4}", f"http://127.0.0.1:{PORT + 5}"
    common = ("--registry", str(registry), "--follow", "0")
    single_command = engine_command("serve", "bench@champion", "--port", str(PORT + 4),
                                    "--log", str(outputs / "single-log"), *common)
    split_command = engine_command("serve", "bench@champion", "bench@challenger", "--split",
                                   "50/50", "--shadow", "bench@candidate", "--port",
                                   str(PORT + 5), "--log", str(outputs / "split-log"), *common)
    single, split = [], []
    with serving(single_command, single_url), serving(split_command, split_url):
        for _ in range(rounds):
            single.append(load(single_url, 16, seconds=seconds))
            print(f"  one model:        {single[-1]}")
            split.append(load(split_url, 16, seconds=seconds))
            print(f"  split + shadow:   {split[-1]}")
            shadow_settled(split_url)
        rows = shadow_settled(split_url)
    logged = read_log(outputs / "split-log")["_variant"].value_counts()  # flushed at stop
    live = rows["control"] + rows["challenger"]
    coverage, logged_live = shadow_rows(rows) / live, logged.drop(
        [name for name in logged.index if name.startswith(SHADOW_PREFIX)]).sum()
    logged_coverage = (logged.sum() - logged_live) / logged_live
    ratio = statistics.median(x.per_second for x in split) / \
        statistics.median(x.per_second for x in single)
    p99 = [statistics.median(x.p99_ms for x in runs) for runs in (single, split)]
    errors = sum(x.errors for x in (*single, *split))
    table = [
        ("throughput, split + shadow / one model (medians)", f"{ratio:.3f}", ">= 0.85",
         ratio >= 0.85),
        ("shadow coverage, rows answered / live rows (/metrics)",
         f"{coverage:.4f} ({shadow_rows(rows):.0f} of {live:.0f})", ">= 0.99",
         coverage >= 0.99),
        ("shadow coverage in the prediction log", f"{logged_coverage:.4f}", ">= 0.99",
         logged_coverage >= 0.99),
        ("live p99 ms, one model / split + shadow (medians)", f"{p99[0]:.1f} / {p99[1]:.1f}",
         "(report)", None),
        ("errors, all rounds", str(errors), "0", errors == 0),
    ]
    command = shlex.join(["python", *sys.argv])
    write_json(OUTPUT / "variants.json", {
        "command": command, "clients": 16, "seconds_per_round": seconds, "rounds": rounds,
        "cores": os.cpu_count(), "load_average": list(os.getloadavg()),
        "single": [vars(x) for x in single], "split_shadow": [vars(x) for x in split],
        "throughput_ratio": ratio, "p99_ms": {"single": p99[0], "split_shadow": p99[1]},
        "shadow": {"coverage": coverage, "rows": shadow_rows(rows), "live_rows": live,
                   "dropped_rows": rows["dropped"], "failed_requests": rows["failed"],
                   "logged_coverage": float(logged_coverage),
                   "logged_by_variant": {str(k): int(v) for k, v in logged.items()}},
        "live_rows_by_variant": {"control": rows["control"], "challenger": rows["challenger"]}})
    print(f"\n{'figure':<56} {'measured':<26} {'target':<9} verdict")
    for what, measured, target, met in table:
        verdict = "" if met is None else ("PASS" if met else "MISS")
        print(f"{what:<56} {measured:<26} {target:<9} {verdict}")
    print(f"\nfigures: {(OUTPUT / 'variants.json').relative_to(REPO)}")


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
    parser.add_argument("--variants", action="store_true",
                        help="only the cost of a 50/50 split with a shadow against one model "
                             "(issue 21), interleaved")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as outputs:
        if args.variants:
            print("engine, 16 clients, one model and a 50/50 split with a shadow, interleaved:")
            register_versions(Path(outputs), Path(outputs) / "registry.db")
            single_and_variants(Path(outputs) / "registry.db", Path(outputs))
            return
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
