"""``python -m engine card RUN|NAME@ALIAS|NAME@VERSION [--format md|html] [-o FILE]``: a model's
card in the terminal, or written as Markdown or HTML.

A run directory gives the card its bundle sealed at training; a registered model gives the
registry's copy, with the version's history.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from engine.card.bundle_card import bundle_card
from engine.errors import ConfigError

FORMATS = ("md", "html")


def card(args: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="engine card",
        description="Show a model's card (MODEL_CARD.md) in the terminal, or write it as "
                    "Markdown or HTML.")
    parser.add_argument("model", help="a run directory, NAME@ALIAS, or NAME@VERSION (also "
                                      "NAME/VERSION) of a registered model")
    parser.add_argument("--format", choices=FORMATS, default="md",
                        help="md (the card as written) or html (a page); default md")
    parser.add_argument("-o", "--output", type=Path,
                        help="write the card to this file instead of the terminal")
    parser.add_argument("--registry", type=Path, help="the registry database (default: "
                        "$ENGINE_REGISTRY, else outputs/registry.db)")
    options = parser.parse_args(args)
    text, title = find_card(options.model, options.registry)
    from engine.card.rendering import card_page, print_card
    from engine.tracking.files import write_text
    from engine.tracking.summary import make_console

    shown = card_page(text, title) if options.format == "html" else text
    if options.output is not None:
        print(f"card: {write_text(options.output, shown)}")
    elif options.format == "html":
        print(shown)
    else:
        print_card(make_console(), text)


def find_card(reference: str, registry_path: Path | None) -> tuple[str, str]:
    """The card ``reference`` names and a title for it: a run directory's bundle card, else
    the registry's copy for ``NAME@ALIAS``, ``NAME@VERSION`` or ``NAME/VERSION``."""
    path = Path(reference)
    if path.exists():
        return bundle_card(path), f"model card: {path.resolve().name}"
    from engine.card.registry_card import registry_card
    from engine.deploy.registry import Registry

    registry = Registry(registry_path)
    if not registry.path.exists():
        raise ConfigError(f"card: '{reference}' is no run directory, and there is no registry "
                          f"at {registry.path} to look it up in; pass a run directory (e.g. "
                          "outputs/runs/<timestamp>) or NAME@ALIAS of a registered model.")
    name, at, alias = reference.partition("@")
    version = registry.resolve(f"{name}/{alias}" if at and alias.isdigit() else reference)
    return (registry_card(registry, version),
            f"model card: {version.name} version {version.version}")
