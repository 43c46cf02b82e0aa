"""The plotting process: it draws a finished study from its storage, relays its warnings,
reports a failure instead of raising it, and stops cleanly when the search fails."""

from __future__ import annotations

import signal
from pathlib import Path

import optuna
import pytest

from engine.tuning.plots import PlotProcess
from engine.tuning.storage import open_storage


def _study(studies: Path, name: str, trials: int) -> None:
    study = optuna.create_study(study_name=name, storage=open_storage(None, name, studies),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 5),
                   n_trials=trials)


def test_a_finished_study_is_drawn_from_its_storage(tmp_path: Path) -> None:
    _study(tmp_path / "studies", "drawn", trials=8)
    plots = PlotProcess()
    plots.draw((None, "drawn", tmp_path / "studies"), ("roc_auc",), tmp_path / "out")
    made = plots.result()
    assert made == {name: f"{name}.png" for name in
                    ("optimization_history", "param_importances", "parallel_coordinate")}
    for file in made.values():
        assert (tmp_path / "out" / file).stat().st_size > 1000


@pytest.mark.filterwarnings("ignore:Attempting to set identical low and high ylims")
def test_the_drawings_warnings_are_raised_in_the_run(tmp_path: Path) -> None:
    _study(tmp_path / "studies", "one", trials=1)
    plots = PlotProcess()
    plots.draw((None, "one", tmp_path / "studies"), ("roc_auc",), tmp_path / "out")
    with pytest.warns(UserWarning, match="too small to compute importances"):
        made = plots.result()
    assert made["param_importances"] == "param_importances.png"


def test_a_missing_study_is_reported_not_raised(tmp_path: Path) -> None:
    plots = PlotProcess()
    plots.draw((None, "absent", tmp_path / "studies"), ("roc_auc",), tmp_path / "out")
    assert plots.result()["plots"].startswith("not drawn: KeyError")


def test_stopping_before_drawing_ends_the_process(tmp_path: Path) -> None:
    plots = PlotProcess()
    plots.stop()
    # it exits by itself, or, still importing after STOP_SECONDS on a busy machine, is
    # terminated; either way it is reaped by the time stop returns
    assert plots._process.exitcode in (0, -signal.SIGTERM)


def test_a_run_that_ends_without_a_word_ends_the_process_quietly() -> None:
    plots = PlotProcess()
    plots._connection.close()  # what a killed run leaves the process
    plots._process.join(timeout=60)
    assert plots._process.exitcode == 0


def test_a_plotting_process_that_died_is_reported_not_raised(tmp_path: Path) -> None:
    plots = PlotProcess()
    plots._process.kill()
    plots._process.join()
    plots.draw((None, "any", tmp_path / "studies"), ("roc_auc",), tmp_path / "out")
    assert plots.result()["plots"].startswith("not drawn: the plotting process exited")
    plots.stop()  # and stopping it afterwards is harmless
