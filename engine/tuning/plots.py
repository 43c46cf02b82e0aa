"""The study's plots, drawn in a background thread beside the refit.

``tuning/*.png``: optimisation history, parameter importances (PED-ANOVA, milliseconds where the
default fANOVA forest takes most of a second), parallel coordinates, or the Pareto front with
several objectives. Drawing costs about a second of Python; tree fits, OpenMP and BLAS release
the GIL, so part of it overlaps the refit (measured in tests/bench/bench_tuning.py).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

PLOTS = ("optimization_history", "param_importances", "parallel_coordinate", "pareto_front")


def start_plots(study: Any, objectives: tuple[str, ...], out: Path) -> Future[dict[str, str]]:
    """Start drawing; ``.result()`` gives each plot's file, or why it was not drawn."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-plots")
    future = pool.submit(draw_plots, study, objectives, out)
    pool.shutdown(wait=False)
    return future


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
