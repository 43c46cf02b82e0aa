"""Writing a run directory's files."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any


def default_output_dir() -> Path:
    """Where runs land when no config says otherwise: ``$ENGINE_OUTPUT_DIR``, else ``outputs``
    (as ``engine/conf/paths/default.yaml`` resolves ``paths.output_dir``), for verbs that compose no
    config."""
    return Path(os.environ.get("ENGINE_OUTPUT_DIR", "outputs"))


# A JSON list of numbers, strings or nulls, across its indented lines.
SCALAR_LIST = re.compile(r"\[\n[^\[\]{}]*?\n\s*\]")


def write_json(path: Path, payload: Any, *, inline_lists: bool = False) -> Path:
    """Write ``payload`` as indented JSON (NaN becomes null) and return the path.

    The text goes to a temporary file that then replaces ``path``, so a reader never sees a
    half-written file, nor a killed run leave one.

    ``inline_lists`` keeps each list of scalars on one line, for files of long columns that a
    reviewer still reads (a regression baseline).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(payload), indent=2, default=str)
    if inline_lists:  # JSON strings hold no raw newlines, so only the layout changes
        text = SCALAR_LIST.sub(lambda m: re.sub(r"(?<=,)\n\s*", " ",
                                                re.sub(r"(?<=\[)\n\s*|\n\s*(?=\])", "", m.group())),
                               text)
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        temporary.write_text(text + "\n")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json`."""
    return json.loads(path.read_text())


def _finite(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
