"""1,000,000 rows x 50 numeric columns, hist_gbm, holdout split: wall time and peak memory.

Target: peak resident memory <= 4 GB.
"""

from __future__ import annotations

import tempfile

from common import engine_command, peak_child_rss_gb, timed_process


def main() -> None:
    with tempfile.TemporaryDirectory() as outputs:
        seconds = timed_process(
            engine_command(
                "dataset=synthetic_classification", "dataset.n_samples=1000000",
                "dataset.n_features=50", "dataset.n_informative=20", "split=holdout",
                "model=hist_gbm",
            ),
            env={"ENGINE_OUTPUT_DIR": outputs},
        )
    print(f"1,000,000 x 50, hist_gbm, holdout: {seconds:.1f} s wall, "
          f"peak memory {peak_child_rss_gb():.2f} GB (target <= 4 GB)")


if __name__ == "__main__":
    main()
