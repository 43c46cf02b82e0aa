"""Argument helpers of the word commands: one-line errors, ports, positive numbers."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose errors are one line (exit 2), as the engine's other errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def port_number(text: str) -> int:
    number = int(text)
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port: give 0 to 65535")
    return number


port_number.__name__ = "port"  # argparse's "invalid port value: 'abc'"


def positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a finite number of ``kind`` above zero (not nan, not inf)."""

    def parse(text: str) -> float:
        number = kind(text)
        if not math.isfinite(number) or number <= 0:
            raise argparse.ArgumentTypeError(f"{text} must be a finite number above 0")
        return number

    parse.__name__ = kind.__name__
    return parse
