"""``python -m engine card``: a run's card in the terminal or written as Markdown or HTML; a
registered version's card with its history, kept current by every registry change; and the
user's mistakes, each one line and exit 2."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from engine.deploy.registry import Registry

CLI = Callable[..., subprocess.CompletedProcess[str]]


def card_bytes(run_dir: Path) -> bytes:
    return (run_dir / "model" / "MODEL_CARD.md").read_bytes()


def kept(registry: Path, name: str, version: int) -> str:
    return (registry.parent / "registry.cards" / name / str(version) / "MODEL_CARD.md").read_text()


def one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def test_the_card_in_the_terminal_and_as_files(in_process_cli: CLI, fairness_run: Path,
                                               tmp_path: Path) -> None:
    shown = in_process_cli("card", str(fairness_run))
    assert shown.returncode == 0, shown.stderr
    assert "Model card: logistic_regression on credit" in shown.stdout
    assert "demographic_parity_difference" in shown.stdout
    assert "---" not in shown.stdout.splitlines()[0]  # the metadata is a block at the end
    written = in_process_cli("card", str(fairness_run), "-o", str(tmp_path / "card.md"))
    assert written.returncode == 0 and f"card: {tmp_path / 'card.md'}" in written.stdout
    assert (tmp_path / "card.md").read_bytes() == card_bytes(fairness_run)
    page = in_process_cli("card", str(fairness_run), "--format", "html", "-o",
                          str(tmp_path / "card.html"))
    assert page.returncode == 0, page.stderr
    html = (tmp_path / "card.html").read_text()
    assert "<h2>Model card</h2>" in html and "<h3>Model card: <code>logistic_regression" in html
    assert "&lt;script&gt;window.__pwned=2&lt;/script&gt;" in html
    assert "<script>window" not in html


def test_a_registered_versions_card_follows_the_registry(in_process_cli: CLI, fairness_run: Path,
                                                         regression_run: Path,
                                                         tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    env = {"ENGINE_REGISTRY": str(db)}
    before = hashlib.sha256(card_bytes(fairness_run)).hexdigest()
    registry = Registry(db)
    registry.register(fairness_run, "credit", alias="challenger", description="first try")
    assert "| `challenger` | to this version | `register` | registered first try |" in \
        kept(db, "credit", 1)
    assert in_process_cli("registry", "promote", "credit", env=env).returncode == 0
    registry.register(regression_run, "credit", alias="challenger")
    registry.move_alias("credit", "champion", 2, kind="gate", reason="beat version 1")
    registry.record_decision("credit", {"outcome": "promoted", "reasons": ["beat version 1"],
                                        "champion": {"version": 1},
                                        "challenger": {"version": 2}})
    first = kept(db, "credit", 1)
    assert "| `champion` | to this version | `manual` | manual, no gate |" in first
    assert "| `champion` | away, to 2 | `gate` | beat version 1 |" in first
    assert "| `promoted` | `1` | `2` | beat version 1 |" in first
    registry.rollback("credit")
    assert "| `champion` | to this version from 2 | `rollback` |" in kept(db, "credit", 1)
    assert "| `champion` | away, to 1 | `rollback` |" in kept(db, "credit", 2)
    assert "- aliases now: `champion`" in kept(db, "credit", 1)

    shown = in_process_cli("card", "credit@champion", "-o", str(tmp_path / "champion.md"),
                           env=env)
    assert shown.returncode == 0, shown.stderr
    text = (tmp_path / "champion.md").read_text()
    assert text == kept(db, "credit", 1)
    metadata = yaml.safe_load(text.split("---\n", 2)[1])
    assert metadata["model-index"][0]["name"] == "credit"
    assert metadata["model_version"] == "1"
    assert metadata["registered"]["aliases"] == ["champion"]
    by_number = in_process_cli("card", "credit@2", "-o", str(tmp_path / "two.md"), env=env)
    assert by_number.returncode == 0, by_number.stderr
    assert (tmp_path / "two.md").read_text() == kept(db, "credit", 2)
    assert hashlib.sha256(card_bytes(fairness_run)).hexdigest() == before  # sealed, unchanged


def test_a_registered_bundle_changed_since_keeps_no_card(fairness_run: Path,
                                                         in_process_cli: CLI,
                                                         tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(fairness_run, copy)
    db = tmp_path / "registry.db"
    Registry(db).register(copy, "credit", alias="champion")
    manifest = copy / "model" / "MANIFEST.json"
    manifest.write_text(manifest.read_text() + "\n")
    Registry(db).set_alias("credit", "reviewed", 1)
    assert not (tmp_path / "registry.cards" / "credit" / "1" / "MODEL_CARD.md").exists()
    done = in_process_cli("card", "credit@champion", env={"ENGINE_REGISTRY": str(db)})
    one_line_error(done, "credit version 1's bundle", "changed after it was registered")


def test_bad_input_is_one_line_and_exit_2(in_process_cli: CLI, fairness_run: Path,
                                          tmp_path: Path) -> None:
    one_line_error(in_process_cli("card.ownerz=someone"), "card.ownerz", "'card.owners'")
    one_line_error(in_process_cli("+card.ownerz=someone"), "card.ownerz", "'owners'")
    (tmp_path / "empty").mkdir()
    one_line_error(in_process_cli("card", str(tmp_path / "empty")), "holds no model bundle")
    one_line_error(in_process_cli("card", "nothing@champion",
                                  env={"ENGINE_REGISTRY": str(tmp_path / "none.db")}),
                   "no registry at")
    older = tmp_path / "older"
    shutil.copytree(fairness_run, older)
    (older / "model" / "MODEL_CARD.md").unlink()
    manifest = json.loads((older / "model" / "MANIFEST.json").read_text())
    del manifest["sha256"]["MODEL_CARD.md"]
    (older / "model" / "MANIFEST.json").write_text(json.dumps(manifest))
    one_line_error(in_process_cli("card", str(older)), "no MODEL_CARD.md",
                   "trained before the engine wrote model cards")
    wrong = in_process_cli("card", str(fairness_run), "--format", "pdf")
    assert wrong.returncode == 2 and "invalid choice: 'pdf'" in wrong.stderr
