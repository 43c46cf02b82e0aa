"""``card``: what only people know about a model, for its model card (``MODEL_CARD.md``).

Everything else on the card comes from what the run measured. Every field is optional: one left
out is shown as "not stated", never invented.
"""

from __future__ import annotations

from engine.config.schema.base import Names, Section


class CardConfig(Section):
    """The model card's human part: its use, its people, its licence and its caveats."""

    intended_use: str | None = None
    """What the model is for and who should use it, e.g. "rank loan applications for review"."""
    out_of_scope: Names = []
    """Uses the model must not be put to, e.g. [automated rejection without review]."""
    owners: Names = []
    """The people or team answerable for the model."""
    contact: str | None = None
    """Where questions and reports go, e.g. an e-mail address or a channel."""
    license: str | None = None
    """The model's licence, as Hugging Face names them (e.g. apache-2.0, mit, other)."""
    ethical_considerations: str | None = None
    """Risks to people, sensitive data, the harms a wrong answer can do."""
    caveats: str | None = None
    """Anything else a reviewer should know before relying on the model."""
