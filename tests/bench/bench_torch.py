"""PyTorch backend throughput, side by side in one run.

    python tests/bench/bench_torch.py [--skorch-python /tmp/skorch_venv/bin/python]
    python tests/bench/bench_torch.py --device cuda --rows 1000000 --precision bf16   # a GPU

The network is 100-256-256-2 (ReLU) on 50,000 x 100 float32 rows, batch 256, Adam, 2 threads.
Contenders: the engine's TorchClassifier (no validation split, no schedule, so it does the
same work; and, for information, with its default 10 % validation split and early-stopping
bookkeeping, counted in rows trained on), a bare tensor-slicing loop (throughput_data.bare_loop),
and skorch 1.4 in its own venv (skorch_throughput.py). Each fit runs EPOCHS epochs; figures are
medians of REPEATS rounds, the contenders interleaved.
Targets (CPU): engine >= 0.9 x the bare loop and >= 2.5 x skorch.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import torch
from throughput_data import BATCH, LR, WIDTH, bare_loop, make_data

from engine.models.torch import TorchClassifier

HERE = Path(__file__).parent


def engine_fit(X, y, epochs: int, device: str, precision: str, validation: float = 0.0) -> None:
    TorchClassifier(module__width=WIDTH, module__depth=2, module__dropout=0.0, optimizer="adam",
                    lr=LR, batch_size=BATCH, max_epochs=epochs, patience=10,
                    validation_fraction=validation, device=device, precision=precision,
                    random_state=0).fit(X, y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="32", choices=["32", "bf16", "fp16"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skorch-python", help="a venv's python with skorch 1.4 installed")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = make_data(args.rows)
    amp = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]
    engine_fit(X[:2048], y[:2048], 1, args.device, args.precision)  # warm-up: kernels, imports
    bare_loop(X[:2048], y[:2048], 1, args.device, amp)
    seconds: dict[str, list[float]] = {"engine": [], "bare loop": [], "skorch 1.4": [],
                                       "engine, 10 % validation": []}
    for _ in range(args.repeats):
        seconds["engine"].append(
            timed(lambda: engine_fit(X, y, args.epochs, args.device, args.precision)))
        seconds["engine, 10 % validation"].append(timed(
            lambda: engine_fit(X, y, args.epochs, args.device, args.precision, validation=0.1)))
        seconds["bare loop"].append(timed(lambda: bare_loop(X, y, args.epochs, args.device, amp)))
        if args.skorch_python:
            done = subprocess.run([args.skorch_python, str(HERE / "skorch_throughput.py"),
                                   str(args.rows), str(args.epochs)],
                                  capture_output=True, text=True, check=True)
            seconds["skorch 1.4"].append(float(done.stdout.strip().splitlines()[-1]))
    trained = {"engine, 10 % validation": 0.9}  # the share of rows each epoch trains on
    rate = {name: trained.get(name, 1.0) * args.rows * args.epochs / statistics.median(values)
            for name, values in seconds.items() if values}
    print(f"{args.rows:,} x 100 rows, batch {BATCH}, {args.epochs} epochs, {args.device}, "
          f"precision {args.precision}, {args.threads} threads; median of {args.repeats}")
    for name, value in rate.items():
        print(f"  {name:<24} {value:>12,.0f} training samples/s")
    print(f"  engine / bare loop: {rate['engine'] / rate['bare loop']:.2f}  (target >= 0.9)")
    if "skorch 1.4" in rate:
        print(f"  engine / skorch:    {rate['engine'] / rate['skorch 1.4']:.2f}  (target >= 2.5)")


if __name__ == "__main__":
    main()
