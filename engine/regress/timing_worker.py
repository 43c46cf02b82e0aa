"""One side's timing worker for ``regress --against``: a long-lived process that times one fit
or one single-row prediction of an experiment each time it is asked.

Started as a script (``python -P timing_worker.py``) with the side's tree first on
``PYTHONPATH``, so ``engine`` here is that side's engine: the protocol is the change's, the
code timed is the side's own. It reads one JSON request a line on stdin and answers one JSON
line on stdout::

    {"op": "load", "run_dir": "...", "features": "x.parquet", "target": "y.parquet",
     "fit_threads": 1, "predict_threads": 1}                -> {"ok": true}
    {"op": "fit"}                                           -> {"ok": true, "value": 0.42}
    {"op": "predict"}                                       -> {"ok": true, "value": 1.7}

``fit`` is seconds of a fit of the run's pipeline (cloned, unfitted) on the training rows the
change side wrote (the same rows for both sides, whatever either side's loaders do);
``predict`` is milliseconds of one row through the saved bundle, schema checks included, as
``engine predict`` and serving run it. Each runs with the BLAS and OpenMP threads the engine
would give it (``fit_threads``, ``predict_threads``: one for a small fit, as
``engine.threads.threads_per_process`` decides): threads a fit has no use for spin on a busy
machine and make its timings many times slower and noisier. Imports and loading are never timed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

WARM_MODULES = ("pandas", "sklearn.base", "threadpoolctl", "engine.deploy.batch_predict",
                "engine.deploy.bundle")


class Experiment:
    """A loaded experiment: its bundle, its training rows and the row it predicts."""

    def __init__(self, run_dir: Path, features: Path, target: Path, fit_threads: int,
                 predict_threads: int) -> None:
        import pandas as pd

        from engine.deploy.batch_predict import predict_rows
        from engine.deploy.bundle import load_bundle

        self.X = pd.read_parquet(features)
        self.y = pd.read_parquet(target).iloc[:, 0]
        self.bundle = load_bundle(run_dir)
        self.row = self.X.iloc[:1]
        self.predict_rows = predict_rows
        self.fit_threads, self.predict_threads = fit_threads, predict_threads
        self.predict()  # warm-up: lazy imports and first-call caches are not timed

    def fit(self) -> float:
        from sklearn.base import clone
        from threadpoolctl import threadpool_limits

        pipeline = clone(self.bundle.pipeline)
        with threadpool_limits(self.fit_threads):
            started = time.perf_counter()
            pipeline.fit(self.X, self.y)
            return time.perf_counter() - started

    def predict(self) -> float:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.predict_threads):
            started = time.perf_counter()
            self.predict_rows(self.bundle, self.row)
            return (time.perf_counter() - started) * 1000


def answer(request: dict[str, Any], loaded: dict[str, Experiment]) -> dict[str, Any]:
    if request["op"] == "load":
        loaded["current"] = Experiment(Path(request["run_dir"]), Path(request["features"]),
                                       Path(request["target"]), request["fit_threads"],
                                       request["predict_threads"])
        return {"ok": True}
    experiment = loaded["current"]
    value = experiment.fit() if request["op"] == "fit" else experiment.predict()
    return {"ok": True, "value": value}


def warm_up() -> None:
    """Import what loading an experiment imports, before the first request: the worker starts
    while the change's runs are still training. One the side lacks, or that fails to import,
    is reported when the experiment loads, as an answer."""
    for module in WARM_MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(module)


def serve() -> None:
    """Answer requests until stdin closes; an exception is answered, never fatal. What the
    side's code prints goes to stderr, so stdout carries only answers."""
    channel, sys.stdout = sys.stdout, sys.stderr
    warm_up()
    loaded: dict[str, Experiment] = {}
    for line in sys.stdin:
        try:
            reply = answer(json.loads(line), loaded)
        except Exception as error:
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}",
                     "traceback": traceback.format_exc()}
        channel.write(json.dumps(reply) + "\n")
        channel.flush()


if __name__ == "__main__":
    serve()
