"""The scratch folder the README runs in, so the checkout is never touched: a copy of the
checkout's files (tracked, and untracked ones git does not ignore) at ``<scratch>/checkout``, the
shared data beside it as ``../shared`` (as beside the checkout), and the files a reader of the
README is assumed to have."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
from sklearn.datasets import load_breast_cancer

from tests.readme.plan import MY_MODEL_YAML, MY_NETWORK

# Defines share_site_packages, which a README rewrite calls after `python -m venv .venv`.
PRELUDE = """share_site_packages() {
    "$1/bin/python" -c 'import pathlib, sys, sysconfig
pathlib.Path(sysconfig.get_path("purelib"), "readme-runner.pth").write_text(sys.argv[1])' \\
        "$README_SITE_PACKAGES"
}"""


def shared_data(repository: Path) -> Path:
    """Where the README's `../shared/data` datasets are for this checkout."""
    return Path(os.environ.get("ENGINE_SHARED_DATA", repository.parent / "shared" / "data"))


def copy_checkout(repository: Path, destination: Path) -> None:
    """The checkout's files as they are on disk (tracked, and untracked ones git does not
    ignore), links kept as links."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"],
                             cwd=repository, capture_output=True, check=True).stdout
    for name in filter(None, listing.decode().split("\0")):
        source = repository / name
        if not source.is_symlink() and not source.exists():
            continue  # deleted in the working tree
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)


def write_fixtures(repository: Path, checkout: Path, scratch: Path) -> None:
    """Files the README's commands take for granted."""
    # `predict ... new_rows.csv --keep id`: rows in the Quickstart run's format, with an id.
    rows = load_breast_cancer(as_frame=True).frame.drop(columns="target").head(20)
    rows.insert(0, "id", range(1, len(rows) + 1))
    rows.to_csv(checkout / "new_rows.csv", index=False)
    # `predict <german credit run> applicants.csv`: 200 applicants, without the target.
    german = shared_data(repository) / "german_credit.csv"
    if german.exists():
        pd.read_csv(german).drop(columns="class").head(200).to_csv(checkout / "applicants.csv",
                                                                   index=False)
    # `model.module={_target_: mypkg.nets.MyNet, ...}`: the reader's own network.
    (checkout / "mypkg").mkdir()
    (checkout / "mypkg" / "__init__.py").write_text("")
    (checkout / "mypkg" / "nets.py").write_text(MY_NETWORK)
    # `$EDITOR my_project/conf/model/my_model.yaml`: the editor writes this model file.
    (scratch / "my_model.yaml").write_text(MY_MODEL_YAML)


def make_scratch(repository: Path, scratch: Path) -> Path:
    """The checkout's copy in ``scratch``, with its fixtures and ``../shared``; its root."""
    checkout = scratch / "checkout"
    copy_checkout(repository, checkout)
    (scratch / "tmp").mkdir()
    shared = repository.parent / "shared"
    if shared.is_dir():
        (scratch / "shared").symlink_to(shared)
    write_fixtures(repository, checkout, scratch)
    return checkout


def environment(scratch: Path) -> dict[str, str]:
    """This process's environment for the README's shell: the engine's variables left out (they
    would point runs and the registry away from the defaults the README describes), except
    ENGINE_SHARED_DATA; this Python first on PATH; tables as wide as the README shows them; the
    editor a copy of the model file; temporary files and folders (`cd "$(mktemp -d)"`) inside the
    scratch folder, so none is left behind; git looking no higher than the scratch folder."""
    kept = {name: value for name, value in os.environ.items()
            if (not name.startswith("ENGINE_") or name == "ENGINE_SHARED_DATA")
            and name != "PYTHONPATH"}
    site_packages = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    return kept | {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), kept.get("PATH", "")]),
        "COLUMNS": "200",
        "EDITOR": f"cp {scratch / 'my_model.yaml'}",
        "TMPDIR": str(scratch / "tmp"),
        "GIT_CEILING_DIRECTORIES": str(scratch),
        "README_SITE_PACKAGES": "\n".join(site_packages),
    }
