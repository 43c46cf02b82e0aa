"""The suite runner loads each distinct dataset once, however many experiments read it."""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.regress.runner import load_suite_data, plan_suite
from engine.regress.suite import load_suite


def test_each_dataset_is_loaded_once_for_all_its_experiments(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({
        "guards": {"cv.primary": {"absolute": 0.01}},
        "experiments": {"a": ["dataset=wine", "model=knn"], "b": ["dataset=wine", "model=svm"],
                        "c": ["dataset=iris"], "d": ["dataset=wine", "seed=7"]},
    }))
    suite = load_suite(path)
    planned = plan_suite(suite)
    datasets = load_suite_data(suite, planned)
    assert len(datasets) == 3  # wine, iris, and wine with another seed
    first, second = (datasets[plan.data_key] for plan in planned[:2])
    assert first is second
