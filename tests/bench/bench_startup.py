"""`python -m engine --help` and `--cfg job`: wall time (target <= 1.0 s) and no heavy imports."""

from __future__ import annotations

import subprocess
import sys

from common import REPO, engine_command, median_of, timed_process

REPEATS = 7
HEAVY = ("sklearn", "pandas", "torch")


def main() -> None:
    for flags in (["--help"], ["--cfg", "job"]):
        runs = [timed_process(engine_command(*flags)) for _ in range(REPEATS)]
        print(f"python -m engine {' '.join(flags)}: median {median_of(runs):.3f} s "
              f"(best {min(runs):.3f}, worst {max(runs):.3f}; target <= 1.0 s)")
        bare = [timed_process([sys.executable, "-c", "pass"]) for _ in range(REPEATS)]
        print(f"  bare interpreter start: median {median_of(bare):.3f} s")
        trace = subprocess.run([sys.executable, "-X", "importtime", "-m", "engine", *flags],
                               cwd=REPO, capture_output=True, text=True)
        imported = {line.split("|")[-1].strip().split(".")[0] for line in trace.stderr.splitlines()}
        print(f"  heavy modules imported: {sorted(imported & set(HEAVY)) or 'none'}")


if __name__ == "__main__":
    main()
