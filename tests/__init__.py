"""The tests. Imported before any test module or conftest.py: each pytest-xdist worker gets its
share of the cores here, before numpy, scikit-learn or PyTorch size their thread pools."""

import os

from engine.threads import THREAD_VARIABLES, threads_per_process


def share_the_cores_between_workers() -> None:
    """pytest-xdist runs one worker process per core (pyproject.toml's ``-n auto``): each
    worker, and every engine process it starts, gets its share of the cores, as the engine gives
    its own worker processes theirs (engine.threads), not all of them each. Two workers on two
    cores each spinning two OpenMP threads made the suite's fits and browsers fight for the
    cores. A developer's own setting stands."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and not any(name in os.environ for name in THREAD_VARIABLES):
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads_per_process(workers))


share_the_cores_between_workers()
