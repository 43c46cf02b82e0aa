"""The default run and ``model=mlp`` on a quiet and on a busy machine (the shared cpu_load.py:
two busy loops), interleaved quiet, loaded, quiet, loaded; targets: loaded <= 2x quiet for the
default run, <= 3x for the MLP, with the quiet run no slower than before. The anchor, a
single-threaded pure-Python loop timed the same way, is the best ratio any run can have on this
machine now: two busy loops on two cores leave a one-thread process 2/3 of a core (1.5x), and
anything else running takes more.

    python tests/bench/bench_load.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from common import REPO, engine_command, median_of, timed_process

CPU_LOAD = REPO.parent / "shared" / "tools" / "cpu_load.py"
ANCHOR = [sys.executable, "-c", "sum(range(6 * 10**7))"]
RUNS = {"default run": ((), 2.0), "model=mlp": (("model=mlp",), 3.0)}
"""Each run's overrides and the loaded/quiet ratio it must stay under."""


def quiet_and_loaded(command: list[str], rounds: int,
                     env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Seconds of ``command`` quiet and under cpu_load.py, interleaved, ``rounds`` of each."""
    quiet, loaded = [], []
    for _ in range(rounds):
        quiet.append(timed_process(command, env))
        loaded.append(timed_process([sys.executable, str(CPU_LOAD), "--", *command], env))
    return quiet, loaded


def line(quiet: list[float], loaded: list[float]) -> str:
    ratio = median_of(loaded) / median_of(quiet)
    return (f"quiet {median_of(quiet):.2f} s ({', '.join(f'{s:.2f}' for s in quiet)}), "
            f"loaded {median_of(loaded):.2f} s ({', '.join(f'{s:.2f}' for s in loaded)}), "
            f"ratio {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="quiet+loaded pairs per run")
    rounds = parser.parse_args().rounds
    print(f"anchor, one-thread Python loop: {line(*quiet_and_loaded(ANCHOR, rounds, {}))}",
          flush=True)
    for name, (overrides, target) in RUNS.items():
        with tempfile.TemporaryDirectory() as outputs:
            quiet, loaded = quiet_and_loaded(engine_command(*overrides), rounds,
                                             {"ENGINE_OUTPUT_DIR": outputs})
        ratio = median_of(loaded) / median_of(quiet)
        print(f"{name}: {line(quiet, loaded)} (target <= {target:.0f}x): "
              f"{'ok' if ratio <= target else 'OVER'}", flush=True)


if __name__ == "__main__":
    main()
