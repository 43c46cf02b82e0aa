"""The measured sections of a model card, each a Markdown string from the run's records
(metrics.json, evaluation.json, data_report.json, the bundle's metadata): a section with nothing
to show says so in a line rather than vanishing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.card.markdown import bullets, cell, cell_text, code, number, table
from engine.tracking.records import MetricsRecord

WORST_SLICES = 5
IMPORTANT_COLUMNS = 10
WIDE_INTERVAL = 0.2
"""A slice whose primary score's interval is wider than this says little: a limitation."""
SMALL_SLICE = 30
"""Test rows under which a slice is called small."""


def parameters_section(parameters: Mapping[str, Any], tuning: Mapping[str, Any] | None) -> str:
    """The estimator's parameters as configured, with the search's choices in their place."""
    chosen = {name: value for name, value in (tuning or {}).get("best_params", {}).items()
              if name != "model"}
    rows = [[code(name), _parameter(value), "search" if name in chosen else "config"]
            for name, value in sorted({**parameters, **chosen}.items())]
    text = (table(["parameter", "value", "from"], rows) if rows
            else "The estimator's defaults.")
    if not tuning:
        return text + "\n\nNo search: the parameters are the configured ones."
    trials = ", ".join(f"{count} {state.lower()}" for state, count in tuning["trials"].items())
    best = ", ".join(number(value) for value in tuning["best_values"])
    return "\n\n".join([text, bullets([
        f"search: {code(tuning['method'])} over {code(', '.join(tuning['objectives']))} "
        f"({code(', '.join(tuning['directions']))}), pruner {code(tuning['pruner'])}",
        f"trials: {trials}; best trial {tuning['best_trial']} scored {best}",
        f"study: {code(tuning['study_name'])}"])])


def _parameter(value: Any) -> str:
    """A parameter as configured: numbers in full (they are settings, not measurements)."""
    if isinstance(value, bool) or value is None or not isinstance(value, int | float):
        return code(value)
    return repr(value)


def training_data_section(summary: Mapping[str, Any], findings: Sequence[Mapping[str, Any]],
                          split: Mapping[str, Any], metrics: MetricsRecord) -> str:
    cv = split.get("cv", {})
    share = number(float(split.get("test_size", 0.0)))
    facts = bullets([
        f"rows: {summary.get('rows', 'n/a')}; columns: {summary.get('columns', 'n/a')}",
        f"split: {metrics.n_train} training rows, {metrics.n_test} test rows (test share "
        f"{share}, strategy {code(split.get('test_strategy'))})",
        f"cross-validation: {code(cv.get('strategy', 'none'))} with "
        f"{cv.get('n_splits', 'n/a')} folds on the training rows"])
    if not findings:
        return facts + "\n\nQuality checks: no findings."
    rows = [[code(f.get("severity")), code(f.get("check")), cell(f.get("column")),
             cell_text(f.get("message", ""))] for f in findings]
    return "\n\n".join([facts, "Quality findings (data_report.json):",
                        table(["severity", "check", "column", "finding"], rows)])


def datasheet_section(summary: Mapping[str, Any], columns: Mapping[str, Any]) -> str:
    facts = [f"{key.replace('_', ' ')}: {number(summary[key])}"
             for key in ("numeric_columns", "categorical_columns", "missing_cells",
                         "duplicate_rows", "dropped_missing_target") if key in summary]
    counts = summary.get("class_counts")
    if counts:
        facts.append("rows per class: " + ", ".join(f"{code(label)} {number(count)}"
                                                    for label, count in counts.items()))
    rows = [[code(name), profile["kind"], number(profile.get("missing")), _profile(profile)]
            for name, profile in columns.items()]
    parts = [bullets(facts)] if facts else []
    if rows:
        parts.append(table(["column", "kind", "missing share", "values"], rows))
    return "\n\n".join(parts) or "No data profile was recorded."


def _profile(profile: Mapping[str, Any]) -> str:
    if profile["kind"] == "categorical":
        shares = profile.get("shares", {})
        top = sorted(shares.items(), key=lambda item: -item[1])[:3]
        return (f"{len(shares)} categories profiled; most frequent: "
                + ", ".join(f"{code(name)} {number(share)}" for name, share in top))
    bins = profile.get("length", profile) if profile["kind"] == "text" else profile
    if not bins.get("count"):
        return "no values"
    what = "length " if profile["kind"] == "text" else ""
    return (f"{what}{number(bins['minimum'])} to {number(bins['maximum'])}, "
            f"mean {number(bins['mean'])}")


def evaluation_section(metrics: MetricsRecord, diagnostics: Mapping[str, Any]) -> str:
    names = list(dict.fromkeys([metrics.primary, *metrics.cv, *metrics.test]))
    rows = []
    for name in names:
        fold, interval = metrics.cv.get(name), metrics.test_intervals.get(name)
        rows.append([code(name) + (" (primary)" if name == metrics.primary else ""),
                     number(fold.mean if fold else None), number(fold.std if fold else None),
                     number(metrics.test.get(name)),
                     number(interval.low if interval else None),
                     number(interval.high if interval else None)])
    parts = [table(["metric", "CV mean", "CV std", "test", "interval low", "interval high"],
                   rows)]
    if metrics.bootstrap and metrics.test_intervals:
        boot = metrics.bootstrap
        parts.append(f"Intervals: {code(boot.method)} bootstrap of the test rows, confidence "
                     f"{number(boot.confidence)}, {boot.resamples} resamples.")
    parts.append(_calibration(metrics.decision, diagnostics.get("calibration")))
    parts.append(_overfitting(metrics))
    return "\n\n".join(part for part in parts if part)


def _calibration(decision: Mapping[str, Any], calibration: Mapping[str, Any] | None) -> str:
    lines = []
    if calibration:
        lines.append(f"Brier score of class {code(calibration.get('of'))} on the test rows: "
                     f"{number(calibration.get('brier'))}.")
    if decision.get("calibration"):
        lines.append(f"Probabilities calibrated: {code(decision['calibration'])}.")
    if decision.get("threshold"):
        lines.append(f"Decision threshold: {number(decision['threshold'].get('value'))}.")
    return " ".join(lines) if lines else ("Calibration: not measured (no test rows, or a "
                                           "model without probabilities).")


def _overfitting(metrics: MetricsRecord) -> str:
    check = metrics.overfitting
    if check is None:
        return ""
    verdict = "flagged" if check.flagged else "within the limit"
    return (f"Overfitting check ({code(check.metric)}): training rows {number(check.train)}, "
            f"CV {number(check.cv)}, test {number(check.test)}; relative gaps train-CV "
            f"{number(check.train_vs_cv)}, CV-test {number(check.cv_vs_test)}, train-test "
            f"{number(check.train_vs_test)} against a maximum of {number(check.max_gap)}: "
            f"{verdict}.")


def slices_section(slices: Sequence[Mapping[str, Any]], primary: str) -> str:
    if not slices:
        return "No slices were declared (metrics.slices.columns)."
    rows = [[code(s["column"]), code(s["slice"]), number(s["rows"]),
             number(s["scores"].get(primary)), number((s.get("interval") or {}).get("low")),
             number((s.get("interval") or {}).get("high"))] for s in slices[:WORST_SLICES]]
    return (f"The worst slices by {code(primary)} on the test rows, lowest first:\n\n"
            + table(["column", "slice", "rows", primary.replace("_", " "), "interval low",
                     "interval high"], rows))


def fairness_section(fairness: Mapping[str, Any] | None) -> str:
    if not fairness:
        return "No sensitive columns were declared (metrics.fairness.sensitive)."
    parts = []
    for grouping in fairness.get("groupings", []):
        measures = [[code(name), number(result["value"]), code(result["verdict"]),
                     number(result["limits"].get("warn")), number(result["limits"].get("fail"))]
                    for name, result in grouping["measures"].items()]
        groups = grouping["by_group"]
        metric_names = [key for key in groups[0] if key != "group"] if groups else []
        by_group = [[code(group["group"]), *(number(int(group[key]) if key == "count"
                                                    else group[key]) for key in metric_names)]
                    for group in groups]
        parts.append(f"By {code(grouping['name'])}:")
        if measures:
            parts.append(table(["measure", "value", "verdict", "warn limit", "fail limit"],
                               measures))
        parts.append(table(["group", *(name.replace("_", " ") for name in metric_names)],
                           by_group))
    return "\n\n".join(parts)


def explanations_section(importance: Mapping[str, Any] | None) -> str:
    if not importance or not importance.get("columns"):
        return "No importances were measured."
    rows = [[code(column["column"]), number(column["mean"]), number(column["std"])]
            for column in importance["columns"][:IMPORTANT_COLUMNS]]
    return (f"Permutation importance: the test {code(importance['scorer'])} lost when a column "
            f"is shuffled ({importance['repeats']} repeats on {importance['rows']} rows).\n\n"
            + table(["column", "mean loss", "std"], rows))


def limitations(*, dropped: Sequence[str], slices: Sequence[Mapping[str, Any]], primary: str,
                fairness: Mapping[str, Any] | None, metrics: MetricsRecord,
                findings: Sequence[Mapping[str, Any]]) -> list[str]:
    """Facts derived from the records that limit where the model can be trusted."""
    facts = []
    if dropped:
        facts.append("columns unseen at training (dropped by the dataset config): "
                     + ", ".join(code(name) for name in dropped))
    for s in slices:
        interval = s.get("interval") or {}
        low, high = interval.get("low"), interval.get("high")
        wide = low is None or high is None or high - low > WIDE_INTERVAL
        if s["rows"] < SMALL_SLICE or wide:
            facts.append(f"slice {code(s['column'])} = {code(s['slice'])}: {s['rows']} test rows, "
                         f"{code(primary)} {number(s['scores'].get(primary))} with interval "
                         f"{number(interval.get('low'))} to {number(interval.get('high'))}: a "
                         "small slice or a wide interval, so its score says little")
    for grouping in (fairness or {}).get("groupings", []):
        for name, result in grouping["measures"].items():
            if result["verdict"] in ("warn", "fail"):
                limit = result["limits"][result["verdict"]]
                facts.append(f"fairness by {code(grouping['name'])}: {code(name)} "
                             f"{number(result['value'])} crosses its {result['verdict']} limit "
                             f"{number(limit)}")
    if metrics.overfitting and metrics.overfitting.flagged:
        facts.append(f"overfitting flagged: train-test gap "
                     f"{number(metrics.overfitting.train_vs_test)} above "
                     f"{number(metrics.overfitting.max_gap)}")
    if not metrics.n_test:
        facts.append("no test rows: the scores are cross-validated only")
    facts += [f"data quality {code(f['severity'])}: {code(f['check'])}"
              + (f" on {code(f['column'])}" if f.get("column") else "")
              for f in findings if f.get("severity") not in (None, "info")]
    return facts
