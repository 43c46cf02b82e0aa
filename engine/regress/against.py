"""``regress SUITE --against REF``: the base (the merge-base of HEAD and REF) and the change
(this working tree) side by side in one job.

Scores: the base commit's own ``regress`` records the suite once per commit and suite (cached),
in a process of its own while the change trains it here; score guards compare the two on the
same data, folds and seeds with the paired tests of a baseline check. Timings: one worker per
side, asked in turn (ABBA), never cached; each timing guard is judged on the ratio change/base
(``paired_timing.py``). The base failing anywhere is exit 3, "base failed", never a regression.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import yaml
from rich.console import Console

import engine
from engine.data.dataset import Dataset
from engine.regress.base_env import SideEnvironment, base_environment
from engine.regress.base_failure import BASE_FAILED_EXIT, BaseFailed
from engine.regress.base_scores import BaseScores, base_scores
from engine.regress.gate import announce_run, write_outcome
from engine.regress.git_base import BaseCommit, base_worktree, repo_root, resolve_base
from engine.regress.guards import FAILING, Check, check_experiment
from engine.regress.interleaved import TimingTask, time_interleaved, worker_pairs
from engine.regress.measurement import Measurement
from engine.regress.paired_timing import TimingPair, judge_timings
from engine.regress.runner import load_suite_data, plan_suite, run_planned
from engine.regress.suite import Suite, SuiteExperiment, load_suite
from engine.tracking.files import write_atomically, write_text

CHANGE_TREE = Path(engine.__file__).resolve().parents[1]


def run_against(suite_path: Path, ref: str, *, output_dir: Path, cache: Path, jobs: int | None,
                console: Console, extra_overrides: tuple[str, ...] = ()) -> int:
    """Compare the change with the base of ``ref``; the exit status (0, 1, or 3 when the base
    failed). Mistakes in the suite or the ref raise a ConfigError (exit 2)."""
    started = time.perf_counter()
    suite_path = suite_path.resolve()
    suite = load_suite(suite_path, extra_overrides)  # a broken suite stops here, before git
    repo = repo_root(CHANGE_TREE)
    base = resolve_base(repo, ref)
    console.print(_sides(base), highlight=False)
    workers = jobs or suite.jobs
    try:
        tree = base_worktree(repo, base.commit, cache)
        environment = base_environment(tree, repo, cache)
        console.print(f"base environment: {environment.note}", highlight=False)
        raw = yaml.safe_load(suite_path.read_text())
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(base_scores, raw, suite_path, environment, base.commit, cache,
                                  extra=extra_overrides, jobs=workers)
            checks, scores = _compare(suite, pending, environment, output_dir=output_dir,
                                      jobs=workers, console=console, suite_path=suite_path,
                                      extra_overrides=extra_overrides)
    except BaseFailed as error:
        console.print(f"[bold red]base failed[/bold red] ({base.commit[:12]}): {error}. The "
                      "change was not judged: this is no regression.", highlight=False)
        return BASE_FAILED_EXIT
    context = _context(base, environment.note, scores)
    write_outcome(suite.name, checks, console=console, output_dir=output_dir, context=context,
                  seconds=time.perf_counter() - started,
                  record={"suite": str(suite_path), "against": {
                      "ref": ref, "base": base.commit, "head": base.head,
                      "uncommitted_files": base.dirty_files, "environment": environment.note,
                      "base_cached": scores.cached, "left_out": scores.skipped}})
    return 1 if any(check.verdict in FAILING for check in checks) else 0


def _compare(suite: Suite, pending: Future[BaseScores], environment: SideEnvironment, *,
             output_dir: Path, jobs: int, console: Console,
             suite_path: Path, extra_overrides: tuple[str, ...]) -> tuple[list[Check], BaseScores]:
    """Train the change while the base records its scores (``pending``), then time both
    sides interleaved; every check, experiment by experiment, and the base's scores. The timing
    workers start first: their imports overlap the runs. The change trains every experiment;
    what the base cannot read is then left out on both sides (:func:`_understood`)."""
    recording = dataclasses.replace(suite, fit_repeats=1, predict_repeats=1)
    timed_experiments = [experiment for experiment in suite.experiments
                         if any(guard.is_timing for guard in experiment.guards)]
    change_side = SideEnvironment(sys.executable, CHANGE_TREE, "this environment")
    count = min(jobs, len(timed_experiments))
    with worker_pairs(count, environment, change_side, output_dir) as workers:
        planned = plan_suite(recording)
        datasets = load_suite_data(recording, planned)
        console.print(f"change: {len(planned)} experiments on {len(datasets)} datasets, "
                      f"{min(jobs, len(planned))} at a time")
        changed = run_planned(recording, planned, datasets, output_dir=output_dir / "runs",
                              project_dir=CHANGE_TREE, jobs=jobs,
                              on_done=partial(announce_run, console))
        scores = pending.result()
        console.print(f"base scores: {'from the cache' if scores.cached else 'recorded now'} "
                      f"({scores.runs.parent})", highlight=False)
        for skipped in scores.skipped:
            console.print(f"[yellow]left out on both sides[/yellow]: {skipped}",
                          highlight=False)
        suite = _understood(suite, scores, suite_path, extra_overrides, output_dir)
        data = {plan.experiment.name: datasets[plan.data_key] for plan in planned}
        tasks = _timing_tasks(suite, changed, scores, data, output_dir)
        console.print(f"timing {len(tasks)} experiments, base and change in turn "
                      f"({suite.fit_repeats} fits and {suite.predict_repeats} predictions "
                      f"each), {min(count, len(tasks))} at a time")
        timed = time_interleaved(
            tasks, {"fit_repeats": suite.fit_repeats, "predict_repeats": suite.predict_repeats},
            workers, on_done=lambda name: console.print(f"  timed {name}", highlight=False))
    pairs = [TimingPair(name, guard, paired.base[guard.key], paired.change[guard.key])
             for name, paired in timed.items() if paired.error is None
             for guard in _by_name(suite)[name].guards if guard.is_timing]
    timing_checks = judge_timings(pairs, suite.alpha)
    checks = []
    for experiment in suite.experiments:
        now = changed[experiment.name]
        error = timed[experiment.name].error if experiment.name in timed else None
        checks += check_experiment(experiment, now, scores.measurements[experiment.name],
                                   suite.alpha)
        if error is not None:
            checks.append(Check(experiment.name, "timing", None, None, None, None, "failed",
                                error))
        checks += [check for check in timing_checks if check.experiment == experiment.name]
    return checks, scores


def _understood(suite: Suite, scores: BaseScores, suite_path: Path,
                extra_overrides: tuple[str, ...], output_dir: Path) -> Suite:
    """``suite`` less what the base cannot read, written beside the outcome."""
    if not scores.skipped:
        return suite
    written = write_text(output_dir / suite_path.name, yaml.safe_dump(
        {**scores.suite, "name": suite.name}, sort_keys=False))
    return load_suite(written, extra_overrides)


def _by_name(suite: Suite) -> dict[str, SuiteExperiment]:
    return {experiment.name: experiment for experiment in suite.experiments}


def _timing_tasks(suite: Suite, changed: dict[str, Measurement], scores: BaseScores,
                  data: dict[str, Dataset], output_dir: Path) -> list[TimingTask]:
    """A task per experiment with timing guards that ran on both sides; its training rows (the
    dataset less the change's test rows) written once for both workers."""
    tasks = []
    for experiment in suite.experiments:
        keys = tuple(guard.key for guard in experiment.guards if guard.is_timing)
        if not keys or changed[experiment.name].failed:
            continue
        test_rows = changed[experiment.name].predictions.get("row", [])
        dataset = data[experiment.name]
        features, target = dataset.X.drop(index=test_rows), dataset.y.drop(index=test_rows)
        rows = output_dir / "timing-data"
        x_file = write_atomically(rows / f"{experiment.name}.X.parquet", features.to_parquet)
        y_file = write_atomically(rows / f"{experiment.name}.y.parquet",
                                  target.to_frame("target").to_parquet)
        tasks.append(TimingTask(experiment.name, x_file, y_file, features.shape,
                                scores.runs / experiment.name,
                                output_dir / "runs" / experiment.name, keys,
                                sum(changed[experiment.name].timing.get("fit_seconds", []))))
    return tasks


def _sides(base: BaseCommit) -> str:
    change = f"HEAD {base.head[:12]}" + (f" with {base.dirty_files} uncommitted files"
                                         if base.dirty_files else "")
    return (f"against {base.ref}: base {base.commit[:12]} (merge-base of HEAD and {base.ref}), "
            f"change: this working tree ({change})")


def _context(base: BaseCommit, environment: str, scores: BaseScores) -> str:
    """The Markdown lines that say what was compared with what."""
    lines = [f"Base `{base.commit[:12]}` (merge-base of HEAD and `{base.ref}`) against the "
             f"change `{base.head[:12]}`"
             + (f" with {base.dirty_files} uncommitted files" if base.dirty_files else "")
             + f", side by side in one job. Base environment: {environment}."]
    if scores.skipped:
        lines.append("Left out on both sides (the base cannot read them): "
                     + "; ".join(scores.skipped) + ".")
    return "\n\n".join(lines)
