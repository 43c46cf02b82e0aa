"""The few Markdown pieces a model card is made of, escaped so that a card renders the same
wherever it is read (the Hub, GitHub, a terminal, report.html): data (column names, categories,
slices) goes into code spans, and people's text has its HTML characters escaped."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

DECIMALS = 4
"""Every measured number on the card is shown to this many decimals."""


def code(value: Any) -> str:
    """``value`` as an inline code span (rendered literally everywhere), safe in a table cell."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def prose(value: str) -> str:
    """A person's text as Markdown with its HTML characters escaped (it stays Markdown)."""
    return html.escape(value.strip(), quote=False)


def cell_text(value: str) -> str:
    """A person's (or a record's) sentence in a table cell: :func:`prose` on one line, its
    pipes escaped so that they do not split the cell."""
    return prose(" ".join(value.split())).replace("|", "\\|")


def number(value: Any) -> str:
    """A measured number to :data:`DECIMALS` decimals; an integer as it is; none as "n/a"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.{DECIMALS}f}"


def cell(value: Any) -> str:
    """A table cell: numbers as :func:`number`, text as a code span."""
    if value is None or isinstance(value, int | float):
        return number(value)
    return code(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; each cell already Markdown (see :func:`cell`)."""
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)
