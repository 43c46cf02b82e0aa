"""The base of ``regress --against REF``: the merge-base of HEAD and REF, checked out once per
commit into a cached git worktree.

The change side is the working tree as it is (uncommitted edits included: ``--against HEAD``
asks what they do). The base side must be exactly its commit, so its cached worktree has to
be clean: one edited by hand is refused, never measured.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError, did_you_mean
from engine.regress.base_failure import BaseFailed


@dataclass(frozen=True)
class BaseCommit:
    """The base commit, the ref it was asked by, and HEAD's commit it is compared with."""

    ref: str
    commit: str
    head: str
    dirty_files: int


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def repo_root(directory: Path) -> Path:
    """The git checkout ``directory`` belongs to; a ConfigError outside one."""
    done = git(directory, "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        raise ConfigError(f"regress --against: {directory} is not in a git checkout, so there "
                          "is no base to compare with; run it from a clone of the project (or "
                          "compare with the committed baseline: drop --against).")
    return Path(done.stdout.strip())


def resolve_base(repo: Path, ref: str) -> BaseCommit:
    """The merge-base of HEAD and ``ref`` (``ref`` itself when it is an ancestor of HEAD)."""
    shallow = git(repo, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    found = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        if shallow:
            raise ConfigError(
                f"regress --against {ref}: this is a shallow clone and it lacks {ref}. Fetch "
                f"the history: git fetch --unshallow (or git fetch origin {ref}); in GitHub "
                "Actions, actions/checkout with fetch-depth: 0.")
        branches = git(repo, "for-each-ref", "--format=%(refname:short)",
                       "refs/heads", "refs/remotes").stdout.split()
        raise ConfigError(f"regress --against {ref}: no such commit, branch or tag in {repo}."
                          f"{did_you_mean(ref, branches)} Give a ref git knows (a branch such "
                          "as origin/main, a tag, a commit, HEAD~1).")
    target = found.stdout.strip()
    merged = git(repo, "merge-base", "HEAD", target)
    if merged.returncode != 0:
        if shallow:
            raise ConfigError(
                f"regress --against {ref}: this shallow clone lacks the merge-base of HEAD and "
                f"{ref} ({target[:12]}). Fetch the history: git fetch --unshallow (or git "
                f"fetch origin {target}); in GitHub Actions, actions/checkout with "
                "fetch-depth: 0.")
        raise ConfigError(f"regress --against {ref}: HEAD and {ref} have no common commit; "
                          "give a ref on the same history (the branch this one started from).")
    status = git(repo, "status", "--porcelain", "--untracked-files=no").stdout.splitlines()
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    return BaseCommit(ref, merged.stdout.strip(), head, len(status))


def base_worktree(repo: Path, commit: str, cache: Path) -> Path:
    """A detached worktree of ``commit`` under ``cache``, made once and reused; a ConfigError
    when the cached one has edits (it must be the commit, nothing else)."""
    tree = cache / commit / "tree"
    status = git(tree, "status", "--porcelain", "--untracked-files=no")
    if (tree / ".git").exists() and status.returncode == 0:  # else restored from elsewhere
        edited = [line for line in status.stdout.splitlines() if line.strip()]
        if edited:
            raise ConfigError(
                f"regress --against: the base's worktree {tree} has uncommitted changes "
                f"({edited[0].strip()}{', ...' if len(edited) > 1 else ''}), so it is no "
                f"longer commit {commit[:12]}. Remove it to check it out again: git worktree "
                f"remove --force {tree}")
        return tree
    if tree.exists():
        shutil.rmtree(tree)  # a checkout interrupted before git finished it
    git(repo, "worktree", "prune")
    tree.parent.mkdir(parents=True, exist_ok=True)
    added = git(repo, "worktree", "add", "--detach", "--force", str(tree), commit)
    if added.returncode != 0:
        raise BaseFailed(f"git could not check out {commit[:12]}: "
                         f"{added.stderr.strip().splitlines()[-1]}")
    return tree
