"""Every shipped model trains and scores on a small bundled dataset, for each task it supports."""

from __future__ import annotations

import pytest

from engine.config.compose import CONFIG_DIR, compose_spec
from tests.torch.nets import AS_MODEL_TORCH

MODELS = sorted(path.stem for path in (CONFIG_DIR / "model").glob("*.yaml"))
NEEDS = {"torch": AS_MODEL_TORCH}  # model=torch trains the network the user names
CASES = [
    (model, dataset)
    for model in MODELS
    for dataset, family in (("breast_cancer", "classification"), ("iris", "classification"),
                            ("diabetes", "regression"))
    if family in compose_spec([f"model={model}", *NEEDS.get(model, ())]).model.targets
]


@pytest.mark.parametrize(("model", "dataset"), CASES, ids=[f"{m}-{d}" for m, d in CASES])
def test_model_trains_and_beats_chance(run, model: str, dataset: str) -> None:
    result = run(f"model={model}", f"dataset={dataset}", "split.cv.n_splits=3",
                 *NEEDS.get(model, ()))
    metrics = result.metrics
    assert set(metrics["cv"]) == set(metrics["test"])
    assert metrics["cv"][metrics["primary"]]["mean"] == pytest.approx(result.objective)
    if model == "dummy":
        return
    if dataset == "breast_cancer":
        assert metrics["test"]["roc_auc"] > 0.9
    elif dataset == "iris":
        assert metrics["test"]["accuracy"] > 0.8
    else:
        assert metrics["test"]["r2"] > 0.1


def test_classification_only_model_on_regression_data_is_refused(run) -> None:
    from engine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"model=logistic_regression: supports classification"):
        run("model=logistic_regression", "dataset=diabetes")


def test_library_warnings_are_counted_once_in_run_json(run) -> None:
    import json

    result = run("model=dummy", "dataset=wine", "split.cv.n_splits=3")
    warnings = json.loads((result.run_dir / "run.json").read_text())["warnings"]
    undefined = [w for w in warnings if w["category"] == "UndefinedMetricWarning"]
    assert len(undefined) == 1
    assert undefined[0]["count"] >= 3
    assert undefined[0]["message"].startswith("Precision is ill-defined")
