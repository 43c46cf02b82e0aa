"""The card's YAML metadata, in the shape the Hugging Face Hub reads (``model-index`` with each
test metric), made by huggingface_hub's own ``ModelCardData``.

Only ``huggingface_hub.repocard_data`` is imported (about 0.02 s), not the package's
``ModelCard``, which brings its HTTP client (about 0.12 s, over 2 % of a default run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

HUB_TASKS = {"binary": "tabular-classification", "multiclass": "tabular-classification",
             "regression": "tabular-regression"}
FRONT_MATTER = "---"


def card_metadata(*, name: str, version: str, task: str, dataset: str, fingerprint: str,
                  test_scores: Mapping[str, float], license: str | None,
                  extra: Mapping[str, Any] | None = None) -> str:
    """The YAML block (without its ``---`` lines): model name and version, task, dataset, the
    test metrics with their values, the licence (left out when not stated)."""
    from huggingface_hub.repocard_data import EvalResult, ModelCardData

    hub_task = HUB_TASKS[task]
    results = [EvalResult(task_type=hub_task, dataset_type=dataset, dataset_name=dataset,
                          dataset_split="test", dataset_revision=fingerprint,
                          metric_type=metric, metric_name=f"test {metric}",
                          metric_value=float(value))
               for metric, value in test_scores.items()]
    data = ModelCardData(
        model_name=name, eval_results=results or None, license=license,
        library_name="scikit-learn", pipeline_tag=hub_task, tags=[hub_task, "engine"],
        datasets=[dataset], metrics=list(test_scores) or None,
        model_version=version, task=task, **(extra or {}))
    return str(data.to_yaml())


def front_matter_parts(text: str) -> tuple[str, str]:
    """A card's YAML block (empty when it has none) and its Markdown body."""
    if not text.startswith(FRONT_MATTER + "\n"):
        return "", text
    block, _, body = text[len(FRONT_MATTER) + 1:].partition(f"\n{FRONT_MATTER}\n")
    return block, body


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """A card's metadata (parsed) and its Markdown body."""
    block, body = front_matter_parts(text)
    metadata = yaml.safe_load(block) if block else None
    return (metadata if isinstance(metadata, dict) else {}), body


def join_front_matter(metadata: str, body: str) -> str:
    return f"{FRONT_MATTER}\n{metadata.strip()}\n{FRONT_MATTER}\n\n{body.lstrip()}"
