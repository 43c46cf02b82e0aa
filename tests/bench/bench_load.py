"""The default run and ``model=mlp`` on a quiet and on a busy machine (the shared cpu_load.py:
two busy loops), interleaved quiet, loaded, quiet, loaded; targets: loaded <= 2x quiet for the
default run, <= 3x for the MLP, with the quiet run no slower than before.

    python tests/bench/bench_load.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from common import REPO, engine_command, median_of, timed_process

CPU_LOAD = REPO.parent / "shared" / "tools" / "cpu_load.py"
RUNS = {"default run": ((), 2.0), "model=mlp": (("model=mlp",), 3.0)}
"""Each run's overrides and the loaded/quiet ratio it must stay under."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="quiet+loaded pairs per run")
    rounds = parser.parse_args().rounds
    for name, (overrides, target) in RUNS.items():
        quiet, loaded = [], []
        with tempfile.TemporaryDirectory() as outputs:
            command = engine_command(*overrides)
            env = {"ENGINE_OUTPUT_DIR": outputs}
            for _ in range(rounds):
                quiet.append(timed_process(command, env))
                loaded.append(timed_process([sys.executable, str(CPU_LOAD), "--", *command], env))
        ratio = median_of(loaded) / median_of(quiet)
        print(f"{name}: quiet {median_of(quiet):.2f} s ({', '.join(f'{s:.2f}' for s in quiet)}), "
              f"loaded {median_of(loaded):.2f} s ({', '.join(f'{s:.2f}' for s in loaded)}), "
              f"ratio {ratio:.2f}x (target <= {target:.0f}x): "
              f"{'ok' if ratio <= target else 'OVER'}", flush=True)


if __name__ == "__main__":
    main()
