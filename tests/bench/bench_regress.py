"""The CI suite's wall time, side by side with the shell loop a team would write without it.

    python tests/bench/bench_regress.py

1. ``python -m engine regress sweeps/ci.yaml`` as shipped (two experiments at a time on 2
   cores, each dataset loaded once, fits repeated 5 times and 50 single-row predictions timed
   per experiment). Target: at most 3 minutes on 2 cores.
2. The same suite with ``--jobs 1``.
3. The anchor: one ``python -m engine <overrides>`` process per experiment, one after another,
   which trains and scores the same experiments but repeats no fits, times no predictions and
   compares nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from common import REPO, engine_command, timed_process

SUITE = REPO / "sweeps" / "ci.yaml"


def main() -> None:
    suite = yaml.safe_load(SUITE.read_text())
    experiments = [value if isinstance(value, list) else value["overrides"]
                   for value in suite["experiments"].values()]
    with tempfile.TemporaryDirectory() as outputs:
        env = {"ENGINE_OUTPUT_DIR": outputs}
        parallel = timed_process(engine_command("regress", str(SUITE), "-o",
                                                str(Path(outputs) / "parallel")), env=env)
        serial = timed_process(engine_command("regress", str(SUITE), "--jobs", "1", "-o",
                                              str(Path(outputs) / "serial")), env=env)
        loop = sum(timed_process(engine_command(*overrides), env=env)
                   for overrides in experiments)
    print(f"sweeps/ci.yaml, {len(experiments)} experiments: regress {parallel:.1f} s "
          f"(target <= 180 s), --jobs 1 {serial:.1f} s (parallel speed-up "
          f"{serial / parallel:.2f}x); a loop of python -m engine runs {loop:.1f} s (regress is "
          f"{loop / parallel:.2f}x faster while also timing and comparing)")


if __name__ == "__main__":
    main()
