"""Loading datasets, checking their quality, and splitting them for evaluation.

``load_dataset`` turns the ``dataset`` config group into a ``Dataset``; ``check_quality`` reports
on it under the ``quality`` key; ``split_holdout`` and ``make_cv`` follow the ``split`` group.
"""

from __future__ import annotations

from engine.data.dataset import Dataset
from engine.data.findings import Finding, QualityReport
from engine.data.quality import check_quality
from engine.data.sources import load_dataset
from engine.data.splits import make_cv, split_holdout
from engine.data.task import infer_task

__all__ = [
    "Dataset",
    "Finding",
    "QualityReport",
    "check_quality",
    "infer_task",
    "load_dataset",
    "make_cv",
    "split_holdout",
]
