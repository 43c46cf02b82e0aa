"""A model card shown to a person: HTML (report.html, ``GET /card?format=html``, ``card
--format html``) and the terminal (``python -m engine card``).

The Markdown is rendered by markdown-it (what rich renders Markdown with) with raw HTML off: a
``<script>`` in a column name, a category or a person's text is shown as text, never run, and
a ``javascript:`` link is not made a link. The YAML metadata is shown as a code block.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markupsafe import Markup

from engine.card import CARD_FILE
from engine.card.metadata import front_matter_parts

if TYPE_CHECKING:
    from rich.console import Console

HEADING_SHIFT = 2
"""The card's ``#`` headings sit under the page's own ``<h2>`` section heading."""


def card_markdown(text: str) -> str:
    """The card with its YAML metadata as a fenced code block, for renderers that do not
    read front matter."""
    block, body = front_matter_parts(text)
    if not block:
        return text
    fence = "````" if "```" in block else "```"
    return f"{body.lstrip()}\n\n## Metadata\n\n{fence}yaml\n{block}\n{fence}\n"


def card_html(text: str) -> Markup:
    """The card as an HTML fragment; what the Markdown holds is escaped, never markup."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    tokens = parser.parse(card_markdown(text))
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + HEADING_SHIFT, 6)}"
    return Markup(parser.renderer.render(tokens, parser.options, {}))


def card_page(text: str, title: str) -> str:
    """A whole HTML document of the card, styled as the engine's reports."""
    from engine.reporting.html_page import page

    return page(title, [("Model card", card_html(text))], subtitle="MODEL_CARD.md")


def print_card(console: Console, text: str) -> None:
    """The card rendered in the terminal (headings, tables, code) by rich."""
    from rich.markdown import Markdown

    console.print(Markdown(card_markdown(text)))


def report_section(run_dir: Path) -> Markup:
    """report.html's "Model card" section: the bundle's verified card; empty for a run whose
    bundle has none (an older engine's)."""
    from engine.card.bundle_card import BUNDLE_DIR, bundle_card

    if not (run_dir / BUNDLE_DIR / CARD_FILE).is_file():
        return Markup()
    return card_html(bundle_card(run_dir))
