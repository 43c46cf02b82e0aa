"""The card a bundle sealed at training time, read only once its bytes match the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.card import CARD_FILE
from engine.errors import DataError

BUNDLE_DIR, MANIFEST_FILE = "model", "MANIFEST.json"
"""As :mod:`engine.deploy.bundle` names them; importing it would load scikit-learn, which the
registry's alias moves (and so their cards) go without."""


def bundle_card(directory: Path) -> str:
    """The verified ``MODEL_CARD.md`` of the bundle in ``directory`` (a run directory or its
    bundle), checked as a bundle's files load (the manifest, its signature where a key is set,
    the file's digest); a bundle trained before cards were written is refused in one line."""
    from engine.deploy.bundle import find_bundle, read_sealed

    bundle = find_bundle(directory)
    return _card_text(bundle, read_sealed(bundle, CARD_FILE))


def registered_card(run_dir: Path, manifest_sha256: str, what: str) -> str:
    """The card of the bundle in ``run_dir`` whose manifest was registered with the digest
    ``manifest_sha256``: that manifest pins the card's digest, so a bundle changed since
    registration is refused (DataError, naming ``what``)."""
    bundle = run_dir / BUNDLE_DIR
    manifest = bundle / MANIFEST_FILE
    data = manifest.read_bytes() if manifest.is_file() else b""
    if _sha256(data) != manifest_sha256:
        state = "is gone" if not data else "changed after it was registered"
        raise DataError(f"registry: {what}'s bundle in {run_dir} {state}; register the run "
                        "again to show its card.")
    digest = json.loads(data).get("sha256", {}).get(CARD_FILE)
    card = bundle / CARD_FILE
    text = card.read_bytes() if digest is not None and card.is_file() else None
    if text is not None and _sha256(text) != digest:
        raise DataError(f"registry: {what}'s {CARD_FILE} in {bundle} does not match its SHA-256 "
                        "in the manifest; the bundle was changed after training.")
    return _card_text(bundle, text)


def _card_text(bundle: Path, data: bytes | None) -> str:
    if data is None:
        raise DataError(f"model bundle '{bundle}': no {CARD_FILE}; it was trained before the "
                        "engine wrote model cards. Re-run the experiment to write one.")
    return data.decode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
