"""The base side's scores: the base commit's own ``regress`` records the suite (its runs and
their fold scores, test scores and predictions), once per commit and suite, into the cache.

The suite goes to the base as the change wrote it, less its timing repeats (timings are measured
later, interleaved, never cached). What the base cannot read (a key it does not know, an
experiment whose config it cannot compose) is left out on both sides and named.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConfigError
from engine.regress.base_env import SideEnvironment
from engine.regress.base_failure import BaseFailed
from engine.regress.gate import STEP_SUMMARY_VARIABLE
from engine.regress.measurement import Measurement
from engine.tracking.files import read_json, write_json, write_text

UNKNOWN_KEY = re.compile(r"\.yaml: (?P<key>[A-Za-z0-9_.\-]+): unknown key")
RUNS = Path("out", "runs")  # where the base's regress -o out puts each experiment's run
MEASURED = {field.name for field in fields(Measurement)}


@dataclass(frozen=True)
class BaseScores:
    """The base's measurement per experiment, the directory of its runs (their bundles), what
    was left out for the base, and whether it all came from the cache."""

    measurements: dict[str, Measurement]
    runs: Path
    skipped: list[str]
    suite: dict[str, Any]
    cached: bool


def recording_suite(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` as the base records it: one fit and one prediction per experiment (no timing
    guard can demand significance of so few, so none is asked to)."""
    suite = json.loads(json.dumps(raw))
    suite["timing"] = {**(suite.get("timing") or {}), "fit_repeats": 1, "predict_repeats": 1}
    sections = [suite.get("guards") or {}]
    sections += [entry.get("guards") or {} for entry in (suite.get("experiments") or {}).values()
                 if isinstance(entry, dict)]
    for guards in sections:
        for key in ("fit_seconds", "predict_ms"):
            if isinstance(guards.get(key), dict):
                guards[key] = {**guards[key], "significance": False}
    return suite


def base_scores(raw: dict[str, Any], suite_path: Path, environment: SideEnvironment,
                commit: str, cache: Path, *, extra: tuple[str, ...], jobs: int) -> BaseScores:
    """The base's scores for ``raw`` (the suite file's content), from the cache or run now."""
    key = hashlib.sha256(json.dumps([raw, extra], sort_keys=True).encode()).hexdigest()[:16]
    home = cache / commit / "scores" / key
    if (home / "done.json").is_file():
        done = read_json(home / "done.json")
        return BaseScores(_measurements(home), home / RUNS, done["skipped"], done["suite"],
                          cached=True)
    work = home.with_name(f".{key}-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    suite, skipped = json.loads(json.dumps(raw)), []
    while True:
        shutil.rmtree(work / "out", ignore_errors=True)
        file = write_text(work / suite_path.name, yaml.safe_dump(recording_suite(suite),
                                                                 sort_keys=False))
        command = [environment.python, "-m", "engine", "regress", str(file), "--update-baseline",
                   "--baseline", str(work / "scores.json"), "-o", str(work / "out"),
                   "--jobs", str(jobs), *(f"--set={override}" for override in extra)]
        quiet = {key: value for key, value in environment.environ().items()
                 if key != STEP_SUMMARY_VARIABLE}  # the job summary is the comparison's alone
        done = subprocess.run(command, cwd=environment.tree, env=quiet, capture_output=True,
                              text=True)
        log = write_text(work / "base.log", done.stdout + done.stderr)
        if done.returncode == 0:
            break
        message = _error_line(done.stderr)
        if done.returncode != 2 or message is None:
            raise BaseFailed(f"its regress exited {done.returncode}: "
                             f"{message or _last_line(done)} (its log: {log})")
        skipped.append(_leave_out(suite, message, suite_path))
    write_json(work / "done.json", {"skipped": skipped, "suite": suite})
    shutil.rmtree(home, ignore_errors=True)
    os.replace(work, home)
    return BaseScores(_measurements(home), home / RUNS, skipped, suite, cached=False)


def _measurements(home: Path) -> dict[str, Measurement]:
    record = read_json(home / "scores.json")
    return {name: Measurement(**{k: v for k, v in entry.items() if k in MEASURED})
            for name, entry in record["experiments"].items()}


def _leave_out(suite: dict[str, Any], message: str, suite_path: Path) -> str:
    """Remove what the base's ``message`` refuses from ``suite``; say what it was."""
    unknown = UNKNOWN_KEY.search(message)
    if unknown and _drop_key(suite, unknown.group("key")):
        return f"key {unknown.group('key')} (the base does not know it)"
    experiments = suite.get("experiments") or {}
    named = [name for name in experiments
             if re.search(rf"experiments\.{re.escape(name)}(?: \(|\.|:)", message)]
    if named and len(experiments) > 1:
        name = max(named, key=len)
        del experiments[name]
        return f"experiment {name} (the base cannot run it: {message})"
    raise ConfigError(f"regress --against: the base commit cannot read {suite_path}, and what "
                      f"it refuses cannot be left out: {message}")


def _drop_key(tree: dict[str, Any], dotted: str) -> bool:
    """Delete the key ``dotted`` names (keys may hold dots: the longest match wins)."""
    for key in sorted(tree, key=lambda k: -len(str(k))):
        text = str(key)
        if dotted == text:
            del tree[key]
            return True
        if dotted.startswith(text + ".") and isinstance(tree[key], dict):
            return _drop_key(tree[key], dotted[len(text) + 1:])
    return False


def _error_line(stderr: str) -> str | None:
    lines = [line[len("error: "):] for line in stderr.splitlines() if line.startswith("error: ")]
    return lines[-1].strip() if lines else None


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    text = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
    return text[-1]
