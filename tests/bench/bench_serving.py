"""The REST service under concurrent single-row requests.

    python tests/bench/bench_serving.py

Trains the default experiment, serves it with ``python -m engine serve``, and sends
1. 1,024 single-row ``/invocations`` requests from 32 concurrent clients (32 each): errors
   (target 0), throughput, median and p99 latency;
2. single-row requests from 16 concurrent clients for 20 s: throughput and p99.
The comparison with ``mlflow models serve`` on the same model (issue 7's 2x target) is not
written yet.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from common import REPO, engine_command, timed_process
from sklearn.datasets import load_breast_cancer

PORT = 8765
ROW = {"dataframe_records": load_breast_cancer(as_frame=True).data.head(1).to_dict("records")}


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


def load(url: str, clients: int, **budget: float) -> str:
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: client_loop(url, **budget), range(clients)))
    elapsed = time.perf_counter() - started
    latencies = sorted(x for _, lat in results for x in lat)
    errors = sum(e for e, _ in results)
    return (f"{len(latencies)} requests, {errors} errors, {len(latencies) / elapsed:.0f} req/s, "
            f"median {statistics.median(latencies) * 1000:.1f} ms, p99 "
            f"{latencies[int(0.99 * len(latencies))] * 1000:.1f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory() as outputs:
        timed_process(engine_command("report=false"), env={"ENGINE_OUTPUT_DIR": outputs})
        run_dir = next((Path(outputs) / "runs").iterdir())
        server = subprocess.Popen([sys.executable, "-m", "engine", "serve", str(run_dir),
                                   "--port", str(PORT)], cwd=REPO)
        url = f"http://127.0.0.1:{PORT}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            client_loop(url, requests=50)  # warm-up
            print(f"32 clients x 32 requests (hist_gbm, breast_cancer, one row each): "
                  f"{load(url, 32, requests=32)}")
            print(f"16 clients for 20 s: {load(url, 16, seconds=20.0)}")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
