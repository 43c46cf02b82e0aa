"""The base side's Python: this one while the dependencies match, else its own, cached by the
hash of the base's dependencies."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from engine.regress.base_env import base_environment, declared_dependencies

PYPROJECT = """[project]
name = "engine"
requires-python = ">=3.11"
dependencies = [{deps}]
"""


def tree(path: Path, deps: str) -> Path:
    path.mkdir()
    (path / "pyproject.toml").write_text(PYPROJECT.format(deps=deps))
    return path


def test_the_same_dependencies_share_this_environment(tmp_path: Path) -> None:
    base = tree(tmp_path / "base", '"numpy>=2", "scipy"')
    change = tree(tmp_path / "change", '"numpy>=2", "scipy"')
    environment = base_environment(base, change, tmp_path / "cache")
    assert environment.python == sys.executable and environment.tree == base
    assert environment.environ()["PYTHONPATH"] == str(base)
    assert "the same environment" in environment.note
    assert not (tmp_path / "cache").exists()  # nothing built


def test_other_dependencies_get_the_environment_cached_by_their_hash(tmp_path: Path) -> None:
    base = tree(tmp_path / "base", '"numpy>=1.26", "scipy"')
    change = tree(tmp_path / "change", '"numpy>=2", "scipy"')
    wanted = declared_dependencies(base)
    assert wanted["dependencies"] == ["numpy>=1.26", "scipy"]
    digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()[:16]
    home = tmp_path / "cache" / "environments" / digest  # as an earlier job left it
    (home / "bin").mkdir(parents=True)
    os.symlink(sys.executable, home / "bin" / "python")
    (home / "installed").write_text(json.dumps(wanted))
    environment = base_environment(base, change, tmp_path / "cache")
    assert environment.python == str(home / "bin" / "python")
    assert environment.note.endswith("(the base declares other dependencies), cached")
