"""``GET /card`` from real server processes: a run directory's sealed card as Markdown, or HTML
on asking; served by alias, the registry's copy of the version answering, swapped with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine.deploy.registry import Registry
from tests.deploy.conftest import eventually, start_server


@pytest.fixture(scope="module")
def server(fairness_run: Path) -> Iterator[str]:
    yield from start_server(str(fairness_run), "--no-log")


@pytest.fixture(scope="module")
def registry(fairness_run: Path, regression_run: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Registry:
    registry = Registry(tmp_path_factory.mktemp("registry") / "registry.db")
    registry.register(fairness_run, "credit", alias="champion")
    registry.register(regression_run, "credit")
    return registry


@pytest.fixture(scope="module")
def alias_server(registry: Registry) -> Iterator[str]:
    yield from start_server("credit@champion", "--no-log", "--follow", "0.2",
                            env={"ENGINE_REGISTRY": str(registry.path)})


def test_card_is_the_bundles_markdown(server: str, fairness_run: Path) -> None:
    answer = httpx.get(f"{server}/card")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    assert answer.content == (fairness_run / "model" / "MODEL_CARD.md").read_bytes()


def test_card_as_html_by_query_or_accept_header(server: str) -> None:
    for answer in (httpx.get(f"{server}/card", params={"format": "html"}),
                   httpx.get(f"{server}/card", headers={"Accept": "text/html"})):
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert "<h2>Model card</h2>" in answer.text
        assert "<script>window" not in answer.text
    markdown = httpx.get(f"{server}/card", params={"format": "md"},
                         headers={"Accept": "text/html"})
    assert markdown.headers["content-type"].startswith("text/markdown")


def test_an_unknown_format_names_the_offered_ones(server: str) -> None:
    answer = httpx.get(f"{server}/card", params={"format": "pdf"})
    assert answer.status_code == 422
    assert answer.json() == {"detail": "format 'pdf': not offered; use one of md, html (or "
                                       "Accept: text/html)."}


def test_served_by_alias_the_card_is_the_registrys_and_follows_the_alias(
        alias_server: str, registry: Registry) -> None:
    card = httpx.get(f"{alias_server}/card").text
    assert "## Registry history" in card and "model_version: '1'" in card
    registry.move_alias("credit", "champion", 2, kind="gate", reason="a better model")

    def card_of_version_2() -> str | None:
        text = httpx.get(f"{alias_server}/card").text
        return text if "model_version: '2'" in text else None

    moved = eventually(card_of_version_2, "the card of version 2")
    assert "| `champion` | to this version from 1 | `gate` | a better model |" in moved
    assert "`ridge`" in moved
