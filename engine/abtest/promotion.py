"""``abtest --promote``: an online experiment's winner moved to a registry alias with the
lineage record the retraining gate writes (``engine.lifecycle.step``): the decision kept by
``Registry.record_decision``, and a ``gate`` move of the alias whose evidence is that decision,
the analysis included, so ``python -m engine registry history NAME`` shows both.

Only a final verdict is recorded: "stop and adopt" moves the alias to the winner's registered
version, "stop and reject" records a rejected decision for each registered challenger, "keep
running" moves and records nothing. Run again (by a cron job), nothing is recorded or moved
twice, and a rollback made since is not undone; cut short between the decision and the move,
the next run makes the move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.abtest.analysis import ADOPT, REJECT, AbTestResult, Comparison
from engine.errors import ConfigError, DataError, options_hint
from engine.monitoring.columns import MODEL, REGISTERED, VARIANT, VERSION

if TYPE_CHECKING:
    import pandas as pd

    from engine.deploy.registry import ModelVersion, Registry

ORIGIN = "abtest"
METHOD = "mixture SPRT (always-valid p-value and confidence sequence)"


@dataclass(frozen=True)
class Answered:
    """What answered a variant's rows, as the log says: its ``_model``, registered
    ``_version`` (None: served from a run directory) and the registered name its
    ``_registered`` reference gives (None in a log an older server wrote)."""

    variant: str
    model: str | None
    version: int | None
    name: str | None = None


@dataclass(frozen=True)
class Promotion:
    """Where a winner goes: the registered model ``name`` (None: the one the server named for
    the variant in ``served_names``, else the log's ``_registered`` name, else its ``_model``
    when it is a registered name)
    and the ``alias`` it moves, ``previous_alias`` kept on the version the alias leaves."""

    registry: Registry
    name: str | None = None
    served_names: Mapping[str, str] = field(default_factory=dict)
    alias: str = "champion"
    previous_alias: str = "previous"


def answered_by(frame: pd.DataFrame, variant: str) -> Answered:
    """The model and version the log names for ``variant``; a DataError when its rows name
    several versions (the logs of several experiments in one folder)."""
    rows = frame[frame[VARIANT] == variant]
    versions = sorted(set(rows[VERSION].dropna().astype(str))) if VERSION in rows else []
    if len(versions) > 1:
        raise DataError(f"abtest --promote: the rows of {variant} name versions "
                        f"{', '.join(versions)}: the log holds more than one experiment; "
                        "analyse the log of one (serve each experiment with its own --log "
                        "FOLDER).")
    models = sorted(set(rows[MODEL].dropna().astype(str))) if MODEL in rows else []
    references = sorted(set(rows[REGISTERED].dropna().astype(str))) if REGISTERED in rows \
        else []
    if len(references) > 1:
        raise DataError(f"abtest --promote: the rows of {variant} name registered models "
                        f"{', '.join(references)}: the log holds more than one experiment; "
                        "analyse the log of one (serve each experiment with its own --log "
                        "FOLDER).")
    return Answered(variant, models[0] if models else None,
                    int(versions[0]) if versions else None,
                    references[0].rpartition("/")[0] if references else None)


def promote(result: AbTestResult, frame: pd.DataFrame, target: Promotion, *, log: str,
            now: datetime | None = None) -> str:
    """Act on ``result`` (judged from ``frame``, the log at ``log``) in the registry; the line
    that says what moved, or why nothing did."""
    now = now or datetime.now(UTC)
    if result.verdict == ADOPT:
        return _adopt(result, frame, target, log=log, now=now)
    if result.verdict == REJECT:
        return _reject(result, frame, target, log=log, now=now)
    return "nothing moves until the verdict is to stop: keep the experiment running"


def _adopt(result: AbTestResult, frame: pd.DataFrame, target: Promotion, *, log: str,
           now: datetime) -> str:
    assert result.winner is not None
    winner = answered_by(frame, result.winner)
    if winner.version is None:
        raise ConfigError(f"abtest --promote: {winner.variant} was served from a run directory, "
                          "not a registered version, so there is no version to promote; "
                          "register it (python -m engine registry register RUN NAME), serve "
                          "NAME/VERSION and run the experiment again.")
    registry, alias = target.registry, target.alias
    name = _name(target, winner)
    registered = _registered(registry, name, winner)
    control = answered_by(frame, result.control)
    current = registry.alias_version(name, alias)
    if current not in (None, control.version, winner.version):
        raise ConfigError(f"abtest --promote: {name}@{alias} is version {current}, not the "
                          f"version {control.version} that {winner.variant} was tested against; "
                          "test it against the new one, or move the alias by hand: python -m "
                          f"engine registry alias {name} {alias} {winner.version}.")
    if current == winner.version:
        return f"{name}@{alias} is already version {winner.version}: nothing moves"
    if _moved_before(registry, name, alias, winner.version, log):
        return (f"{name}@{alias} was moved to version {winner.version} by this experiment and "
                f"has moved since (to {current or 'none'}): nothing moves again")
    comparison = _comparison(result, winner.variant)
    decision = _decision(result, comparison, "promoted", name, control, registered,
                         replaced=current, alias=alias, log=log, now=now)
    _record_once(registry, name, decision)
    test = comparison.test
    registry.move_alias(name, alias, winner.version, kind="gate",
                        reason=f"abtest: {winner.variant} better than {control.variant} "
                               f"({result.metric} {test.difference:+.4g}, "
                               f"p={test.p_value:.3g})",
                        evidence=decision, previous_alias=target.previous_alias)
    kept = f"; {name}@{target.previous_alias} -> version {current}" if current else ""
    return f"{name}@{alias} -> version {winner.version} (was {current or 'none'}){kept}"


def _reject(result: AbTestResult, frame: pd.DataFrame, target: Promotion, *, log: str,
            now: datetime) -> str:
    control = answered_by(frame, result.control)
    recorded = []
    for comparison in result.comparisons:
        challenger = answered_by(frame, comparison.challenger)
        if challenger.version is None:  # a run directory: no version to keep a decision of
            continue
        name = _name(target, challenger)
        registered = _registered(target.registry, name, challenger)
        decision = _decision(result, comparison, "rejected", name, control, registered,
                             replaced=None, alias=target.alias, log=log, now=now)
        _record_once(target.registry, name, decision)
        recorded.append(f"{name}/{challenger.version}")
    told = f"; the rejection of {', '.join(recorded)} is recorded" if recorded else ""
    return f"nothing moves: the challengers are rejected{told}"


def _name(target: Promotion, answered: Answered) -> str:
    """The registered name: given, else the server's, else the log's ``_registered``, else its
    ``_model`` when the registry has it."""
    if target.name is not None:
        return target.name
    if answered.variant in target.served_names:
        return target.served_names[answered.variant]
    if answered.name is not None:
        return answered.name
    names = {version.name for version in target.registry.versions()}
    if answered.model in names:
        return answered.model
    raise ConfigError(f"abtest --promote: the log does not say which registered model "
                      f"{answered.variant} (version {answered.version}) is a version of (its "
                      f"{MODEL} is '{answered.model}'); name it with --model NAME. "
                      f"{options_hint(names) if names else 'The registry holds no model.'}")


def _registered(registry: Registry, name: str, answered: Answered) -> ModelVersion:
    """``name``'s version that answered, refused when the log names another registered model,
    or when its bundle is another model than the one the log names (a wrong --model, or
    another registry)."""
    from engine.deploy.bundle import METADATA_FILE, find_bundle
    from engine.tracking.records import BundleMetadata, read_record

    assert answered.version is not None
    if answered.name not in (None, name):
        raise ConfigError(f"abtest --promote: {answered.variant}'s rows were answered by "
                          f"{answered.name}/{answered.version}, not by a version of '{name}'; "
                          f"name it with --model {answered.name}, or leave --model out.")
    version = registry.version(name, answered.version)
    model = read_record(find_bundle(Path(version.run_dir)) / METADATA_FILE, BundleMetadata).model
    if answered.model not in (None, name, model):
        raise ConfigError(f"abtest --promote: {name}/{answered.version} in {registry.path} is a "
                          f"'{model}' model, but {answered.variant}'s rows were answered by a "
                          f"'{answered.model}'; name the registered model the experiment served "
                          "with --model NAME, and its registry with --registry PATH.")
    return version


def _comparison(result: AbTestResult, challenger: str) -> Comparison:
    return next(c for c in result.comparisons if c.challenger == challenger)


def _decision(result: AbTestResult, comparison: Comparison, status: str, name: str,
              control: Answered, challenger: ModelVersion, *, replaced: int | None, alias: str,
              log: str, now: datetime) -> dict[str, Any]:
    """The decision with its lineage, in the keys the retraining gate's has (``gate``: what
    ``registry history`` shows), the whole analysis under ``abtest``."""
    test = comparison.test
    return {
        "time": now.isoformat(), "model": name, "outcome": status, "dry_run": False,
        "reasons": [comparison.reason], "origin": ORIGIN, "log": log,
        "champion": {"version": control.version, "variant": control.variant},
        "challenger": {"version": challenger.version, "run_dir": challenger.run_dir,
                       "variant": comparison.challenger},
        "replaced": replaced, "alias": alias,
        "gate": {"metric": result.metric, "difference": test.difference,
                 "p_value": test.p_value, "low": test.low, "high": test.high,
                 "alpha": result.alpha, "method": METHOD},
        "abtest": result.to_json()}


def _moved_before(registry: Registry, name: str, alias: str, version: int, log: str) -> bool:
    """Whether this experiment's promotion already moved ``alias`` to ``version`` (a person
    may have rolled it back since: that is not undone)."""
    return any(move.alias == alias and move.version == version and move.kind == "gate" and
               move.evidence.get("origin") == ORIGIN and move.evidence.get("log") == log
               for move in registry.history(name))


def _record_once(registry: Registry, name: str, decision: dict[str, Any]) -> None:
    """Record ``decision`` unless the same decision on the same log is already kept."""
    same = ("origin", "log", "outcome", "alias")
    version = decision["challenger"]["version"]
    if not any(all(kept.get(key) == decision[key] for key in same) and
               (kept.get("challenger") or {}).get("version") == version
               for kept in registry.decisions(name)):
        registry.record_decision(name, decision)
