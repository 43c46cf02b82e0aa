"""Nothing half-written: every file goes to a temporary name and is renamed over its place, so a
killed writer leaves the old content (or nothing); damaged files are read back as one line
naming them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from engine.errors import RecordError
from engine.tracking.files import (
    atomic_path,
    read_csv,
    read_json,
    read_yaml,
    write_atomically,
    write_json,
    write_text,
)
from engine.tracking.leaderboard import write_leaderboard
from tests.conftest import REPO

# Writes 8 MiB chunks of "x" through write_atomically; after the first it says so on stdout and
# waits on stdin forever, so the test kills it mid-write without timing anything.
KILLED_WRITER = """
import sys
from pathlib import Path
from engine.tracking.files import write_atomically

def write(temporary):
    with temporary.open("w") as handle:
        handle.write("x" * (8 << 20))
        handle.flush()
        print("half written", flush=True)
        sys.stdin.read()
        handle.write("y" * (8 << 20))

write_atomically(Path(sys.argv[1]), write)
"""


def kill_mid_write(target: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline() == "half written\n"
    writer.send_signal(signal.SIGKILL)
    assert writer.wait() == -signal.SIGKILL


def test_a_writer_killed_mid_write_leaves_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    write_json(target, {"accuracy": 0.9})
    kill_mid_write(target)
    assert read_json(target) == {"accuracy": 0.9}
    leftovers = [path.name for path in tmp_path.iterdir() if path != target]
    assert all(name.startswith(".tmp-") for name in leftovers)  # hidden, never read


def test_a_writer_killed_mid_write_leaves_no_file_where_there_was_none(tmp_path: Path) -> None:
    target = tmp_path / "predictions.csv"
    kill_mid_write(target)
    assert not target.exists()


def test_a_failing_writer_leaves_the_old_content_and_no_temporary(tmp_path: Path) -> None:
    target = write_text(tmp_path / "report.html", "old")

    def fail(temporary: Path) -> None:
        temporary.write_text("half")
        raise ValueError("the writer broke")

    with pytest.raises(ValueError, match="the writer broke"):
        write_atomically(target, fail)
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_the_temporary_name_keeps_the_suffixes_writers_read(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with atomic_path(tmp_path / "rows.csv.gz") as temporary:
        assert temporary.name.endswith(".rows.csv.gz") and temporary.parent == tmp_path
        frame.to_csv(temporary, index=False)  # compression follows the suffix
    assert (tmp_path / "rows.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "rows.csv.gz"), frame)


def test_the_leaderboard_is_written_whole(tmp_path: Path) -> None:
    rows = [{"rank": 1, "job": "0", "overrides": "model=svm", "status": "ok", "test": 0.9}]
    csv_path, md_path = write_leaderboard(rows, tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["leaderboard.csv",
                                                                "leaderboard.md"]
    assert read_csv(csv_path)["overrides"].tolist() == ["model=svm"]
    assert md_path.read_text().startswith("| rank |")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("fold,accuracy\n0,0.9\n1,0.", "cut short (its last line is incomplete)"),
        ('fold,"accuracy\n0,0.9\n', "not a valid CSV file"),
        (b"fold,acc\xff\n", "not UTF-8 text"),
    ],
    ids=["empty", "cut-short", "unparsable", "not-text"],
)
def test_a_damaged_csv_is_one_line_naming_it(tmp_path: Path, text: str | bytes,
                                            problem: str) -> None:
    path = tmp_path / "cv_scores.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(RecordError) as caught:
        read_csv(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {problem}")
    assert message.endswith("Re-run the experiment to write it again.")
    assert "\n" not in message


def test_a_damaged_json_or_yaml_file_names_the_place(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"test": {"accuracy": 0.9}})[:15])
    with pytest.raises(RecordError, match=r"metrics.json: not valid JSON \(Unterminated string "
                                          r".* at line 1 column 11\); the file was damaged"):
        read_json(metrics)
    overrides = tmp_path / "overrides.yaml"
    overrides.write_text("- model=svm\n- [seed=1\n")
    with pytest.raises(RecordError, match=r"overrides.yaml: not valid YAML \(line 3, column 1: "
                                          r"expected ',' or '\]'"):
        read_yaml(overrides, fix="Run the sweep again.")
