"""How a suite's checks are shown: a console table, Markdown for a pull-request comment or
``$GITHUB_STEP_SUMMARY``, and JUnit XML for CI test views."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from engine.regress.guards import FAILING, Check

COLUMNS = ("experiment", "metric", "baseline", "now", "delta", "allowed", "p-value", "verdict")
P_VALUES = ("p-values (two-sided): CV means by the corrected resampled t-test on the same folds, "
            "test scores by a paired bootstrap of the same rows, timings (side by side only) by "
            "a paired t-test of the log ratios, Holm-adjusted over the timing guards; a timing's "
            "delta is the ratio change/base ×r [interval]")
VERDICT_STYLES = {"regressed": "bold red", "failed": "bold red", "improved": "green",
                  "not significant": "yellow", "new": "cyan", "ok": "", "left out": "dim"}
NUMERIC = ("baseline", "now", "delta", "allowed", "p-value")
MARKS = {"regressed": "❌", "failed": "❌", "improved": "🟢", "not significant": "〰️",
         "new": "🆕", "ok": "✅", "left out": "➖"}
ORDER = ("regressed", "failed", "improved", "not significant", "new", "ok", "left out")


def headline(suite: str, checks: Sequence[Check]) -> str:
    """``suite ci: 1 regressed · 2 improved · 40 ok`` (verdicts in a fixed order)."""
    counts = Counter(check.verdict for check in checks)
    return f"suite {suite}: " + " · ".join(f"{counts[v]} {v}" for v in ORDER if counts[v])


def console_table(checks: Sequence[Check]) -> Table:
    """Every check; an experiment's name on its first row only."""
    table = Table(show_edge=False, header_style="bold", caption=P_VALUES, caption_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in NUMERIC else "left",
                         no_wrap=column != "verdict")
    previous = None
    for check in checks:
        cells = _cells(check)
        style = VERDICT_STYLES[check.verdict]
        if style:
            cells[-1] = f"[{style}]{cells[-1]}[/{style}]"
        if check.experiment == previous:
            cells[0] = ""
        previous = check.experiment
        table.add_row(*cells)
    return table


def baseline_line(recorded: dict[str, Any] | None) -> str:
    """Where a recorded baseline came from, for the top of the Markdown report."""
    if not recorded:
        return ""
    commit = (recorded.get("git") or {}).get("commit") or "unknown commit"
    return f"Baseline: commit `{commit[:12]}` recorded {recorded.get('date', '?')}."


def markdown(suite: str, checks: Sequence[Check], context: str) -> str:
    """The report: the headline, what it was compared with (``context``), the checks that are
    not ok, then every check folded away."""
    lines = [f"### {MARKS['failed'] if _failing(checks) else MARKS['ok']} Regression "
             f"{headline(suite, checks)}", ""]
    if context:
        lines += [context, ""]
    notable = [check for check in checks if check.verdict not in ("ok", "left out")]
    if notable:
        lines += [*_markdown_table(notable), ""]
    lines += [f"<details><summary>All {len(checks)} checks</summary>", "",
              *_markdown_table(checks), "", "</details>", "", f"<sub>{P_VALUES}.</sub>", ""]
    return "\n".join(lines)


def _markdown_table(checks: Sequence[Check]) -> list[str]:
    rows = [f"| {' | '.join(COLUMNS)} |", "|" + "---|" * len(COLUMNS)]
    for check in checks:
        cells = _cells(check)
        cells[-1] = f"{MARKS[check.verdict]} {cells[-1]}"
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return rows


def junit_xml(suite: str, checks: Sequence[Check], seconds: float) -> str:
    """One test case per check (class = experiment); regressions are failures, experiments that
    did not run are errors."""
    counts = Counter(check.verdict for check in checks)
    root = ElementTree.Element("testsuites")
    element = ElementTree.SubElement(
        root, "testsuite", name=f"regress.{suite}", tests=str(len(checks)),
        failures=str(counts["regressed"]), errors=str(counts["failed"]),
        skipped=str(counts["left out"]),
        time=f"{seconds:.3f}")
    for check in checks:
        case = ElementTree.SubElement(element, "testcase", classname=f"{suite}.{check.experiment}",
                                      name=check.metric)
        summary = " · ".join(f"{column} {cell}" for column, cell in zip(
            COLUMNS[2:], _cells(check)[2:], strict=True))
        if check.verdict == "regressed":
            ElementTree.SubElement(case, "failure", message=summary, type="regression")
        elif check.verdict == "failed":
            ElementTree.SubElement(case, "error", message=check.note, type="experiment failed")
        elif check.verdict == "left out":
            ElementTree.SubElement(case, "skipped", message=check.note)
        else:
            ElementTree.SubElement(case, "system-out").text = summary
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def append_text(path: Path, text: str) -> Path:
    """Add ``text`` to the end of ``path`` (``$GITHUB_STEP_SUMMARY``, a file the CI runner owns
    and reads after the step: appended to, never replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
    return path


def _failing(checks: Sequence[Check]) -> bool:
    return any(check.verdict in FAILING for check in checks)


def _cells(check: Check) -> list[str]:
    delta = check.delta
    return [check.experiment, check.metric, _number(check.baseline), _number(check.now),
            _delta(check, delta),
            "-" if check.allowed is None else f"±{check.allowed:.4g}",
            "-" if check.p_value is None else f"{check.p_value:.3g}",
            check.verdict + (f" ({check.note})" if check.note else "")]


def _delta(check: Check, delta: float | None) -> str:
    if check.ratio is not None:
        return f"×{check.ratio:.3f} [{check.ratio_low:.3f}, {check.ratio_high:.3f}]"
    return "-" if delta is None else f"{delta:+.4g}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
