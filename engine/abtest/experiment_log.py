"""An online experiment's rows, read from the prediction log a server with several variants
writes: each predicted row with its ``_variant`` (``shadow:<name>`` for a shadow's rows, which
are never returned), the live request's ``_latency_ms``, and the feedback joined as ``_target``
(a label) and ``_outcome`` (a business value)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import DataError
from engine.monitoring.columns import SHADOW_PREFIX, VARIANT

if TYPE_CHECKING:
    import pandas as pd


def read_experiment(root: Path) -> pd.DataFrame:
    """The rows of the log under ``root`` that a variant answered (those logged before the
    experiment began have none), refused in one line when there are none."""
    from engine.monitoring.prediction_log import read_log

    frame = read_log(root)
    if VARIANT in frame.columns:
        frame = frame[frame[VARIANT].notna()].reset_index(drop=True)
    if VARIANT not in frame.columns or frame.empty:
        raise DataError(f"abtest: no row of the prediction log '{root}' names its variant "
                        f"('{VARIANT}'): a server answering with one model wrote it. Serve "
                        "several variants "
                        "(python -m engine serve NAME@champion NAME@challenger --split 90/10) "
                        "and analyse the log they write.")
    return frame


def is_live(variants: pd.Series) -> pd.Series:
    """Whether each row's variant answered the request (not a shadow)."""
    return ~variants.astype(str).str.startswith(SHADOW_PREFIX)
