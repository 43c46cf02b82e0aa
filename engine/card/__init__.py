"""Model cards: ``MODEL_CARD.md``, the document a reviewer or an auditor asks for.

Written into every bundle at training time (:mod:`engine.card.writer`), from what the run
measured and what the ``card`` config group declares; kept by the registry with each version's
history (:mod:`engine.card.registry_card`); shown by ``python -m engine card``, ``GET /card``
and report.html (:mod:`engine.card.rendering`).
"""

from __future__ import annotations

CARD_FILE = "MODEL_CARD.md"
NOT_STATED = "not stated"
"""What the card says for a field the ``card`` group leaves out: never an invented value."""
