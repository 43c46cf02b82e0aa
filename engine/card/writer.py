"""``MODEL_CARD.md`` for a trained run: YAML metadata as the Hugging Face Hub reads it, then the
sections of "Model Cards for Model Reporting" (Mitchell et al., 2019) and a datasheet (Gebru et
al.), filled from the run's records and the ``card`` config group.

Written at training time into the bundle, where the manifest seals it: the card inside a bundle
never changes. Every measured number is shown to four decimals; a field the ``card`` group
leaves out reads "not stated".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.card import NOT_STATED
from engine.card.markdown import bullets, code, prose
from engine.card.metadata import card_metadata, join_front_matter
from engine.card.sections import (
    datasheet_section,
    evaluation_section,
    explanations_section,
    fairness_section,
    limitations,
    parameters_section,
    slices_section,
    training_data_section,
)
from engine.config.schema.card import CardConfig
from engine.config.spec import ExperimentSpec
from engine.tracking.files import read_json
from engine.tracking.records import BundleMetadata, read_metrics


def model_card(run_dir: Path, spec: ExperimentSpec, metadata: BundleMetadata) -> str:
    """The card of the run in ``run_dir``, once metrics.json, evaluation.json and
    data_report.json are written, for the bundle ``metadata`` describes."""
    metrics = read_metrics(run_dir)
    evaluated = _optional(run_dir / "evaluation.json")
    report = _optional(run_dir / "data_report.json")
    summary, findings = report.get("summary", {}), report.get("findings", [])
    people = spec.card
    dataset = str(summary.get("dataset") or spec.dataset.name)
    model_spec = spec.candidates.get(metadata.model, spec.model)
    family = "classification" if metadata.task != "regression" else "regression"
    tuning = metrics.tuning.model_dump() if metrics.tuning else None
    slices = evaluated.get("slices") or []
    front = card_metadata(
        name=f"{dataset}-{metadata.model}", version=run_dir.name, task=metadata.task,
        dataset=dataset, fingerprint=metadata.data_fingerprint,
        test_scores={name: value for name, value in metrics.test.items() if value is not None},
        license=people.license)
    sections = {
        "Model details": _details(metadata, model_spec.targets.get(family, ""), people)
        + "\n\n### Parameters\n\n" + parameters_section(model_spec.params, tuning),
        "Intended use": _uses(people),
        "Training data": _source(spec, metadata) + "\n" + training_data_section(
            summary, findings, spec.split.model_dump(mode="json"), metrics),
        "Datasheet": datasheet_section(summary, report.get("columns", {})),
        "Evaluation": evaluation_section(metrics, evaluated.get("diagnostics") or {}),
        "Slices and fairness": slices_section(slices, metrics.primary) + "\n\n"
        + fairness_section(evaluated.get("fairness")),
        "Explanations": explanations_section(evaluated.get("importance")),
        "Lineage": _lineage(metadata, spec, run_dir),
        "Limitations": bullets(limitations(
            dropped=metadata.reading.drop or [], slices=slices, primary=metrics.primary,
            fairness=evaluated.get("fairness"), metrics=metrics, findings=findings))
        or "None derived from the records.",
        "Ethical considerations": _stated(people.ethical_considerations),
        "Caveats and recommendations": _stated(people.caveats),
    }
    body = [f"# Model card: {code(metadata.model)} on {code(dataset)}",
            f"A {metadata.task} model predicting {code(metadata.target)}, trained by the engine "
            f"in run {code(run_dir.name)}."]
    body += [f"## {title}\n\n{text.strip()}" for title, text in sections.items()]
    return join_front_matter(front, "\n\n".join(body) + "\n")


def _details(metadata: BundleMetadata, estimator: str, people: CardConfig) -> str:
    classes = ", ".join(code(label) for label in metadata.classes)
    return bullets([
        f"family: {code(metadata.model)} ({code(estimator)})",
        f"task: {metadata.task}; target {code(metadata.target)}"
        + (f"; classes {classes}" if classes else ""),
        f"primary metric: {code(metadata.primary)}",
        f"owners: {', '.join(prose(owner) for owner in people.owners) or NOT_STATED}",
        f"contact: {_stated(people.contact)}",
        f"licence: {_stated(people.license)}"])


def _uses(people: CardConfig) -> str:
    out_of_scope = bullets(prose(use) for use in people.out_of_scope) or NOT_STATED
    return (f"**Intended use:** {_stated(people.intended_use)}\n\n"
            f"**Out of scope:**\n\n{out_of_scope}")


def _source(spec: ExperimentSpec, metadata: BundleMetadata) -> str:
    dataset = spec.dataset
    where = getattr(dataset, "path", None) or getattr(dataset, "loader", None) or dataset.name
    return bullets([
        f"source: {code(dataset.source)} {code(where)}",
        f"fingerprint of the rows read: {code(metadata.data_fingerprint)}",
        f"target: {code(metadata.target)}"])


def _lineage(metadata: BundleMetadata, spec: ExperimentSpec, run_dir: Path) -> str:
    git = metadata.git
    commit = (code(git.commit) + (" (uncommitted changes)" if git.dirty else "")
              if git.commit else "none (not trained in a git repository)")
    choices = " ".join(f"{group}={option}" for group, option in spec.choices.items()
                       if not group.startswith("hydra"))
    versions = ", ".join(f"{name} {code(version)}" for name, version in metadata.packages.items())
    return bullets([
        f"run: {code(run_dir.name)}; config choices {code(choices) if choices else NOT_STATED}",
        f"seed: {code(metadata.seed)}",
        f"git commit: {commit}",
        f"versions: {versions}",
        "registry: not registered when trained; the registry's copy of this card adds the "
        "version's history"])


def _stated(value: str | None) -> str:
    return prose(value) if value else NOT_STATED


def _optional(path: Path) -> Mapping[str, Any]:
    return read_json(path) if path.is_file() else {}
