"""Where a run came from: package versions and the git commit of the project it ran in."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

TRACKED_PACKAGES = (
    "engine", "hydra-core", "omegaconf", "scikit-learn", "skops", "numpy", "scipy", "pandas",
    "pyarrow", "sqlalchemy", "joblib", "optuna", "torch",
)


def package_versions() -> dict[str, str]:
    """Python's version and each tracked package's installed version (absent ones left out)."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_state(directory: Path) -> dict[str, Any]:
    """The commit checked out in ``directory`` and whether the work tree has changes; both
    ``None`` outside a git repository or without git (an installed engine run anywhere)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(git("status", "--porcelain"))}
