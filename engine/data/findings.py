"""What the data quality checks report: findings with a severity, and a report that can fail."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import DataError

SEVERITIES = ("info", "warning", "error")  # in rising order


@dataclass(frozen=True)
class Finding:
    """One observation about the data; ``value`` is the measured number (fraction, count, score)."""

    check: str
    severity: str
    message: str
    column: str | None = None
    value: float | int | None = None


@dataclass
class QualityReport:
    """All findings for one dataset, and a summary of its shape."""

    findings: list[Finding]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The summary and findings as plain JSON-serialisable values."""
        return {"summary": self.summary, "findings": [asdict(finding) for finding in self.findings]}

    def failing(self, fail_on: str) -> list[Finding]:
        """The findings at or above the ``fail_on`` severity (none for ``never``); the schema
        has checked it is one of those."""
        if fail_on == "never":
            return []
        lowest = SEVERITIES.index(fail_on)
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= lowest]

    def raise_for_failures(self, fail_on: str) -> None:
        """Raise one DataError listing every failing finding and how to let the run go on."""
        failures = self.failing(fail_on)
        if not failures:
            return
        lines = [f"  - [{f.severity}] {f.check}: {f.message}" for f in failures]
        relax = _relaxed_severity(fail_on)
        overrides = [
            f"quality.severity.{check}={relax}"
            for check in dict.fromkeys(f.check for f in failures)
        ]
        raise DataError(
            f"dataset '{self.summary.get('dataset')}' failed {len(failures)} data quality "
            f"check(s) at quality.fail_on={fail_on}:\n" + "\n".join(lines) + "\n"
            "Fix the data as each line says, or, to go on anyway, set "
            + (" and ".join(overrides) + " or " if relax else "")
            + "quality.fail_on=never."
        )


def _relaxed_severity(fail_on: str) -> str | None:
    """The severity just below ``fail_on``, which no longer fails the run."""
    position = SEVERITIES.index(fail_on)
    return SEVERITIES[position - 1] if position > 0 else None
