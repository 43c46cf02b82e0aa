"""One step of the loop: read the source, check its schema, select the window, evaluate the
triggers on the new rows, hold out the gate's rows, train the challenger, register it, judge
it against the champion, record the decision and promote or keep the champion.

Each stage that costs (the challenger's training, its registration, the decision) is written to
the state file as it ends, so a step killed half-way resumes on the same window where it
stopped, and a finished step is never done again.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, DataError, EvaluationError
from engine.lifecycle.state import InProgress, LoopState, read_state, write_state
from engine.lifecycle.window import Marker

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from engine.deploy.bundle import Bundle
    from engine.deploy.registry import Registry
    from engine.lifecycle.gate import GateResult
    from engine.lifecycle.settings import LifecycleSettings
    from engine.lifecycle.sources import SourceRows
    from engine.lifecycle.triggers import TriggerResult
    from engine.lifecycle.window import GateSplit

EXIT_STATUS = {"promoted": 0, "nothing to do": 0, "waiting": 0, "rejected": 1}


@dataclass(frozen=True)
class StepOutcome:
    """What one step did."""

    status: str
    """promoted | rejected | nothing to do | waiting."""
    fired: list[str]
    message: str
    decision: dict[str, Any] | None
    challenger_run: Path | None
    timing: dict[str, float]
    """Seconds: triggers, window, train, gate, registry, total."""
    triggers: list[TriggerResult] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.status]


class _Clock:
    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps = dict.fromkeys(("triggers", "window", "train", "gate", "registry"), 0.0)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] += now - self.last
        self.last = now

    def total(self) -> dict[str, float]:
        return {**self.laps, "total": time.perf_counter() - self.start}


@dataclass(frozen=True)
class _Champion:
    version: int
    bundle: Bundle
    run_dir: Path
    config: dict[str, Any]
    registered: str
    """When the champion's version was registered (ISO 8601): the schedule's start."""


def run_step(settings: LifecycleSettings, *, registry: Registry, console: Console,
             dry_run: bool = False, now: datetime | None = None, by_hand: bool = False,
             force: bool = False) -> StepOutcome:
    """One step; a mistake in the settings or the rows raises an EngineError before any alias
    moves. ``by_hand``: run by a person (``retrain``), which fires the manual trigger when the
    settings list it; ``force`` fires it whatever they list (``retrain --force``)."""
    from engine.evaluation.fresh_comparison import check_gate_metric
    from engine.lifecycle.sources import read_source

    clock, now = _Clock(), now or datetime.now(UTC)
    config = settings.config
    champion = _champion(settings, registry)
    metadata = champion.bundle.metadata
    metric = config.gate.metric or metadata.primary
    try:
        check_gate_metric(metric, metadata.task)
    except ConfigError as error:
        raise ConfigError(f"lifecycle.gate.metric={metric}: {error}") from None
    rows = read_source(config, champion.bundle, champion.config, champion.run_dir)
    _check_rows(rows, champion)
    state = read_state(settings.state_dir)
    window, fingerprint = _window(rows, settings)
    clock.lap("window")
    progress = state.in_progress
    if progress is not None and (progress.window, progress.champion) == \
            (fingerprint, champion.version):
        console.print(f"resuming the step begun on window {fingerprint[:12]} (challenger run "
                      f"{progress.run_dir})", highlight=False)
        return _retrain(settings, registry, console, state, progress, champion, rows, window,
                        clock, dry_run=dry_run, now=now, results=[])
    return _trigger(settings, registry, console, state, champion, rows, window, fingerprint,
                    clock, dry_run=dry_run, now=now, by_hand=by_hand, force=force)


def _trigger(settings: LifecycleSettings, registry: Registry, console: Console, state: LoopState,
             champion: _Champion, rows: SourceRows, window: pd.DataFrame, fingerprint: str,
             clock: _Clock, *, dry_run: bool, now: datetime, by_hand: bool,
             force: bool) -> StepOutcome:
    """Evaluate the triggers on the new rows; wait for labels, or start retraining."""
    from engine.lifecycle.console import print_triggers
    from engine.lifecycle.triggers import evaluate_triggers
    from engine.lifecycle.window import new_rows

    config, target = settings.config, champion.bundle.metadata.target
    new = rows.frame[new_rows(rows.frame, rows.time_column, state.last_marker)]
    if new.empty and not force and not state.pending:
        return _outcome("nothing to do", [], "no new rows since the last step", clock)
    last = datetime.fromisoformat(state.last_step or champion.registered)
    results = evaluate_triggers(config.triggers, new, champion.bundle, last_step=last, now=now,
                                by_hand=by_hand, force=force)
    clock.lap("triggers")
    print_triggers(console, results, state.pending)
    fired = list(dict.fromkeys([*state.pending, *(r.name for r in results if r.fired)]))
    if not fired:
        if not dry_run:
            write_state(settings.state_dir, state.model_copy(update={
                "marker": vars(Marker.of(rows.frame, rows.time_column))}))
        return _outcome("nothing to do", [], f"no trigger fired on {len(new)} new rows", clock,
                        results)
    fresh = int(new[target].notna().sum())
    split = _split(window, settings, target)
    have = min(fresh, len(split.gate))
    if have < config.gate.min_rows:
        if not dry_run:
            write_state(settings.state_dir, state.model_copy(update={"pending": fired}))
        return _outcome("waiting", fired, f"waiting for labels: {have} of "
                        f"{config.gate.min_rows}", clock, results)
    from engine.lifecycle.window import check_training_rows

    check_training_rows(split, config.window, config.gate)
    stamp = now.strftime("%Y-%m-%d_%H-%M-%S")
    progress = InProgress(window=fingerprint, champion=champion.version, fired=fired,
                          run_dir=str(settings.state_dir / "runs" / f"{stamp}-{fingerprint[:8]}"))
    state = state.model_copy(update={"in_progress": progress})
    write_state(settings.state_dir, state)
    return _retrain(settings, registry, console, state, progress, champion, rows, window, clock,
                    dry_run=dry_run, now=now, results=results)


def _retrain(settings: LifecycleSettings, registry: Registry, console: Console,
             state: LoopState, progress: InProgress, champion: _Champion, rows: SourceRows,
             window: pd.DataFrame, clock: _Clock, *, dry_run: bool, now: datetime,
             results: list[TriggerResult]) -> StepOutcome:
    """Train (or reuse) the challenger, judge it, record the decision, move the aliases."""
    from engine.deploy.bundle import load_bundle
    from engine.lifecycle.console import print_gate, print_window
    from engine.lifecycle.gate import judge

    config, target = settings.config, champion.bundle.metadata.target
    split = _split(window, settings, target)
    facts = _window_facts(rows, window, split, progress.window)
    print_window(console, facts)
    run_dir = Path(progress.run_dir)
    if not progress.trained and _finished(run_dir):
        console.print(f"reusing the challenger trained before the step was cut short: {run_dir}",
                      highlight=False)
    elif not progress.trained:
        progress = _train(settings, champion, split.training, progress, console)
        write_state(settings.state_dir, state.model_copy(update={"in_progress": progress}))
    clock.lap("train")
    decision = progress.decision  # decided before the step was cut short: not judged again
    if decision is None:
        metric = config.gate.metric or champion.bundle.metadata.primary
        result = judge(champion.bundle, load_bundle(run_dir), split.gate, config.gate,
                       metric=metric, seed=int(champion.config.get("seed", 0)))
        clock.lap("gate")
        if not dry_run and progress.version is None:
            made = registry.register(run_dir, settings.name,
                                     alias=config.promote.challenger_alias,
                                     description=f"challenger, window {progress.window[:12]}")
            progress = progress.model_copy(update={"version": made.version})
            write_state(settings.state_dir, state.model_copy(update={"in_progress": progress}))
        decision = _decision(settings, champion, progress, facts, result, dry_run=dry_run,
                             now=now)
        registry.record_decision(settings.name, decision)
        if not dry_run:
            progress = progress.model_copy(update={"decision": decision})
            write_state(settings.state_dir, state.model_copy(update={"in_progress": progress}))
    print_gate(console, decision["gate"])
    message = _move(settings, registry, champion, progress, decision, dry_run=dry_run)
    clock.lap("registry")
    if not dry_run:
        write_state(settings.state_dir, LoopState(
            marker=vars(Marker.of(rows.frame, rows.time_column)), last_step=now.isoformat(),
            pending=[], in_progress=None, steps=state.steps + 1))
    return _outcome(decision["outcome"], progress.fired, message, clock, results, decision,
                    run_dir)


def _train(settings: LifecycleSettings, champion: _Champion, training: pd.DataFrame,
           progress: InProgress, console: Console) -> InProgress:
    from rich.console import Console

    from engine.lifecycle.retraining import train_challenger, tuned_parameters
    from engine.tracking.records import read_finished_run

    run_dir = Path(progress.run_dir)
    if run_dir.exists():  # a training killed half-way: start it again
        shutil.rmtree(run_dir)
    choices = read_finished_run(champion.run_dir, "retrain").choices
    try:
        with console.status(f"training the challenger on {len(training)} rows"):
            trained = train_challenger(champion.config, choices,
                                       _labelled_rows(training, champion), run_dir,
                                       search=settings.config.search,
                                       tuned=tuned_parameters(champion.run_dir),
                                       console=Console(quiet=True))
        console.print(f"challenger trained on {len(training)} rows: {trained.primary} "
                      f"{trained.objective:.4f} -> {run_dir}", highlight=False)
    except EvaluationError as error:  # trained and saved, but it failed a declared check
        console.print(f"challenger trained on {len(training)} rows, and failed its run's check: "
                      f"{error} -> {run_dir}", highlight=False)
    return progress.model_copy(update={"trained": True})


def _finished(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run that trained and saved its model."""
    from engine.deploy.bundle import BUNDLE_DIR, MANIFEST_FILE
    from engine.tracking.records import RUN_FILE, RunRecord, read_run

    return (run_dir / RUN_FILE).is_file() and (run_dir / BUNDLE_DIR / MANIFEST_FILE).is_file() \
        and isinstance(read_run(run_dir), RunRecord)


def _move(settings: LifecycleSettings, registry: Registry, champion: _Champion,
          progress: InProgress, decision: dict[str, Any], *, dry_run: bool) -> str:
    """Promote (unless a dry run, or already done), and the line that says what happened."""
    promote, name = settings.config.promote, settings.name
    reasons = decision["reasons"]
    if decision["outcome"] == "rejected":
        return f"{'; '.join(reasons)}; {name}@{promote.alias} stays version {champion.version}"
    if dry_run:
        return (f"dry run: the challenger would become {name}@{promote.alias} "
                f"(replacing version {champion.version}); no alias moved")
    assert progress.version is not None
    if registry.alias_version(name, promote.alias) != progress.version:
        evidence = decision["gate"]
        registry.move_alias(name, promote.alias, progress.version, kind="gate",
                            reason=f"gate: challenger better ({evidence['metric']} "
                                   f"{evidence['difference']:+.4g}, p={evidence['p_value']:.3g})",
                            evidence=decision, previous_alias=promote.previous_alias)
    kept = f"; {name}@{promote.previous_alias} -> version {champion.version}" \
        if promote.previous_alias else ""
    return f"{name}@{promote.alias} -> version {progress.version} (was {champion.version}){kept}"


def _decision(settings: LifecycleSettings, champion: _Champion, progress: InProgress,
              facts: dict[str, Any], result: GateResult, *, dry_run: bool,
              now: datetime) -> dict[str, Any]:
    """The decision with its lineage, as the registry keeps it."""
    status = "promoted" if result.passed else "rejected"
    return {
        "time": now.isoformat(), "model": settings.name, "outcome": status, "dry_run": dry_run,
        "reasons": result.reasons, "triggers": progress.fired, "window": facts,
        "champion": {"version": champion.version, "run_dir": str(champion.run_dir)},
        "challenger": {"version": progress.version, "run_dir": progress.run_dir},
        "replaced": champion.version if status == "promoted" and not dry_run else None,
        "alias": settings.config.promote.alias, "gate": result.evidence,
        "settings": settings.config.model_dump(mode="json"), "origin": settings.origin}


def _champion(settings: LifecycleSettings, registry: Registry) -> _Champion:
    from engine.deploy.registry import resolve_model
    from engine.lifecycle.settings import champion_config

    version = registry.resolve(settings.reference)
    bundle, lineage = resolve_model(settings.reference, registry.path)
    run_dir = Path(lineage["run_dir"])
    return _Champion(version.version, bundle, run_dir, champion_config(run_dir), version.created)


def _check_rows(rows: SourceRows, champion: _Champion) -> None:
    from engine.errors import did_you_mean
    from engine.lifecycle.schema_check import check_schema

    target = champion.bundle.metadata.target
    if target not in rows.frame.columns:
        raise DataError(f"lifecycle source: {rows.description} has no target column "
                        f"'{target}'.{did_you_mean(target, map(str, rows.frame.columns))} Give "
                        "rows with their labels (missing where none came yet).")
    dataset = champion.config["dataset"]
    also = [c for c in (rows.time_column, dataset.get("time_column"), dataset.get("group_column"))
            if c]
    for description, frame in rows.parts or [(rows.description, rows.frame)]:
        check_schema(frame, champion.bundle, description=description, also=also)


def _window(rows: SourceRows, settings: LifecycleSettings) -> tuple[pd.DataFrame, str]:
    from engine.lifecycle.window import training_window, window_fingerprint

    window = training_window(rows.frame, settings.config.window, rows.time_column)
    return window, window_fingerprint(window)


def _split(window: pd.DataFrame, settings: LifecycleSettings, target: str) -> GateSplit:
    from engine.lifecycle.window import split_gate

    return split_gate(window[window[target].notna()], settings.config.gate)


def _labelled_rows(training: pd.DataFrame, champion: _Champion) -> pd.DataFrame:
    """The training rows with the champion's input columns, target and the dataset's extra
    columns (dropped ids, group, time), the labels as the champion's classes are typed."""
    import pandas as pd

    metadata, dataset = champion.bundle.metadata, champion.config["dataset"]
    extra = [*(metadata.reading.drop or []), dataset.get("group_column"),
             dataset.get("time_column")]
    inputs = [column["name"] for column in champion.bundle.schema["columns"]]
    kept = [*inputs, metadata.target, *(c for c in extra if c and c in training.columns)]
    frame = training[list(dict.fromkeys(kept))].reset_index(drop=True)
    labels = frame[metadata.target]
    if metadata.task != "regression" and pd.api.types.is_float_dtype(labels) and \
            (labels % 1 == 0).all():
        frame[metadata.target] = labels.astype("int64")
    return frame


def _window_facts(rows: SourceRows, window: pd.DataFrame, split: GateSplit,
                  fingerprint: str) -> dict[str, Any]:
    from engine.lifecycle.window import time_range

    return {"rows": len(window), "labelled": len(split.training) + len(split.gate),
            "training_rows": len(split.training), "gate_rows": len(split.gate),
            "time_range": time_range(window, rows.time_column),
            "gate_time_range": time_range(split.gate, rows.time_column),
            "source": rows.description, "files": rows.files, "fingerprint": fingerprint}


def _outcome(status: str, fired: list[str], message: str, clock: _Clock,
             results: list[TriggerResult] | None = None, decision: dict[str, Any] | None = None,
             run_dir: Path | None = None) -> StepOutcome:
    return StepOutcome(status=status, fired=fired, message=message, decision=decision,
                       challenger_run=run_dir, timing=clock.total(), triggers=results or [])
