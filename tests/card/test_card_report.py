"""The card in report.html, rendered by headless Chromium: its sections are there, its tables
drawn, and the markup its data and its people's text hold is shown as text, never run."""

from __future__ import annotations

from pathlib import Path

from tests.card.conftest import HOSTILE_REGION, HOSTILE_USE
from tests.reporting.test_reports import check_renders


def test_the_report_shows_the_card_and_runs_none_of_its_markup(fairness_run: Path,
                                                               tmp_path: Path) -> None:
    rendered = check_renders(fairness_run / "report.html", tmp_path / "report.png",
                             {"Metrics", "Fairness", "Model card"})
    assert "window.__pwned" not in "".join(rendered.foreign)
    for text in ("Model card: logistic_regression on credit", "Limitations", "Datasheet",
                 "crosses its warn limit", HOSTILE_USE, HOSTILE_REGION, "not stated"):
        assert text in rendered.text, text
