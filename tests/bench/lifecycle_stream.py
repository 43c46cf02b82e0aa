"""adult.csv replayed as a stream in a seeded order, with the concept change that the lifecycle
benchmark (bench_lifecycle.py) declares.

The seed shuffles the 48,842 rows. The first 4,842 (or ``history_rows``) are the history that
the first champion (and the static model) trains on. The next 44,000 arrive in 20 batches of
2,200 (with a shorter history, the rows after them are left out). From batch 10 on, the label
of one subgroup is redrawn from another rule (:data:`RULE`). Every batch before then,
and every batch of the stream without the change, keeps adult's own labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from engine.tracking.files import write_atomically

TARGET = "class"
POSITIVE = ">50K"
NEGATIVE = "<=50K"
HISTORY_ROWS = 4_842
BATCHES = 20
BATCH_ROWS = 2_200
CHANGE_AT = 10
YOUNG_BELOW = 35
LONG_HOURS = 45
SOME_COLLEGE = 10
RULE = (f"from batch {CHANGE_AT} on, for people with age < {YOUNG_BELOW}, class = {POSITIVE} "
        f"exactly when hours-per-week >= {LONG_HOURS} and education-num >= {SOME_COLLEGE} "
        f"(otherwise {NEGATIVE}); everyone else keeps adult's label")


@dataclass(frozen=True)
class Stream:
    """One seed's replay: the history first trained on, then the batches in arrival order."""

    history: pd.DataFrame
    batches: list[pd.DataFrame]


def in_subgroup(rows: pd.DataFrame) -> pd.Series:
    """The people whose label the change redraws."""
    return rows["age"] < YOUNG_BELOW


def changed_labels(rows: pd.DataFrame) -> pd.Series:
    """``class`` as :data:`RULE` draws it: the rule's label inside the subgroup, adult's outside."""
    rule = (rows["hours-per-week"] >= LONG_HOURS) & (rows["education-num"] >= SOME_COLLEGE)
    redrawn = pd.Series(np.where(rule, POSITIVE, NEGATIVE), index=rows.index)
    return redrawn.where(in_subgroup(rows), rows[TARGET])


def replay(adult: pd.DataFrame, seed: int, *, change: bool,
           history_rows: int = HISTORY_ROWS) -> Stream:
    """adult's rows in the order ``seed`` draws, cut into the history and the batches; with
    ``change``, the batches from :data:`CHANGE_AT` on carry :func:`changed_labels`."""
    if len(adult) < history_rows + BATCHES * BATCH_ROWS:
        raise ValueError(f"adult.csv has {len(adult)} rows; the stream needs "
                         f"{history_rows + BATCHES * BATCH_ROWS}")
    shuffled = adult.iloc[np.random.default_rng(seed).permutation(len(adult))]
    shuffled = shuffled.reset_index(drop=True)
    batches = []
    for index in range(BATCHES):
        start = history_rows + index * BATCH_ROWS
        batch = shuffled.iloc[start:start + BATCH_ROWS].copy()
        if change and index >= CHANGE_AT:
            batch[TARGET] = changed_labels(batch)
        batches.append(batch)
    return Stream(shuffled.iloc[:history_rows].copy(), batches)


def rule_shares(adult: pd.DataFrame) -> dict[str, float]:
    """What the change touches, over all of adult: the subgroup's share of the rows, the share
    of the subgroup the rule labels positive (adult's own share there beside it), and the share
    of all labels the rule flips."""
    subgroup = in_subgroup(adult)
    redrawn = changed_labels(adult)
    return {"subgroup": float(subgroup.mean()),
            "rule_positive": float(redrawn[subgroup].eq(POSITIVE).mean()),
            "adult_positive": float(adult.loc[subgroup, TARGET].eq(POSITIVE).mean()),
            "flipped": float(redrawn.ne(adult[TARGET]).mean())}


def file_name(arrival: int) -> str:
    """The file of the ``arrival``-th part of the stream (0: the history, k: batch k - 1), named
    so that sorting by name is the order of arrival."""
    part = "history" if arrival == 0 else f"batch{arrival - 1:02d}"
    return f"{arrival:03d}-{part}.csv"


def write_part(folder: Path, arrival: int, rows: pd.DataFrame) -> Path:
    """Write one part of the stream into the source folder, atomically (a reader globbing the
    folder never sees half a file)."""
    return write_atomically(folder / file_name(arrival),
                            lambda temporary: rows.to_csv(temporary, index=False))


def write_stream(folder: Path, seed: int, *, change: bool) -> Stream:
    """One seed's replay as files a user can feed to ``retrain``: ``history.csv`` and
    ``arriving/batch_00.csv`` ... ``batch_19.csv``."""
    from common import SHARED_DATA

    stream = replay(pd.read_csv(SHARED_DATA / "adult.csv"), seed, change=change)
    (folder / "arriving").mkdir(parents=True, exist_ok=True)
    write_atomically(folder / "history.csv", partial(stream.history.to_csv, index=False))
    for index, batch in enumerate(stream.batches):
        write_atomically(folder / "arriving" / f"batch_{index:02d}.csv",
                         partial(batch.to_csv, index=False))
    return stream


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write adult.csv replayed as a stream: "
                                                 "FOLDER/history.csv and FOLDER/arriving/"
                                                 f"batch_00.csv ... batch_{BATCHES - 1}.csv. "
                                                 f"The concept change: {RULE}.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0, help="the order of the rows (default 0)")
    parser.add_argument("--no-change", action="store_true", help="keep adult's labels throughout")
    options = parser.parse_args()
    written = write_stream(options.folder, options.seed, change=not options.no_change)
    print(f"{options.folder}: history.csv ({len(written.history)} rows), arriving/batch_00.csv ... "
          f"batch_{BATCHES - 1}.csv ({BATCH_ROWS} rows each)"
          + ("" if options.no_change else f"; {RULE}"))
