"""The baseline a suite is compared with: each experiment's measurement, plus where and when it
was recorded (git commit, date, package versions, machine)."""

from __future__ import annotations

import datetime
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, RecordError
from engine.regress.measurement import Measurement
from engine.threads import available_cores
from engine.tracking.files import read_json, write_json
from engine.tracking.provenance import git_state, package_versions

RECORD_AGAIN = "Record it again with --update-baseline."


@dataclass(frozen=True)
class Baseline:
    """A recorded baseline: ``recorded`` says where it came from."""

    path: Path
    recorded: dict[str, Any]
    experiments: dict[str, Measurement]


def read_baseline(path: Path) -> Baseline | None:
    """The baseline at ``path``, or None when there is none yet (every experiment is new)."""
    if not path.is_file():
        return None
    try:
        record = read_json(path, fix=RECORD_AGAIN)
    except RecordError as error:
        raise ConfigError(f"baseline {error}") from None
    try:
        experiments = {name: Measurement.from_json(entry)
                       for name, entry in record["experiments"].items()}
    except (KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"baseline {path}: not a baseline this engine wrote ({error!r}). "
                          f"{RECORD_AGAIN}") from None
    return Baseline(path, record.get("recorded", {}), experiments)


def write_baseline(path: Path, suite_name: str, measurements: dict[str, Measurement], *,
                   project_dir: Path, jobs: int) -> Baseline:
    """Record ``measurements`` as the suite's baseline, with the commit, date and versions."""
    recorded = {
        "suite": suite_name,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git": git_state(project_dir),
        "packages": package_versions(),
        "machine": {"platform": platform.platform(), "cpus": available_cores(), "jobs": jobs},
    }
    write_json(path, {"recorded": recorded,
                      "experiments": {name: measured.to_json()
                                      for name, measured in measurements.items()}},
               inline_lists=True)
    return Baseline(path, recorded, measurements)
