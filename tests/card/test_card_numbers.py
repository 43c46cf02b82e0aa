"""Every number on a card equals the record it comes from, within half a unit of its last
decimal; the YAML metadata holds the test metrics as metrics.json does.

These tests read the records themselves (json, yaml) and parse the card with regular
expressions: they share no code with the card's writer.
"""

from __future__ import annotations

import bisect
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.(\d+))?(?![\w.])")
CURVES = {"roc", "precision_recall", "partial_dependence", "predicted", "observed", "counts",
          "edges", "repeats"}
"""Arrays the card never shows: left out of the sources, so that a number cannot match one of
their thousands of points by chance."""
RUNS = ("fairness_run", "multiclass_run", "regression_run")


def card(run_dir: Path) -> tuple[dict[str, Any], str]:
    text = (run_dir / "model" / "MODEL_CARD.md").read_text(encoding="utf-8")
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def records(run_dir: Path) -> dict[str, Any]:
    found = {name: json.loads((run_dir / name).read_text()) for name in
             ("metrics.json", "evaluation.json", "data_report.json", "run.json")}
    found["metadata"] = json.loads((run_dir / "model" / "metadata.json").read_text())
    choice = found["run.json"]["choices"]["model"]
    conf = Path(__file__).resolve().parents[2] / "engine" / "conf" / "model" / f"{choice}.yaml"
    found["model config"] = yaml.safe_load(conf.read_text())
    return found


def numbers(value: Any, key: str = "") -> Iterator[float]:
    if isinstance(value, bool) or (key in CURVES and isinstance(value, list | dict)):
        return
    if isinstance(value, int | float):
        yield float(value)
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from numbers(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item, key)


def table(body: str, heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``heading``, the first cell's code marks
    removed."""
    lines = body.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[start + 2:]:  # past the header and its rule
        if not line.startswith("| "):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return [[row[0].removesuffix(" (primary)").strip("`"), *row[1:]] for row in rows]


@pytest.mark.parametrize("fixture", RUNS)
def test_every_number_in_the_text_is_a_recorded_value(fixture: str,
                                                      request: pytest.FixtureRequest) -> None:
    run_dir = request.getfixturevalue(fixture)
    _, body = card(run_dir)
    found = records(run_dir)
    sources = sorted(set(numbers(found)))
    for finding in found["data_report.json"]["findings"]:  # quoted as written, numbers and all
        body = body.replace(html.escape(" ".join(finding["message"].split()), quote=False), "")
    text = CODE_SPAN.sub(" ", body)
    checked = 0
    for match in NUMBER.finditer(text):
        shown, decimals = float(match.group(0)), len(match.group(1) or "")
        tolerance = 0.5 * 10 ** -decimals + 1e-12
        nearest = bisect.bisect_left(sources, shown - tolerance)
        assert nearest < len(sources) and sources[nearest] <= shown + tolerance, (
            f"{match.group(0)} in '...{text[max(0, match.start() - 60):match.end() + 20]}...' "
            "is no recorded value")
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("fixture", RUNS)
def test_the_metrics_table_is_metrics_json_to_four_decimals(
        fixture: str, request: pytest.FixtureRequest) -> None:
    run_dir = request.getfixturevalue(fixture)
    _, body = card(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    rows = {name: cells for name, *cells in table(body, "## Evaluation")}
    assert set(rows) == set(metrics["test"]) | set(metrics["cv"])
    for name, (cv_mean, cv_std, test, low, high) in rows.items():
        interval = metrics["test_intervals"][name]
        for shown, recorded in ((cv_mean, metrics["cv"][name]["mean"]),
                                (cv_std, metrics["cv"][name]["std"]),
                                (test, metrics["test"][name]), (low, interval["low"]),
                                (high, interval["high"])):
            assert re.fullmatch(r"-?\d+\.\d{4}", shown), shown
            assert abs(float(shown) - recorded) <= 0.00005 + 1e-12, (name, shown, recorded)


def test_the_fairness_and_slices_tables_are_evaluation_json(fairness_run: Path) -> None:
    _, body = card(fairness_run)
    evaluated = json.loads((fairness_run / "evaluation.json").read_text())
    (grouping,) = evaluated["fairness"]["groupings"]
    measures = {name: cells for name, *cells in table(body, "By `sex`:")}
    assert set(measures) == set(grouping["measures"])
    for name, (value, verdict, _, _) in measures.items():
        assert abs(float(value) - grouping["measures"][name]["value"]) <= 0.00005
        assert verdict == f"`{grouping['measures'][name]['verdict']}`"
    slices = table(body, "worst slices")
    assert len(slices) == min(5, len(evaluated["slices"]))
    for (column, _, rows, score, low, high), record in zip(slices, evaluated["slices"],
                                                           strict=False):
        assert column == record["column"] and int(rows) == record["rows"]
        for shown, recorded in ((score, record["scores"]["roc_auc"]),
                                (low, record["interval"]["low"]),
                                (high, record["interval"]["high"])):
            assert abs(float(shown) - recorded) <= 0.00005


@pytest.mark.parametrize("fixture", RUNS)
def test_the_metadata_is_what_the_hub_reads(fixture: str,
                                            request: pytest.FixtureRequest) -> None:
    from huggingface_hub import ModelCard

    run_dir = request.getfixturevalue(fixture)
    metadata, _ = card(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    run = json.loads((run_dir / "run.json").read_text())
    hub = ModelCard((run_dir / "model" / "MODEL_CARD.md").read_text(encoding="utf-8")).data
    assert {result.metric_type: result.metric_value for result in hub.eval_results} == \
        metrics["test"]
    assert {result.dataset_name for result in hub.eval_results} == {run["dataset"]["name"]}
    assert {result.dataset_revision for result in hub.eval_results} == \
        {run["dataset"]["fingerprint"]}
    assert hub.model_name == f"{run['dataset']['name']}-{run['model']}"
    assert metadata["model_version"] == run_dir.name
    assert metadata["task"] == metrics["task"]
    assert metadata["datasets"] == [run["dataset"]["name"]]
    assert metadata["pipeline_tag"] == ("tabular-regression" if metrics["task"] == "regression"
                                        else "tabular-classification")


def test_a_stated_licence_is_in_the_metadata_and_a_missing_one_is_not_invented(
        fairness_run: Path, regression_run: Path) -> None:
    assert card(fairness_run)[0]["license"] == "apache-2.0"
    metadata, body = card(regression_run)
    assert "license" not in metadata
    assert "- licence: not stated" in body
