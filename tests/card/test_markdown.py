"""The card's Markdown pieces render as the text they were given, wherever the card is read:
markdown-it (report.html, /card, the terminal's rich) is the reader here."""

from __future__ import annotations

from markdown_it import MarkdownIt

from engine.card.markdown import cell_text, code, number, table
from engine.card.rendering import card_html


def rendered_cells(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    return [token.content for token in tokens if token.type == "inline"]


def test_data_in_a_code_span_reads_as_written_in_a_table_cell() -> None:
    for value in ("a|b", "x`y", "`edge`", "<script>alert(1)</script>", "two\nlines"):
        (header, cell) = rendered_cells(table(["value"], [[code(value)]]))
        assert header == "value"
        tokens = MarkdownIt("commonmark").parseInline(cell)[0].children or []
        assert [t.content for t in tokens if t.type == "code_inline"] == [
            " ".join(value.split())]


def test_a_sentence_keeps_its_pipes_and_its_markup_as_text() -> None:
    html = card_html(table(["why"], [[cell_text("a | b <b>c</b>")]]))
    assert "<td>a | b &lt;b&gt;c&lt;/b&gt;</td>" in html


def test_numbers_are_shown_to_four_decimals_and_counts_as_they_are() -> None:
    assert [number(v) for v in (0.123456, -1.0, 3, None, float("nan"), True)] == [
        "0.1235", "-1.0000", "3", "n/a", "n/a", "yes"]
