"""Raising a rule's message from inside a validator, whole, as the user will read it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from pydantic_core import PydanticCustomError

from engine.errors import did_you_mean

RULE = "engine_rule"


def refuse(message: str) -> NoReturn:
    """Fail validation with ``message`` exactly: it already names the key and the fix."""
    raise PydanticCustomError(RULE, "{message}", {"message": message})


def check_name(key: str, value: str, valid: Sequence[str], problem: str, hint: str) -> None:
    """Refuse ``value`` unless it is in ``valid``, with did-you-mean and ``hint``."""
    if value not in valid:
        refuse(f"{key}: {value!r} {problem}.{did_you_mean(value, valid)} {hint}")

