"""The Python the base side runs with: this one, with the base's worktree first on the import
path, while both commits declare the same dependencies; otherwise an environment of the base's
own, built once per set of dependencies and cached by its hash."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.regress.base_failure import BaseFailed
from engine.tracking.files import write_text


@dataclass(frozen=True)
class SideEnvironment:
    """How to start a Python of one side: its interpreter and the tree first on its path."""

    python: str
    tree: Path
    note: str

    def environ(self) -> dict[str, str]:
        """This process's environment with the side's tree first on ``PYTHONPATH``."""
        return {**os.environ, "PYTHONPATH": str(self.tree)}


def declared_dependencies(tree: Path) -> dict[str, Any]:
    """What ``tree``'s pyproject.toml asks to be installed (empty without one)."""
    path = tree / "pyproject.toml"
    if not path.is_file():
        return {}
    project = tomllib.loads(path.read_text()).get("project", {})
    return {key: project.get(key) for key in
            ("requires-python", "dependencies", "optional-dependencies")}


def base_environment(base_tree: Path, change_tree: Path, cache: Path) -> SideEnvironment:
    """This interpreter when the dependencies match; else the base's own, built if missing."""
    wanted = declared_dependencies(base_tree)
    if wanted == declared_dependencies(change_tree):
        return SideEnvironment(sys.executable, base_tree,
                               "the same environment (the same dependencies)")
    digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:16]
    home = cache / "environments" / digest
    python = home / "bin" / "python"
    note = f"its own environment {home} (the base declares other dependencies)"
    if python.is_file() and (home / "installed").is_file():
        return SideEnvironment(str(python), base_tree, note + ", cached")
    for step in ([sys.executable, "-m", "venv", "--clear", str(home)],
                 [str(python), "-m", "pip", "install", "--quiet", str(base_tree)]):
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
            raise BaseFailed(f"its environment could not be built ({' '.join(step[:4])}...): "
                             f"{last}")
    write_text(home / "installed", json.dumps(wanted, sort_keys=True) + "\n")
    return SideEnvironment(str(python), base_tree, note + ", built now")
