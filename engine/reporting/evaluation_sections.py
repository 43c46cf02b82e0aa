"""The report's sections drawn from evaluation.json: diagnostics, slices, fairness and
explanations; their markup is in ``templates/evaluation_sections.html``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from engine.reporting.html_page import number, render
from engine.reporting.svg_charts import Layer, bar_chart, chart

TEMPLATE = "evaluation_sections.html"
TOP_IMPORTANCES = 20
MAX_CURVES = 4


def diagnostics_section(diagnostics: Mapping[str, Any] | None) -> Markup:
    if not diagnostics:
        return Markup()
    if diagnostics["kind"] == "regression":
        return _regression(diagnostics)
    charts = []
    roc = diagnostics.get("roc") or {}
    if roc:
        charts.append(chart(
            [Layer([0, 1], [0, 1], kind="dashed"),
             *(Layer(c["fpr"], c["tpr"], f"{label} (AUC {c['auc']:.3f})")
               for label, c in roc.items())],
            title="ROC curve", x_label="false positive rate", y_label="true positive rate",
            x_range=(0, 1), y_range=(0, 1.02)))
    pr = diagnostics.get("precision_recall") or {}
    if pr:
        charts.append(chart(
            [Layer(c["recall"], c["precision"], f"{label} (AP {c['average_precision']:.3f})")
             for label, c in pr.items()],
            title="Precision-recall curve", x_label="recall", y_label="precision",
            x_range=(0, 1), y_range=(0, 1.02)))
    calibration = diagnostics.get("calibration")
    if calibration:
        charts.append(chart(
            [Layer([0, 1], [0, 1], kind="dashed"),
             Layer(calibration["predicted"], calibration["observed"], calibration["of"])],
            title=f"Reliability (Brier {calibration['brier']:.4f})",
            x_label="mean predicted probability", y_label="observed frequency",
            x_range=(0, 1), y_range=(0, 1.02)))
    matrix = diagnostics["confusion_matrix"]
    largest = max((max(row) for row in matrix), default=1) or 1
    shaded = [[(count, f"{0.08 + 0.6 * count / largest:.2f}") for count in row] for row in matrix]
    return render(TEMPLATE, "classification", classes=diagnostics["classes"],
                  rows=list(zip(diagnostics["classes"], shaded, strict=True)), charts=charts)


def _regression(diagnostics: Mapping[str, Any]) -> Markup:
    actual, predicted = diagnostics["actual"], diagnostics["predicted"]
    low, high = min(actual + predicted), max(actual + predicted)
    shown = diagnostics["shown_rows"]
    note = "" if shown == diagnostics["rows"] else f" ({shown:,} of {diagnostics['rows']:,} rows)"
    deciles = diagnostics["by_target_decile"]
    charts = [
        chart([Layer([low, high], [low, high], kind="dashed"),
               Layer(actual, predicted, kind="points")],
              title=f"Predicted against actual{note}", x_label="actual", y_label="predicted"),
        chart([Layer([min(predicted), max(predicted)], [0, 0], kind="dashed"),
               Layer(predicted, diagnostics["residual"], kind="points")],
              title="Residuals against predictions", x_label="predicted",
              y_label="actual - predicted"),
        chart([Layer(range(1, len(deciles) + 1), [d["mae"] for d in deciles], "MAE"),
               Layer(range(1, len(deciles) + 1), [d["bias"] for d in deciles], "bias")],
              title="Error by target decile", x_label="decile of the actual value",
              y_label="error"),
    ]
    rows = [[f"{d['target_range'][0]:,.4g} – {d['target_range'][1]:,.4g}", d["rows"], d["mae"],
             d["rmse"], d["bias"]] for d in deciles]
    return render(TEMPLATE, "regression", mean=diagnostics["residual_mean"],
                  std=diagnostics["residual_std"], charts=charts, rows=rows)


def slices_section(slices: list[Mapping[str, Any]] | None, primary: str) -> Markup:
    if not slices:
        return Markup()
    others = [name for name in slices[0]["scores"] if name != primary]
    rows = [[s["column"], s["slice"], s["rows"], s["share"], s["scores"][primary],
             _interval(s.get("interval")), *(s["scores"][n] for n in others)] for s in slices]
    return render(TEMPLATE, "slices", primary=primary,
                  headers=["column", "slice", "rows", "share", primary, "interval", *others],
                  rows=rows)


def fairness_section(fairness: Mapping[str, Any] | None) -> Markup:
    if not fairness:
        return Markup()
    groupings = []
    for grouping in fairness["groupings"]:
        groups = grouping["by_group"]
        names = [key for key in groups[0] if key != "group"] if groups else []
        groupings.append({"name": grouping["name"], "measures": grouping["measures"],
                          "headers": ["group", *names],
                          "rows": [[g["group"], *(_count(g[n], n) for n in names)]
                                   for g in groups]})
    return render(TEMPLATE, "fairness", note=fairness.get("note"), groupings=groupings)


def explanations_section(importance: Mapping[str, Any] | None,
                         dependence: list[Mapping[str, Any]] | None) -> Markup:
    if not importance:
        return Markup()
    columns = importance["columns"][:TOP_IMPORTANCES]
    bars = bar_chart([c["column"] for c in columns], [c["mean"] for c in columns],
                     errors=[c["std"] for c in columns], title="Permutation importance",
                     x_label=f"drop in {importance['scorer']}")
    charts = []
    for curve in dependence or []:
        curves = list(curve["average"].items())[:MAX_CURVES]
        title = f"Partial dependence: {curve['column']}"
        y_label = {"prediction": "mean prediction", "decision function": "mean decision function"
                   }.get(curves[0][0], "mean probability")
        if curve["categorical"]:
            name, values = curves[0]
            charts.append(bar_chart([str(g) for g in curve["grid"]], values, title=title,
                                    x_label=y_label if y_label != "mean probability"
                                    else f"mean P({name})"))
        else:
            charts.append(chart([Layer(curve["grid"], values, name) for name, values in curves],
                                title=title, x_label=curve["column"], y_label=y_label))
    return render(TEMPLATE, "explanations", rows=f"{importance['rows']:,}",
                  scorer=importance["scorer"], repeats=importance["repeats"], bars=bars,
                  charts=charts)


def threshold_chart(threshold: Mapping[str, Any]) -> Markup:
    objective = threshold["objective"]
    sign = -1 if objective == "cost" else 1
    label = "mean cost a row" if objective == "cost" else objective
    curve = threshold["curve"]
    return chart([Layer(curve["threshold"], [sign * v for v in curve["value"]], label),
                  Layer([threshold["threshold"]] * 2,
                        [sign * min(curve["value"]), sign * max(curve["value"])],
                        f"chosen {threshold['threshold']:.3f}", kind="dashed")],
                 title="Decision threshold (out-of-fold)", x_label="threshold on P(positive)",
                 y_label=label, x_range=(0, 1))


def _interval(interval: Mapping[str, float] | None) -> str:
    return f"[{number(interval['low'])}, {number(interval['high'])}]" if interval else "–"


def _count(value: float, name: str) -> Any:
    return int(value) if name == "count" and value is not None else value
