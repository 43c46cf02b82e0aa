"""The shell every report shares: one self-contained HTML file with inline style, a contents
list, tables that sort when a header is clicked, and embedded images."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1180px;padding:16px 24px;
color:#222}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;border-bottom:1px solid #ddd;padding-top:12px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}td.n{text-align:right}
th{background:#f4f4f4}table.sortable th{cursor:pointer}
.grid{display:flex;flex-wrap:wrap;gap:12px}.grid>*{flex:0 0 auto}
svg text{font:11px system-ui,sans-serif;fill:#333}svg text.title{font-size:13px;font-weight:600}
.ok{color:#1a7f37}.warn{color:#b26b00}.fail,.failed{color:#c62828;font-weight:600}
.muted{color:#666}nav a{margin-right:12px}img{max-width:560px;border:1px solid #eee}
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (header) {
  header.addEventListener("click", function () {
    var table = header.closest("table"), body = table.tBodies[0];
    var column = Array.prototype.indexOf.call(header.parentNode.children, header);
    var ascending = header.dataset.order !== "ascending";
    header.dataset.order = ascending ? "ascending" : "descending";
    var key = function (row) {
      var text = row.children[column].textContent.trim();
      var number = Number(text.replace(/,/g, ""));
      return text !== "" && !isNaN(number) ? number : text;
    };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b), order;
      if (typeof x === "number" && typeof y === "number") { order = x - y; }
      else if (typeof x === "number") { order = -1; }
      else if (typeof y === "number") { order = 1; }
      else { order = x.localeCompare(y); }
      return order * (ascending ? 1 : -1);
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def page(title: str, sections: Sequence[tuple[str, str]], *, subtitle: str = "") -> str:
    """The whole document: a heading, links to each section, the sections."""
    anchors = [(_anchor(name), name, body) for name, body in sections if body]
    nav = " ".join(f'<a href="#{anchor}">{escape(name)}</a>' for anchor, name, _ in anchors)
    body = "".join(f'<section id="{anchor}"><h2>{escape(name)}</h2>{content}</section>'
                   for anchor, name, content in anchors)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1><p class=\"muted\">{subtitle}</p><nav>{nav}</nav>{body}"
            f"<script>{SORT_SCRIPT}</script></body></html>")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
          sortable: bool = True) -> str:
    """An HTML table; cells are escaped unless wrapped in :class:`Raw`; numbers formatted."""
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    kind = ' class="sortable"' if sortable else ""
    return f"<table{kind}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Raw(str):
    """Markup to put in a table cell as it is."""


def _cell(value: Any) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f'<td class="n">{_cell_html(value)}</td>' if numeric else f"<td>{_cell_html(value)}</td>"


def _cell_html(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, float) or value is None:
        return number(value)
    return escape(str(value))


def number(value: float | None, digits: int = 4) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:.3e}"


def image(path: Path, alt: str) -> str:
    """A PNG embedded as a data URI, so the report is one file."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def paragraph(text: str) -> str:
    return f"<p>{text}</p>"


def _anchor(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())
