"""The study's plots, drawn in a spawned process beside the refit.

``tuning/*.png``: optimisation history, parameter importances (PED-ANOVA, milliseconds where the
default fANOVA forest takes most of a second), parallel coordinates, or the Pareto front with
several objectives. The process starts with the search and imports matplotlib and Optuna's
plots while the trials run; when the search ends it loads the study from its storage and draws
on its own core, without the GIL of the process that refits (measured in
tests/bench/bench_tuning.py). Its warnings are raised again in the run, so run.json lists them.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import multiprocessing
import signal
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PLOTS = ("optimization_history", "param_importances", "parallel_coordinate", "pareto_front")
STOP_SECONDS = 10
"""How long a stopped plotting process may take to exit before it is terminated."""
WARM_UP = ("matplotlib.pyplot", "optuna.visualization.matplotlib", "optuna.importance")
StudyAddress = tuple[str | None, str, Path]
"""``(tune.storage, study name, studies_dir)``: where the drawing process finds the study."""


class PlotProcess:
    """Start it before the search; ``draw`` when the study is done, ``result`` after the refit,
    or ``stop`` when the search failed."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), name="engine-plots",
                                        daemon=True)
        self._process.start()
        child.close()

    def draw(self, study: StudyAddress, objectives: tuple[str, ...], out: Path) -> None:
        """Hand over the finished study; a process that already died is reported by result."""
        with contextlib.suppress(OSError):
            self._connection.send((study, objectives, out))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.send(None)
        self._process.join(timeout=STOP_SECONDS)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()  # reaped: its exit code is set once stop returns

    def result(self) -> dict[str, str]:
        """Each plot's file, or why it was not drawn; the drawing's warnings are raised here."""
        try:
            made, caught = self._connection.recv()  # not waiting for the process to wind down
        except (EOFError, OSError):
            self._process.join(timeout=STOP_SECONDS)
            made, caught = {"plots": "not drawn: the plotting process exited "
                                     f"(code {self._process.exitcode})"}, []
        for category, message in caught:
            warnings.warn(message, category, stacklevel=2)
        return made


def _serve(connection: Connection) -> None:
    """The spawned process: import, wait for the finished study (or None), draw, answer.

    Ctrl-C is the run's to handle: it stops this process by sending None.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import matplotlib
    import optuna

    matplotlib.use("Agg")
    for module in WARM_UP:  # while the search runs
        importlib.import_module(module)
    _render_once()
    from engine.tracking.warning_log import collected_warnings
    from engine.tuning.storage import open_storage
    from engine.tuning.workers import quiet_optuna

    try:
        request = connection.recv()
    except EOFError:  # the run ended without a word (killed, or a crash)
        return
    if request is None:
        return
    (storage, name, studies_dir), objectives, out = request
    with collected_warnings() as caught:
        quiet_optuna()  # after collected_warnings' "always", so its filters come first
        try:
            study = optuna.load_study(study_name=name,
                                      storage=open_storage(storage, name, studies_dir))
            made = draw_plots(study, objectives, out)
        except Exception as error:  # a plot is never worth failing the run for
            made = {"plots": f"not drawn: {type(error).__name__}: {error}"}
    connection.send((made, [(item.category, str(item.message)) for item in caught]))


def _render_once() -> None:
    """A throwaway figure with text and lines: fonts and the renderer are loaded before the
    study's first plot needs them (about half its drawing time)."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots()
    axes.plot([0, 1], [1, 0], label="warm-up")
    axes.set_title("warm-up")
    axes.legend()
    figure.savefig(io.BytesIO(), format="png", dpi=90)
    plt.close(figure)


def draw_plots(study: Any, objectives: tuple[str, ...], out: Path) -> dict[str, str]:
    """Each plot's file, or why it could not be drawn (too few trials, one parameter...)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.visualization import matplotlib as optuna_plots

    out.mkdir(parents=True, exist_ok=True)
    several = len(objectives) > 1
    made: dict[str, str] = {}
    for name in PLOTS:
        if name == "pareto_front" and not several:
            continue
        plot = getattr(optuna_plots, f"plot_{name}")
        options: dict[str, Any] = {}
        if name == "pareto_front":
            options = {"target_names": list(objectives)}
        elif several:  # the other plots show the first objective
            options = {"target": lambda t: t.values[0], "target_name": objectives[0]}
            if name == "param_importances" and study.directions[0].name == "MAXIMIZE":
                # PED-ANOVA looks for what makes the target low
                options["target"] = lambda t: -t.values[0]
        if name == "param_importances":
            # PED-ANOVA: milliseconds, where the default fANOVA forest takes most of a second.
            options["evaluator"] = PedAnovaImportanceEvaluator()
        try:
            axes = plot(study, **options)
        except (ValueError, RuntimeError) as error:
            made[name] = f"not drawn: {error}"
            continue
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
        figure.savefig(out / f"{name}.png", dpi=90)
        plt.close(figure)
        made[name] = f"{name}.png"
    return made
