"""The shell every report shares: one self-contained HTML file with inline style, a contents
list, tables that sort when a header is clicked, and embedded images.

The markup lives in ``templates/``, rendered by Jinja2 with autoescaping: the modules here pass
plain data, so a column name or a category value from the user's data reaches the page as text,
never as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup


def number(value: float | None, digits: int = 4) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:.3e}"


def cell_text(value: Any) -> str:
    """A table cell's text: floats to four decimals, a missing value as a dash."""
    return number(value) if isinstance(value, float) or value is None else str(value)


def is_numeric(value: Any) -> bool:
    """Numbers are right-aligned in tables; booleans are not numbers there."""
    return isinstance(value, int | float) and not isinstance(value, bool)


TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                        autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                        lstrip_blocks=True)
TEMPLATES.filters.update(number=number, cell_text=cell_text)
TEMPLATES.tests["numeric"] = is_numeric


def render(template: str, macro: str, /, **context: Any) -> Markup:
    """Call ``{% macro <macro> %}`` of ``templates/<template>`` with ``context``, e.g.
    ``render("html_page.html", "table", headers=["a"], rows=[["<b>"]])`` gives a table whose
    one cell reads ``&lt;b&gt;``."""
    return Markup(getattr(TEMPLATES.get_template(template).module, macro)(**context))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
          sortable: bool = True) -> Markup:
    """A table of plain values: each escaped, numbers right-aligned and formatted."""
    return render("html_page.html", "table", headers=headers, rows=rows, sortable=sortable)


def page(title: str, sections: Sequence[tuple[str, Markup]], *, subtitle: str,
         error: str = "") -> str:
    """The whole document: a heading, links to each non-empty section, the sections."""
    shown = [(_anchor(name), name, body) for name, body in sections if body]
    return render("html_page.html", "page", title=title, subtitle=subtitle, error=error,
                  sections=shown)


def _anchor(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())
