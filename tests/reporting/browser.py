"""Render a report in headless Chromium (Debian's chromium package) with Playwright.

What a reader would notice: the screenshot, images that did not load, script errors, and any
script the report's data smuggled in (a dialog, an element that is not the engine's own).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync")


@dataclass(frozen=True)
class Rendered:
    screenshot: Path
    broken_images: list[str]
    errors: list[str]
    svg_count: int
    headings: list[str]
    sorted_first_cells: list[str]
    dialogs: list[str]
    foreign: list[str]
    text: str


REQUIRE_VARIABLE = "ENGINE_REQUIRE_BROWSER"

# What no report of the engine's has: a script besides the sorting one, an image not embedded, an
# iframe, an event-handler attribute, or the mark a smuggled script would leave on the window.
FOREIGN_MARKUP = """() => {
  const found = [];
  if (window.__pwned !== undefined) found.push("window.__pwned = " + window.__pwned);
  if (document.scripts.length !== 1) found.push(document.scripts.length + " scripts");
  for (const element of document.querySelectorAll("*")) {
    const tag = element.tagName.toLowerCase();
    if (tag === "iframe" || tag === "object" || tag === "embed") found.push(tag);
    if (tag === "img" && !element.getAttribute("src").startsWith("data:image/png;base64,"))
      found.push("img " + element.getAttribute("src"));
    for (const attribute of element.attributes)
      if (attribute.name.startsWith("on")) found.push(tag + " " + attribute.name);
  }
  return found;
}"""


def chromium() -> str:
    """Chromium's path. Without one the report tests skip, unless ``ENGINE_REQUIRE_BROWSER=1``
    (CI, which installs Debian's package) makes that a failure."""
    path = os.environ.get("ENGINE_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if path is None:
        reason = "no chromium on PATH: apt-get install chromium (or set ENGINE_CHROMIUM)"
        if os.environ.get(REQUIRE_VARIABLE) == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def render(report: Path, screenshot: Path) -> Rendered:
    """Open ``report`` from disk, screenshot the whole page, click a sortable header."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text)
                if message.type == "error" else None)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("load")
        foreign = page.evaluate(FOREIGN_MARKUP)
        text = page.inner_text("body")
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.alt || i.src.slice(0, 40))")
        svg_count = page.evaluate("document.querySelectorAll('svg').length")
        headings = page.evaluate(
            "Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        sorted_cells = []
        header = page.query_selector("table.sortable th:nth-child(2)")
        if header is not None:
            header.click()
            header.click()
            sorted_cells = page.evaluate(
                "Array.from(document.querySelector('table.sortable').tBodies[0].rows)"
                ".map(r => r.children[1].textContent)")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return Rendered(screenshot, broken, errors, svg_count, headings, sorted_cells, dialogs,
                    foreign, text)
