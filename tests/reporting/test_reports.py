"""Each report, rendered in headless Chromium: a screenshot, no broken image, no script error,
no dialog and no markup that is not the engine's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FAST, only_run_dir
from tests.reporting.browser import Rendered, render


def check_renders(report: Path, screenshot: Path, sections: set[str]) -> Rendered:
    rendered = render(report, screenshot)
    assert rendered.errors == []
    assert rendered.dialogs == [] and rendered.foreign == []
    assert rendered.broken_images == []
    assert sections <= set(rendered.headings), rendered.headings
    assert screenshot.stat().st_size > 20_000  # a real page, not a blank one
    return rendered


@pytest.mark.slow  # a CLI run, then Chromium (test_hostile_data renders in the default suite)
def test_the_default_runs_report(cli, tmp_path) -> None:
    done = cli(*FAST)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path)
    assert f"report: {run_dir / 'report.html'}" in done.stdout
    html = (run_dir / "report.html").read_text()
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # one file
    rendered = check_renders(run_dir / "report.html", tmp_path / "run.png",
                             {"Metrics", "Data", "Diagnostics", "Explanations", "Provenance"})
    assert rendered.svg_count >= 6  # ROC, PR, reliability, importance, partial dependence


@pytest.mark.slow
def test_a_tuned_run_with_slices_and_fairness(cli, tmp_path) -> None:
    done = cli(*FAST, "tune=tpe", "tune.n_trials=4", "metrics.slices.columns=[mean radius]",
               "metrics.fairness.sensitive=[mean texture]")
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path)
    html = (run_dir / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') >= 2  # the study's plots, embedded
    check_renders(run_dir / "report.html", tmp_path / "tuned.png",
                  {"Metrics", "Slices", "Fairness", "Explanations", "Tuning"})


@pytest.mark.slow
def test_a_tuned_run_without_an_ensemble_writes_its_tuning_section(cli, tmp_path) -> None:
    done = cli(*FAST, "tune=tpe", "tune.n_trials=3", "tune.plots=false")
    assert done.returncode == 0, done.stderr
    assert "report.html not written" not in done.stdout
    html = (only_run_dir(tmp_path) / "report.html").read_text()
    assert "Study " in html and "Refitted instead" not in html


@pytest.mark.slow
def test_a_regression_report(cli, tmp_path) -> None:
    done = cli(*FAST, "dataset=diabetes")
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path)
    check_renders(run_dir / "report.html", tmp_path / "regression.png", {"Diagnostics"})
    assert "Error by target decile" in (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    again = cli("report", str(run_dir))
    assert again.returncode == 0 and f"report: {run_dir / 'report.html'}" in again.stdout
    assert "Error by target decile" in (run_dir / "report.html").read_text()


@pytest.mark.slow
def test_the_sweep_report_and_the_report_verb(cli, tmp_path) -> None:
    done = cli("-m", *FAST, "model=logistic_regression,knn")
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (tmp_path / "multiruns").iterdir()
    report = sweep_dir / "report.html"
    html = report.read_text()
    assert 'href="0/report.html"' in html and 'href="1/report.html"' in html
    assert "corrected resampled t" in html  # the top runs compared with paired tests
    rendered = check_renders(report, tmp_path / "sweep.png",
                             {"Leaderboard", "Top runs: breast_cancer by roc_auc"})
    assert sorted(rendered.sorted_first_cells) == ["0", "1"]
    report.unlink()
    again = cli("report", str(sweep_dir))
    assert again.returncode == 0 and report.is_file()
    missing = cli("report", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "neither a run directory" in missing.stderr


def test_reports_can_be_turned_off(cli, tmp_path) -> None:
    assert cli(*FAST, "report=false").returncode == 0
    run_dir = only_run_dir(tmp_path)
    assert not (run_dir / "report.html").exists()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "ok"
