"""``regress --against REF`` end to end, in real git clones of this working tree: the workflow's
own command, the base's scores reused from the cache, a crippled and slowed change caught, a
suite the base cannot read, the base failing (exit 3) and each bad input (exit 2)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.errors import ConfigError
from engine.regress.git_base import base_worktree
from tests.conftest import REPO

WORKFLOW = REPO / ".github" / "workflows" / "regress.yml"
QUICK = ["report=false", "metrics.explain.importance_repeats=0", "metrics.bootstrap.resamples=0"]
SUITE = {"jobs": 1, "overrides": QUICK, "timing": {"fit_repeats": 6, "predict_repeats": 10},
         "guards": {"cv.primary": {"absolute": 0.01}, "test.primary": {"absolute": 0.02},
                    "fit_seconds": {"relative": 0.25, "absolute": 0.01},
                    "predict_ms": {"relative": 0.2, "absolute": 0.2}},
         "experiments": {"wine": ["dataset=wine", "model=logistic_regression"]}}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q",
        "-m", message)


def workflow_regress_step() -> dict[str, Any]:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["regress"]["steps"]
    [step] = [step for step in steps if "engine regress" in step.get("run", "")]
    return step


def workflow_command(suite: Path, ref: str, output: Path) -> list[str]:
    """The workflow's regress command, for ``suite``, ``ref`` and ``output``."""
    words = shlex.split(workflow_regress_step()["run"])
    swap = {"sweeps/ci.yaml": str(suite), "$BASE": ref, "regress-out": str(output)}
    return [sys.executable if word == "python" else swap.get(word, word) for word in words]


def regress(clone: Path, suite: Path, ref: str, tmp: Path, *extra: str,
            summary: Path | None = None) -> tuple[int, str, Path]:
    """The workflow's command run in ``clone`` (its engine first on the path) as CI runs it:
    the default cache, under a relative output folder (the base's own regress runs in its
    worktree, so a relative path must not reach it as such); ``summary`` stands for GitHub's
    ``$GITHUB_STEP_SUMMARY``."""
    output = tmp / f"out{len(list(tmp.glob('out*')))}"
    environment = {**os.environ, "PYTHONPATH": str(clone), "COLUMNS": "200",
                   "ENGINE_OUTPUT_DIR": "outputs"}
    environment.pop("GITHUB_STEP_SUMMARY", None)
    if summary is not None:
        environment["GITHUB_STEP_SUMMARY"] = str(summary)
    done = subprocess.run([*workflow_command(suite, ref, output), *extra], cwd=clone,
                          env=environment, capture_output=True, text=True, timeout=900)
    return done.returncode, done.stdout + done.stderr, output


def checks(output: Path) -> dict[tuple[str, str], dict[str, Any]]:
    results = json.loads((output / "results.json").read_text())
    return {(check["experiment"], check["metric"]): check for check in results["checks"]}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose one commit is this working tree as it is now."""
    root = tmp_path_factory.mktemp("against")
    clone = root / "snapshot"
    files = git(REPO, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    git(clone, "init", "-q", "-b", "main")
    commit_all(clone, "snapshot")
    (root / "suite.yaml").write_text(yaml.safe_dump(SUITE))
    return clone


def changed_clone(snapshot: Path, name: str, edits: dict[str, str]) -> Path:
    """A clone of the snapshot with one more commit, replacing text in files:
    ``{"path": "old=>new"}``."""
    clone = snapshot.parent / name
    git(snapshot.parent, "clone", "-q", str(snapshot), str(clone))
    for path, edit in edits.items():
        old, new = edit.split("=>")
        text = (clone / path).read_text()
        assert old in text, (path, old)
        (clone / path).write_text(text.replace(old, new, 1))
    commit_all(clone, name)
    return clone


def test_the_workflow_parses_and_runs_the_tested_command_with_full_history() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    step = workflow_regress_step()
    assert shlex.split(step["run"]) == ["python", "-m", "engine", "regress", "sweeps/ci.yaml",
                                        "--against", "$BASE", "-o", "regress-out"]
    assert "github.base_ref" in step["env"]["BASE"] and "HEAD~1" in step["env"]["BASE"]
    [checkout] = [s for s in workflow["jobs"]["regress"]["steps"]
                  if s.get("uses", "").startswith("actions/checkout")]
    assert checkout["with"]["fetch-depth"] == 0


@pytest.mark.slow
def test_against_head_passes_and_the_base_comes_from_the_cache_next_time(
        snapshot: Path) -> None:
    suite, tmp = snapshot.parent / "suite.yaml", snapshot.parent
    summary = tmp / "step_summary.md"
    status, output, out = regress(snapshot, suite, "HEAD", tmp, summary=summary)
    assert status == 0, output
    assert "base scores: recorded now" in output
    assert summary.read_text() == (out / "regress.md").read_text()  # the base's is not there
    found = checks(out)
    assert {check["verdict"] for check in found.values()} <= {"ok", "not significant"}
    assert found["wine", "cv f1_macro"]["now"] == found["wine", "cv f1_macro"]["baseline"]
    timing = found["wine", "predict_ms"]
    assert timing["ratio_low"] < timing["ratio"] < timing["ratio_high"]
    assert "×" in (out / "regress.md").read_text()  # the ratio and its interval
    status, output, _ = regress(snapshot, suite, "HEAD", tmp)
    assert status == 0, output
    assert "base scores: from the cache" in output


@pytest.mark.slow
def test_a_crippled_and_slowed_change_fails_naming_its_guards(snapshot: Path) -> None:
    clone = changed_clone(snapshot, "crippled", {
        "engine/conf/model/logistic_regression.yaml": "C: 1.0=>C: 0.0001",
        "engine/deploy/batch_predict.py": '''    if rows.empty:=>    import time

    time.sleep(0.25)  # many times a prediction's time, however busy the machine
    if rows.empty:'''})
    status, output, out = regress(clone, snapshot.parent / "suite.yaml", "HEAD~1",
                                  snapshot.parent)
    assert status == 1, output
    found = checks(out)
    assert found["wine", "cv f1_macro"]["verdict"] == "regressed"
    assert found["wine", "predict_ms"]["verdict"] == "regressed"
    assert found["wine", "predict_ms"]["ratio_low"] > 2
    assert "regressed" in output and "predict_ms" in output


@pytest.mark.slow
def test_what_the_base_cannot_read_is_left_out_on_both_sides_and_named(
        snapshot: Path) -> None:
    shutil.copy(snapshot / "engine/conf/model/logistic_regression.yaml",
                snapshot.parent / "copy.yaml")
    clone = changed_clone(snapshot, "newer", {
        "engine/config/schema/suite.py": "    name: str | None = None=>    name: str | None = "
                                         "None\n    description: str | None = None"})
    shutil.copy(snapshot.parent / "copy.yaml", clone / "engine/conf/model/newer_lr.yaml")
    commit_all(clone, "a model the base lacks")
    suite = snapshot.parent / "newer.yaml"
    suite.write_text(yaml.safe_dump({
        **SUITE, "description": "keys the base lacks", "guards": {"cv.primary": {"absolute": 0.01}},
        "experiments": {"wine": ["dataset=wine", "model=logistic_regression"],
                        "newer": ["dataset=wine", "model=newer_lr"]}}))
    status, output, out = regress(clone, suite, "HEAD~2", snapshot.parent)
    assert status == 0, output
    assert "left out on both sides: key description (the base does not know it)" in output
    assert "left out on both sides: experiment newer (the base cannot run it" in output
    assert {name for name, _ in checks(out)} == {"wine"}


def test_a_base_that_cannot_run_is_exit_3_not_a_regression(snapshot: Path) -> None:
    clone = changed_clone(snapshot, "broken-base", {
        "engine/regress/runner.py": "def plan_suite(=>raise RuntimeError('broken')\n\n\n"
                                    "def plan_suite("})
    (clone / "engine/regress/runner.py").write_text((snapshot / "engine/regress/runner.py")
                                                    .read_text())
    commit_all(clone, "fixed")
    status, output, _ = regress(clone, snapshot.parent / "suite.yaml", "HEAD~1",
                                snapshot.parent)
    assert status == 3, output
    words = " ".join(output.split())  # the console folds long lines (the log's absolute path)
    assert "base failed" in words and "RuntimeError: broken" in words
    assert "this is no regression" in words


@pytest.mark.parametrize(("ref", "extra", "message"), [
    ("no-such-branch", (), r"--against no-such-branch: no such commit, branch or tag .* Give "
                           r"a ref git knows"),
    ("mian", (), r"no such commit, branch or tag .* Did you mean 'main'\?"),
    ("HEAD", ("--update-baseline",), r"--update-baseline and --against HEAD exclude each "
                                     r"other"),
])
def test_bad_input_is_one_line_and_exit_2(snapshot: Path, ref: str, extra: tuple[str, ...],
                                          message: str) -> None:
    status, output, _ = regress(snapshot, snapshot.parent / "suite.yaml", ref, snapshot.parent,
                                *extra)
    assert status == 2, output
    assert output.startswith("error: ") and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1
    assert re.search(message, output), output


def test_a_shallow_clone_without_the_base_says_how_to_fetch_it(snapshot: Path) -> None:
    changed_clone(snapshot, "deeper", {"README.md": "#=>##"})
    shallow = snapshot.parent / "shallow"
    git(snapshot.parent, "clone", "-q", "--depth", "1", f"file://{snapshot.parent / 'deeper'}",
        str(shallow))
    status, output, _ = regress(shallow, snapshot.parent / "suite.yaml", "HEAD~1",
                                snapshot.parent)
    assert status == 2, output
    assert "shallow clone" in output and "git fetch --unshallow" in output


def test_an_edited_base_worktree_is_refused(snapshot: Path, tmp_path: Path) -> None:
    commit = git(snapshot, "rev-parse", "HEAD")
    tree = base_worktree(snapshot, commit, tmp_path)
    assert base_worktree(snapshot, commit, tmp_path) == tree  # reused as it is
    (tree / "engine" / "__init__.py").write_text("# edited by hand\n")
    with pytest.raises(ConfigError, match=r"the base's worktree .* has uncommitted changes "
                                          r"\(M engine/__init__.py\).*git worktree remove"):
        base_worktree(snapshot, commit, tmp_path)
