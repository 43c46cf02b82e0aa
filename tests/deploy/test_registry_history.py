"""The registry's history of alias moves, rollback, gate decisions and the alias poll."""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.deploy.registry import AliasMove, Registry
from engine.errors import ConfigError, DataError
from tests.conftest import REPO, run_main

# The schema of a registry written before history was kept.
OLD_SCHEMA = """
CREATE TABLE versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, run_dir TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL, created TEXT NOT NULL, description TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (name, alias), FOREIGN KEY (name, version) REFERENCES versions (name, version));
"""


@pytest.fixture
def registry(trained_run: Path, tmp_path: Path) -> Registry:
    """``churn`` versions 1, 2 and 3 (the same run), version 1 the champion."""
    store = Registry(tmp_path / "registry.db")
    store.register(trained_run, "churn", alias="champion")
    store.register(trained_run, "churn")
    store.register(trained_run, "churn")
    return store


def moves(store: Registry, alias: str | None = None) -> list[tuple[str, int | None,
                                                                   int | None, str, str]]:
    return [(move.alias, move.previous, move.version, move.kind, move.reason)
            for move in store.history("churn", alias)]


def test_every_kind_of_move_is_recorded_with_its_reason(registry: Registry) -> None:
    registry.set_alias("churn", "challenger", 2)
    registry.promote("churn", "challenger", "champion")
    evidence = {"p_value": 0.003, "metric": "roc_auc", "rows": 500}
    registry.move_alias("churn", "champion", 3, kind="gate", evidence=evidence,
                        reason="gate: challenger better (p=0.003)", previous_alias="previous")
    registry.rollback("churn", reason="latency doubled")
    registry.delete_alias("churn", "challenger")
    assert moves(registry) == [
        ("champion", None, 1, "register", "registered"),
        ("challenger", None, 2, "manual", "manual, no gate"),
        ("champion", 1, 2, "manual", "manual, no gate"),
        ("champion", 2, 3, "gate", "gate: challenger better (p=0.003)"),
        ("previous", None, 2, "gate", "gate: challenger better (p=0.003)"),
        ("champion", 3, 2, "rollback", "rolled back from version 3: latency doubled"),
        ("challenger", 2, None, "delete", "removed by hand"),
    ]
    history = registry.history("churn")
    assert history[3].evidence == evidence and history[5].evidence == {"rolled_back_from": 3}
    assert [move.id for move in history] == list(range(1, 8))
    assert all(datetime.datetime.fromisoformat(move.time).tzinfo == datetime.UTC
               for move in history)
    assert [move.version for move in registry.history("churn", "champion")] == [1, 2, 3, 2]


def test_two_rollbacks_walk_back_two_champions(registry: Registry) -> None:
    for version in (2, 3):
        registry.move_alias("churn", "champion", version, kind="gate", reason="gate: better")
    assert registry.rollback("churn").version == 2
    assert registry.rollback("churn").version == 1
    message = ("registry: churn@champion has no earlier version to roll back to; its history: "
               "1 (register), 2 (gate), 3 (gate), 2 (rollback), 1 (rollback). Point it by hand "
               "with python -m engine registry alias churn champion VERSION.")
    with pytest.raises(ConfigError) as raised:
        registry.rollback("churn")
    assert str(raised.value) == message
    assert registry.alias_version("churn", "champion") == 1


def test_a_rolled_back_version_is_not_rolled_back_to(registry: Registry) -> None:
    """1 -> 2 -> 3, 3 rolled back, then 1 promoted: rolling back gives 2, never the bad 3."""
    for version in (2, 3):
        registry.move_alias("churn", "champion", version, kind="gate", reason="gate: better")
    registry.rollback("churn")
    registry.set_alias("churn", "champion", 1)
    assert registry.rollback("churn").version == 2
    assert registry.rollback("churn").version == 1


def test_a_removed_alias_is_put_back_by_a_rollback(registry: Registry) -> None:
    registry.set_alias("churn", "champion", 2)
    registry.delete_alias("churn", "champion")
    assert registry.alias_version("churn", "champion") is None
    assert registry.rollback("churn").version == 2
    assert moves(registry, "champion")[-1] == ("champion", None, 2, "rollback",
                                               "rolled back from its removal")
    registry.delete_alias("churn", "champion")
    registry.set_alias("churn", "champion", 3)
    assert registry.rollback("churn").version == 2  # past the removal, to a version


def test_a_rollback_refuses_a_bundle_changed_since_registration(
        trained_run: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    shutil.copytree(trained_run, first)
    registry = Registry(tmp_path / "registry.db")
    registry.register(first, "churn", alias="champion")
    registry.register(trained_run, "churn")
    registry.move_alias("churn", "champion", 2, kind="gate", reason="gate: better")
    manifest = first / "model" / "MANIFEST.json"
    manifest.write_text(manifest.read_text().replace("{", "{ ", 1))
    with pytest.raises(DataError, match=r"^registry: cannot roll churn@champion back to version "
                                        r"1: churn version 1's bundle in .*first changed after "
                                        r"it was registered; register the run again"):
        registry.rollback("churn")
    assert registry.alias_version("churn", "champion") == 2
    assert len(registry.history("churn")) == 2


def test_an_alias_with_no_history_and_an_unknown_alias_are_named(registry: Registry) -> None:
    with pytest.raises(ConfigError, match=r"no alias 'champoin'\. Did you mean 'champion'"):
        registry.rollback("churn", "champoin")
    with pytest.raises(ConfigError, match=r"no alias 'champoin'\. Did you mean 'champion'"):
        registry.history("churn", "champoin")
    with pytest.raises(ConfigError, match=r"no model 'chrun'\. Did you mean 'churn'"):
        registry.history("chrun")
    with pytest.raises(ConfigError, match=r"kind 'gates': not a kind of move. Did you mean "
                                          r"'gate'\? Valid options: gate, manual\.$"):
        registry.move_alias("churn", "champion", 2, kind="gates", reason="")
    with pytest.raises(ConfigError, match=r"kind 'rollback': recorded by Registry\.rollback"):
        registry.move_alias("churn", "champion", 2, kind="rollback", reason="")
    assert len(registry.history("churn")) == 1


def test_an_older_registry_file_gains_history_and_decisions(trained_run: Path,
                                                           tmp_path: Path) -> None:
    """A registry written before history was kept opens; its first move's previous version is
    the one a rollback can go back to."""
    path = tmp_path / "registry.db"
    digest = hashlib.sha256((trained_run / "model" / "MANIFEST.json").read_bytes()).hexdigest()
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        for version in (1, 2):
            db.execute("INSERT INTO versions VALUES ('churn', ?, ?, ?, '2026-01-01T00:00:00+00:00',"
                       " '')", (version, str(trained_run.resolve()), digest))
        db.execute("INSERT INTO aliases VALUES ('churn', 'champion', 1)")
    db.close()
    registry = Registry(path)
    assert registry.history("churn") == [] and registry.alias_version("churn", "champion") == 1
    done = run_main(["registry", "history", "churn"], tmp_path, {"ENGINE_REGISTRY": str(path)})
    assert done.stdout == "churn: no alias moves recorded\n"
    with pytest.raises(ConfigError, match="its history: none recorded"):
        registry.rollback("churn")
    registry.set_alias("churn", "champion", 2)
    assert registry.rollback("churn").version == 1
    assert registry.record_decision("churn", {"promoted": False}) == 1
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert {"history", "decisions"} <= tables


def test_decisions_are_kept_with_their_id_and_time(registry: Registry) -> None:
    gate = {"status": "rejected", "p_value": 0.41, "challenger": {"run": "/runs/7"}}
    assert registry.record_decision("churn", gate) == 1
    assert registry.record_decision("churn", {"status": "promoted",
                                              "time": "2026-03-01T00:00:00+00:00"}) == 2
    first, second = registry.decisions("churn")
    assert first == {**gate, "id": 1, "time": first["time"]}
    assert datetime.datetime.fromisoformat(first["time"]).tzinfo == datetime.UTC
    assert second == {"status": "promoted", "id": 2, "time": "2026-03-01T00:00:00+00:00"}
    registry.record_decision("churn", {"p_value": float("nan"), "ratio": float("inf")})
    assert registry.decisions("churn")[-1] == {"p_value": None, "ratio": None, "id": 3,
                                               "time": registry.decisions("churn")[-1]["time"]}
    with pytest.raises(ConfigError, match=r"no model 'chrun'\. Did you mean 'churn'"):
        registry.decisions("chrun")


def test_alias_version_reads_without_raising_or_creating(registry: Registry,
                                                        tmp_path: Path) -> None:
    missing = Registry(tmp_path / "none" / "registry.db")
    assert missing.alias_version("churn", "champion") is None
    assert not missing.path.parent.exists()
    assert registry.alias_version("churn", "champion") == 1
    assert registry.alias_version("churn", "challenger") is None
    assert registry.alias_version("chrun", "champion") is None
    registry.move_alias("churn", "champion", 3, kind="gate", reason="gate: better")
    assert registry.alias_version("churn", "champion") == 3
    junk = tmp_path / "junk.db"
    junk.write_text("not a database\n" * 100)
    with pytest.raises(DataError, match="not a SQLite registry database"):
        Registry(junk).alias_version("churn", "champion")


MOVER = """
import sys
from pathlib import Path
from engine.deploy.registry import Registry
registry = Registry(Path(sys.argv[1]))
for step in range(25):
    registry.move_alias("churn", "champion", 2 + step % 2, kind="gate", reason=sys.argv[2])
"""


def test_two_processes_moving_an_alias_lose_no_history(registry: Registry) -> None:
    movers = [subprocess.Popen([sys.executable, "-c", MOVER, str(registry.path), who], cwd=REPO)
              for who in ("first", "second")]
    assert [mover.wait() for mover in movers] == [0, 0]
    history = registry.history("churn", "champion")
    assert len(history) == 51
    assert sorted(move.reason for move in history[1:]) == ["first"] * 25 + ["second"] * 25
    assert all(later.previous == earlier.version  # each move saw the one before it
               for earlier, later in itertools.pairwise(history))
    assert registry.alias_version("churn", "champion") == history[-1].version


def test_rollback_and_history_commands(registry: Registry, tmp_path: Path) -> None:
    env = {"ENGINE_REGISTRY": str(registry.path)}
    for version in ("2", "3"):
        done = run_main(["registry", "alias", "churn", "champion", version], tmp_path, env)
        assert done.returncode == 0, done.stderr
    registry.record_decision("churn", {  # as engine.lifecycle records one
        "time": "2026-03-01T00:00:00.250000+00:00", "outcome": "rejected", "dry_run": True,
        "reasons": ["the challenger is 2.50x the champion's latency (budget 2x)"],
        "champion": {"version": 1}, "challenger": {"version": 3, "run_dir": "/runs/7"},
        "gate": {"metric": "roc_auc", "difference": 0.0123, "p_value": 0.003}})
    registry.record_decision("churn", {
        "time": "2026-03-02T00:00:00+00:00", "outcome": "promoted", "dry_run": False,
        "reasons": [], "champion": {"version": 1}, "challenger": {"version": 2},
        "gate": {"metric": "roc_auc", "difference": 0.0123, "p_value": 0.003}})
    done = run_main(["registry", "rollback", "churn"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "churn@champion -> version 2 (rolled back from version 3)\n"
    table = run_main(["registry", "history", "churn"], tmp_path, env).stdout
    rows = [[cell.strip() for cell in line.split("│")] for line in table.splitlines()
            if "│" in line]
    assert [row[1:] for row in rows[:4]] == [
        ["champion", "- -> 1", "register", "registered"],
        ["champion", "1 -> 2", "manual", "manual, no gate"],
        ["champion", "2 -> 3", "manual", "manual, no gate"],
        ["champion", "3 -> 2", "rollback", "rolled back from version 3"]]
    assert all(datetime.datetime.fromisoformat(row[0]) for row in rows[:4])
    assert rows[4:] == [
        ["2026-03-01T00:00:00+00:00", "rejected (dry run)", "1 vs 3",
         "the challenger is 2.50x the champion's latency (budget 2x)"],
        ["2026-03-02T00:00:00+00:00", "promoted", "1 vs 2", "roc_auc +0.0123, p=0.003"]]
    done = run_main(["registry", "history", "churn", "--alias", "champion", "--json"],
                    tmp_path, env)
    printed = json.loads(done.stdout)
    assert [AliasMove(**move) for move in printed["moves"]] == registry.history("churn")
    assert printed["decisions"] == registry.decisions("churn")


def test_a_rollback_with_nothing_before_is_one_line_and_exit_2(registry: Registry,
                                                               tmp_path: Path) -> None:
    done = run_main(["registry", "rollback", "churn"], tmp_path,
                    {"ENGINE_REGISTRY": str(registry.path)})
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: registry: churn@champion has no earlier version to roll back to; its history: "
        "1 (register). Point it by hand with python -m engine registry alias churn champion "
        "VERSION."]
