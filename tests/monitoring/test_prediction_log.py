"""The prediction log: real Parquet files written by real threads and processes, read back."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config.schema.monitor import LogConfig
from engine.errors import ConfigError, DataError
from engine.monitoring.prediction_log import (
    PredictionLog,
    compact,
    join_labels,
    read_log,
)
from tests.conftest import REPO

COLUMNS = ["city", "size", "member"]
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def inputs(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"city": rng.choice(["paris", "oslo"], rows),
                         "size": rng.normal(50, 10, rows), "member": rng.random(rows) < 0.5})


def predictions(rows: int) -> pd.DataFrame:
    yes = np.linspace(0.1, 0.9, rows)
    return pd.DataFrame({"prediction": np.where(yes > 0.5, "yes", "no"), "proba_no": 1 - yes,
                         "proba_yes": yes})


def writer(root: Path, **settings: object) -> PredictionLog:
    return PredictionLog(root, LogConfig(**settings), columns=COLUMNS, model="logreg",
                         version="3", sent=["city"], kept=["id"])


def files(root: Path) -> list[Path]:
    """The log's finished files: not the temporary ones a writer is still filling."""
    return sorted(path for path in root.rglob("*.parquet") if not path.name.startswith("."))


def test_requests_and_feedback_are_read_back_in_time_order_with_labels(tmp_path: Path) -> None:
    log = writer(tmp_path)
    first = inputs(3).assign(id=[10, 11, 12])
    log.record(first, predictions(3), request_id="req-a", received=first, at=NOW)
    log.record(inputs(2, 1), predictions(2), request_id="req-b", at=NOW + timedelta(seconds=1))
    log.record_feedback("req-a", "yes", at=NOW + timedelta(hours=1))  # every row of req-a
    log.record_feedback("req-a", "no", row=1, at=NOW + timedelta(hours=2))  # then row 1 again
    log.record_feedback("req-b", "no", row=1, at=NOW + timedelta(hours=1))
    log.close()
    frame = read_log(tmp_path)
    assert frame["_request_id"].tolist() == ["req-a"] * 3 + ["req-b"] * 2
    assert frame["_row"].tolist() == [0, 1, 2, 0, 1]
    assert frame["_target"].fillna("none").tolist() == ["yes", "no", "yes", "none", "no"]
    assert frame["_model"].unique().tolist() == ["logreg"]
    assert frame["_version"].unique().tolist() == ["3"]
    assert frame["id"].tolist()[:3] == [10, 11, 12] and frame["id"][3:].isna().all()
    np.testing.assert_allclose(frame["_probability:yes"], [0.1, 0.5, 0.9, 0.1, 0.9])
    assert frame["_prediction"].tolist() == ["no", "no", "yes", "no", "yes"]
    assert frame["_time"].iloc[0] == pd.Timestamp(NOW)
    assert [p.parent.name for p in files(tmp_path)] == ["day=2026-12-01"] * 2


def test_a_category_column_is_logged_as_received(tmp_path: Path) -> None:
    """The model's rows hold an unseen category as missing (a pandas category); the log keeps
    what was sent (``sent``, as ``sent_columns`` names a bundle's category columns)."""
    sent = inputs(2)
    read = sent.assign(city=pd.Categorical(["paris", None], categories=["paris"]))
    log = writer(tmp_path)
    log.record(read, predictions(2), request_id="r", received=sent.assign(city=["paris", "lima"]))
    log.close()
    assert read_log(tmp_path)["city"].tolist() == ["paris", "lima"]


def wait_for(condition: object, what: str) -> None:
    """Poll ``condition`` (a callable) until it holds; fail after a generous minute."""
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_file_is_written_every_flush_rows_and_after_flush_seconds(tmp_path: Path) -> None:
    by_rows = writer(tmp_path / "rows", flush_rows=4, flush_seconds=3600)
    for index in range(3):
        by_rows.record(inputs(2), predictions(2), request_id=f"r{index}")
    wait_for(lambda: len(files(tmp_path / "rows")) == 1, "4 buffered rows made no file")
    assert len(read_log(tmp_path / "rows")) == 4  # the third request waits for the next flush
    by_rows.close()
    assert len(read_log(tmp_path / "rows")) == 6
    by_time = writer(tmp_path / "time", flush_rows=1000, flush_seconds=0.05)
    by_time.record(inputs(1), predictions(1), request_id="r")
    wait_for(lambda: files(tmp_path / "time"), "a buffered row was not written after 0.05 s")
    by_time.close()


WRITER_PROCESS = """
import sys
from pathlib import Path
import pandas as pd
from engine.config.schema.monitor import LogConfig
from engine.monitoring.prediction_log import PredictionLog
log = PredictionLog(Path(sys.argv[1]), LogConfig(flush_rows=7), columns=["size"], model="m")
for index in range(40):
    log.record(pd.DataFrame({"size": [index, 0.5]}), pd.DataFrame({"prediction": [1.0, 2.0]}),
               request_id=f"{sys.argv[2]}-{index}")
log.close()
"""


def test_several_processes_write_one_folder_without_losing_a_row(tmp_path: Path) -> None:
    processes = [subprocess.Popen([sys.executable, "-c", WRITER_PROCESS, str(tmp_path),
                                   f"p{number}"], cwd=REPO) for number in range(3)]
    assert [process.wait(timeout=120) for process in processes] == [0, 0, 0]
    frame = read_log(tmp_path)
    assert len(frame) == 240 and frame.groupby("_request_id").size().eq(2).all()
    assert frame["_request_id"].nunique() == 120
    names = [path.name for path in files(tmp_path)]
    # A file each time 7 rows are buffered: every 4th request (8 rows), 10 files a process.
    assert len(names) == 3 * 10 and len(set(names)) == len(names)
    assert not [path for path in tmp_path.rglob("*") if path.name.startswith(".")]


def write_days(root: Path, days: list[datetime], requests: int = 2) -> None:
    """``requests`` separate files (one writer each) on each day."""
    for day in days:
        for index in range(requests):
            log = writer(root)
            log.record(inputs(3, index), predictions(3), request_id=f"{day:%m%d}-{index}", at=day)
            log.record_feedback(f"{day:%m%d}-{index}", "yes", at=day)
            log.close()


def test_compaction_merges_closed_days_and_retention_deletes_old_ones(tmp_path: Path) -> None:
    old, closed, today = NOW - timedelta(days=100), NOW - timedelta(days=2), NOW
    write_days(tmp_path, [old, closed, today])
    before = read_log(tmp_path)
    done = compact(tmp_path, retention_days=90, now=NOW)
    assert done.deleted == ["predictions/day=2026-08-23", "feedback/day=2026-08-23"]
    assert done.merged == ["predictions/day=2026-11-29", "feedback/day=2026-11-29"]
    counts = {path.name: len(files(path)) for path in (tmp_path / "predictions").iterdir()}
    assert counts == {"day=2026-11-29": 1, "day=2026-12-01": 2}  # today is still open
    after = read_log(tmp_path)
    pd.testing.assert_frame_equal(after, before[before["_time"] >= closed].reset_index(drop=True),
                                  check_dtype=False)
    assert after["_target"].eq("yes").all()
    assert compact(tmp_path, retention_days=90, now=NOW).merged == []  # nothing left to merge


def test_one_compaction_at_a_time_and_a_dead_ones_lock_is_taken_over(tmp_path: Path) -> None:
    write_days(tmp_path, [NOW - timedelta(days=2)])
    lock = tmp_path / ".compacting"
    lock.touch()
    with pytest.raises(DataError, match=r"another process has been compacting it since .* "
                                        r"try again later, or delete that file"):
        compact(tmp_path, retention_days=90, now=NOW)
    two_hours_ago = time.time() - 7200
    os.utime(lock, (two_hours_ago, two_hours_ago))  # its process died while compacting
    assert compact(tmp_path, retention_days=90, now=NOW).merged
    assert not lock.exists()


def test_a_serving_log_compacts_and_enforces_its_retention_as_it_starts(tmp_path: Path) -> None:
    today = datetime.now(UTC)
    write_days(tmp_path, [today - timedelta(days=120), today - timedelta(days=2)])
    log = PredictionLog(tmp_path, LogConfig(retention_days=30), columns=COLUMNS, model="m",
                        upkeep_seconds=3600)
    log.close()  # the upkeep runs first thing, before the thread takes anything queued
    (day,) = (tmp_path / "predictions").iterdir()
    assert day.name == f"day={today - timedelta(days=2):%Y-%m-%d}" and len(files(day)) == 1


def test_excluded_columns_are_absent_and_hashed_ones_digested(tmp_path: Path) -> None:
    log = writer(tmp_path, exclude=["size"], hash=["city", "id"])
    rows = inputs(2).assign(id=[7, 8])
    log.record(rows, predictions(2), request_id="r", received=rows)
    log.close()
    frame = read_log(tmp_path)
    assert "size" not in frame
    assert frame["city"].tolist() == [hashlib.sha256(city.encode()).hexdigest()
                                      for city in rows["city"]]
    assert frame["id"].tolist() == [hashlib.sha256(b"7").hexdigest(),
                                    hashlib.sha256(b"8").hexdigest()]
    with pytest.raises(ConfigError, match=r"^monitor.log.hash: 'cty' is not an input column of "
                                          r"model logreg. Did you mean 'city'\?"):
        writer(tmp_path, hash=["cty"])


def test_files_typing_a_column_differently_are_read_as_one(tmp_path: Path) -> None:
    """One process saw whole sizes, another a missing one (float); one saw cities as numbers,
    another as text, a third a mix in one flush."""
    for index, (size, city) in enumerate((([1, 2], [1, 2]), ([3.5, None], ["oslo", None]),
                                          ([4, 5], pd.Series(["rome", 3], dtype=object)))):
        rows = pd.DataFrame({"city": city, "size": size, "member": [True, False]})
        log = writer(tmp_path)
        log.record(rows, predictions(2), request_id=f"r{index}", at=NOW)
        log.close()
    frame = read_log(tmp_path)
    assert frame["size"].tolist()[:3] == [1.0, 2.0, 3.5] and frame["size"].isna().sum() == 1
    assert sorted(frame["city"].dropna().tolist()) == ["1", "2", "3", "oslo", "rome"]


def test_read_log_reads_only_the_window_and_its_days(tmp_path: Path) -> None:
    write_days(tmp_path, [NOW - timedelta(days=3), NOW - timedelta(days=1), NOW], requests=1)
    # A damaged file on a day outside the window: never opened.
    (tmp_path / "predictions" / "day=2026-11-28" / "part-0-x.parquet").write_bytes(b"junk")
    frame = read_log(tmp_path, since=NOW - timedelta(days=1), until=NOW)
    assert frame["_request_id"].unique().tolist() == ["1130-0"]
    naive = read_log(tmp_path, since=datetime(2026, 12, 1))  # naive: UTC
    assert naive["_request_id"].unique().tolist() == ["1201-0"]
    assert naive["_target"].eq("yes").all()
    with pytest.raises(DataError, match=r"day=2026-11-28/part-0-x.parquet' cannot be read "
                                        r".*move it out"):
        read_log(tmp_path)


def test_join_labels_by_request_id_and_row_or_by_an_input_column(tmp_path: Path) -> None:
    log = writer(tmp_path)
    rows = inputs(3).assign(id=[1, 2, 3])
    log.record(rows, predictions(3), request_id="a", received=rows)
    log.close()
    frame = read_log(tmp_path)
    by_request = join_labels(frame, pd.DataFrame({"_request_id": ["a", "a"], "_row": [None, 2],
                                                  "label": ["no", "yes"]}), key="_request_id")
    assert by_request["_target"].tolist() == ["no", "no", "yes"]
    by_id = join_labels(frame, pd.DataFrame({"id": ["3", "1"], "_target": ["yes", "no"]}),
                        key="id")  # ids read as text from a CSV: compared as text
    assert by_id["_target"].fillna("none").tolist() == ["no", "none", "yes"]
    with pytest.raises(DataError, match=r"^labels: none of the 1 labels matches a logged "
                                        r"prediction by 'id' \(the file's keys: 9 \.\.\.\)"):
        join_labels(frame, pd.DataFrame({"id": [9], "label": ["no"]}), key="id")
    with pytest.raises(DataError, match=r"^labels --key: 'idd' is not a column of the "
                                        r"prediction log. Did you mean 'id'\?"):
        join_labels(frame, pd.DataFrame({"idd": [1], "label": ["no"]}), key="idd")
    with pytest.raises(DataError, match=r"^labels: which column is the label\?"):
        join_labels(frame, pd.DataFrame({"id": [1], "a": [1], "b": [2]}), key="id")


def test_bad_logs_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^prediction log '.*nowhere': no predictions logged"):
        read_log(tmp_path / "nowhere")
    (tmp_path / "predictions" / "day=2026-12-01").mkdir(parents=True)
    with pytest.raises(DataError, match=r"no predictions logged there"):
        read_log(tmp_path)  # a day folder with no file in it
    write_days(tmp_path, [NOW], requests=1)
    with pytest.raises(DataError, match=r"no predictions from 2026-12-02T00:00:00\+00:00 to "
                                        r"its end; it holds days 2026-12-01 to 2026-12-01\. "
                                        r"Widen --since/--until\.$"):
        read_log(tmp_path, since=datetime(2026, 12, 2))
    with pytest.raises(DataError, match=r"no column 'age', which the model reads .* it was "
                                        r"written for another model"):
        read_log(tmp_path, columns=["city", "age"])
    with pytest.raises(DataError, match=r"no such folder to compact"):
        compact(tmp_path / "nowhere", retention_days=1)
