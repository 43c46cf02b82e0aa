"""Library warnings raised while a model trains, counted once each, not flooding the console."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from engine.errors import first_line


@contextmanager
def collected_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside the block (none is printed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught


def summarize_warnings(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """One entry per distinct warning (category and first line), with how often it was raised."""
    # warnings makes every message a Warning instance; typeshed also allows the str given to warn
    counts = Counter((item.category.__name__, first_line(cast(Warning, item.message)))
                     for item in caught)
    return [
        {"category": category, "message": message, "count": count}
        for (category, message), count in counts.most_common()
    ]
