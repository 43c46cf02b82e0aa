"""What a card says, and that the bundle seals it: the facts it derives (limitations), what only
people know ("not stated" when left out, escaped when stated), and a changed card refused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from engine.deploy.bundle import load_bundle
from engine.errors import DataError
from tests.card.conftest import HOSTILE_REGION, HOSTILE_USE


def body(run_dir: Path) -> str:
    return (run_dir / "model" / "MODEL_CARD.md").read_text(encoding="utf-8").split("---\n", 2)[2]


def section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_manifest_seals_the_card(fairness_run: Path) -> None:
    bundle = fairness_run / "model"
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["sha256"]["MODEL_CARD.md"] == hashlib.sha256(
        (bundle / "MODEL_CARD.md").read_bytes()).hexdigest()


def test_a_changed_card_is_refused_as_any_changed_bundle_file(fairness_run: Path,
                                                              tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(fairness_run, copy)
    card = copy / "model" / "MODEL_CARD.md"
    card.write_text(card.read_text().replace("0.", "0.9", 1))
    with pytest.raises(DataError, match=r"MODEL_CARD\.md does not match its SHA-256"):
        load_bundle(copy)


def test_limitations_are_derived_from_the_records(fairness_run: Path) -> None:
    limits = section(body(fairness_run), "Limitations")
    evaluated = json.loads((fairness_run / "evaluation.json").read_text())
    measure = evaluated["fairness"]["groupings"][0]["measures"]["demographic_parity_difference"]
    assert measure["verdict"] == "warn"
    assert (f"fairness by `sex`: `demographic_parity_difference` {measure['value']:.4f} crosses "
            "its warn limit 0.0100") in limits
    assert "columns unseen at training (dropped by the dataset config): `id`" in limits
    small = [s for s in evaluated["slices"] if s["rows"] < 30]
    assert small and all(f"`{s['slice']}`: {s['rows']} test rows" in limits for s in small)


def test_what_people_left_out_reads_not_stated(regression_run: Path) -> None:
    text = body(regression_run)
    assert section(text, "Intended use").strip() == ("**Intended use:** not stated\n\n"
                                                     "**Out of scope:**\n\nnot stated")
    for line in ("- owners: not stated", "- contact: not stated", "- licence: not stated"):
        assert line in section(text, "Model details")
    assert section(text, "Ethical considerations").strip() == "not stated"
    assert section(text, "Caveats and recommendations").strip() == "not stated"


def test_what_people_stated_is_shown_with_its_markup_escaped(fairness_run: Path) -> None:
    text = body(fairness_run)
    escaped = HOSTILE_USE.replace("<", "&lt;").replace(">", "&gt;")
    assert f"**Intended use:** {escaped}" in text
    assert "- owners: risk-team" in text and "- licence: apache-2.0" in text
    assert f"`{HOSTILE_REGION}`" in text  # data stays in code spans
    assert "<script>" not in text.replace(f"`{HOSTILE_REGION}`", "")


def test_each_section_is_there_with_what_the_run_measured(fairness_run: Path,
                                                          multiclass_run: Path) -> None:
    text = body(fairness_run)
    for title in ("Model details", "Intended use", "Training data", "Datasheet", "Evaluation",
                  "Slices and fairness", "Explanations", "Lineage", "Limitations",
                  "Ethical considerations", "Caveats and recommendations"):
        assert f"\n## {title}\n" in text
    report = json.loads((fairness_run / "data_report.json").read_text())
    assert f"`{report['summary']['dataset']}`" in text
    fingerprint = json.loads((fairness_run / "run.json").read_text())["dataset"]["fingerprint"]
    assert f"fingerprint of the rows read: `{fingerprint}`" in section(text, "Training data")
    assert "Brier score of class `1`" in section(text, "Evaluation")
    tuning = json.loads((multiclass_run / "metrics.json").read_text())["tuning"]
    search = section(body(multiclass_run), "Model details")
    assert f"search: `{tuning['method']}`" in search
    for name, value in tuning["best_params"].items():  # numbers in full, words as code
        shown = f"`{value}`" if isinstance(value, str) else repr(value)
        assert f"| `{name}` | {shown} | search |" in search or value is None
