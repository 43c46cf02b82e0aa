"""``GET /card``: the card of the model a server answers with, as Markdown, or as an HTML page
with ``?format=html`` or ``Accept: text/html``. Serving a registered version, it is the
registry's copy (with the version's history); serving a run directory, the bundle's own."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from engine.card.bundle_card import bundle_card
from engine.card.command import FORMATS
from engine.card.registry_card import registry_card
from engine.card.rendering import card_page
from engine.errors import EngineError

MARKDOWN = "text/markdown; charset=utf-8"


async def card_response(request: Request, format: str | None, bundle_dir: Path,
                        lineage: dict[str, Any], registry: Path | None) -> Response:
    """The card answer; a format not offered is a 422 naming those offered, a bundle without
    a card a 404 saying why."""
    if format is not None and format not in FORMATS:
        return JSONResponse({"detail": f"format '{format}': not offered; use one of "
                                       f"{', '.join(FORMATS)} (or Accept: text/html)."},
                            status_code=422)
    try:
        text, title = await asyncio.to_thread(_card, bundle_dir, lineage, registry)
    except EngineError as error:
        return JSONResponse({"detail": str(error)}, status_code=404)
    html = format == "html" or (format is None and
                                "text/html" in request.headers.get("accept", ""))
    if html:
        return HTMLResponse(card_page(text, title))
    return Response(text, media_type=MARKDOWN)


def _card(bundle_dir: Path, lineage: dict[str, Any], registry: Path | None) -> tuple[str, str]:
    registered = lineage.get("registered")
    if not registered:
        return bundle_card(bundle_dir), f"model card: {bundle_dir.parent.name}"
    from engine.deploy.registry import Registry

    version = Registry(registry).version(registered["name"], int(registered["version"]))
    return (registry_card(Registry(registry), version),
            f"model card: {version.name} version {version.version}")
