"""Which variant answers a row, in an online experiment (``serve A B --split 90/10 --key KEY``).

A row carrying the key is placed by a seeded SHA-256 of its key's text at a point in [0, 1);
variant ``i`` answers the points in ``[c(i-1), c(i))``, ``c`` being the cumulative shares. The
same key lands on the same point in every process and on every restart with the same seed
(Python's ``hash`` is salted per process, so it is not used). A request without the key column
is placed as a whole by a seeded random generator.

A canary is a split of two variants whose shares follow a :class:`Ramp`: the canary takes the
top of [0, 1), so as its share grows the boundary only moves down, and a key only ever moves
from the control to the canary, never back.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import ConfigError

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SHARE_TOLERANCE = 1e-6


def parse_split(text: str, variants: int) -> list[float]:
    """``"90/10"`` as percentages, one per variant, summing to 100; a ConfigError naming the
    rule otherwise."""
    parts = text.split("/")
    try:
        shares = [float(part) for part in parts]
    except ValueError:
        raise ConfigError(f"serve --split {text!r}: give one percentage per variant separated "
                          "by '/', e.g. --split 90/10") from None
    if len(shares) != variants:
        raise ConfigError(f"serve --split {text!r}: {len(shares)} share(s) for {variants} "
                          f"variant(s); give one per variant, e.g. --split "
                          f"{'/'.join(even_split(variants))}")
    if any(not math.isfinite(share) or share < 0 for share in shares):
        raise ConfigError(f"serve --split {text!r}: each share must be a percentage from 0 to "
                          "100")
    if abs(sum(shares) - 100) > SHARE_TOLERANCE:
        raise ConfigError(f"serve --split {text!r}: the shares sum to {sum(shares):g}, not 100; "
                          f"e.g. --split {'/'.join(even_split(variants))}")
    return shares


def even_split(variants: int) -> list[str]:
    """Percentages as even as whole numbers allow, the remainder the control's: 34/33/33."""
    base = 100 // variants
    return [str(100 - base * (variants - 1))] + [str(base)] * (variants - 1)


@dataclass(frozen=True)
class Ramp:
    """A canary's declared schedule: its share is ``shares[i]`` percent from ``i * every_s``
    seconds after the start, the last share held from then on (``5,25,50@10m``: 5 % for ten
    minutes, then 25 %, then 50 %)."""

    shares: tuple[float, ...]
    every_s: float

    def share_at(self, elapsed_s: float) -> float:
        step = int(max(elapsed_s, 0.0) // self.every_s)
        return self.shares[min(step, len(self.shares) - 1)]

    def describe(self) -> str:
        shares = " -> ".join(f"{share:g} %" for share in self.shares)
        return f"{shares}, one step every {self.every_s:g} s"


def parse_ramp(text: str) -> Ramp:
    """``"5,25,50@10m"``: increasing percentages, and the time each lasts (s, m, h or d)."""
    shares_text, at, every = text.partition("@")
    found = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", every.strip())
    if not at or found is None:
        raise ConfigError(f"serve --ramp {text!r}: give the canary's shares and how long each "
                          "lasts, e.g. --ramp 5,25,50@10m (units s, m, h, d)")
    try:
        shares = tuple(float(part) for part in shares_text.split(","))
    except ValueError:
        raise ConfigError(f"serve --ramp {text!r}: the shares must be percentages separated by "
                          "',', e.g. --ramp 5,25,50@10m") from None
    if any(not 0 < share <= 100 for share in shares):
        raise ConfigError(f"serve --ramp {text!r}: each share must be above 0 and at most 100")
    if any(later <= earlier for earlier, later in itertools.pairwise(shares)):
        raise ConfigError(f"serve --ramp {text!r}: the shares must increase (keys only move "
                          "from the control to the canary)")
    every_s = float(found[1]) * UNITS[found[2]]
    if every_s <= 0:
        raise ConfigError(f"serve --ramp {text!r}: each step must last more than 0 s")
    return Ramp(shares, every_s)


def key_points(keys: Iterable[object], seed: int) -> np.ndarray:
    """Each key's point in [0, 1): the first 8 bytes of SHA-256 of ``"<seed>:<key>"``. A whole
    float is written as an integer (``42.0`` as ``42``), so a key sent as a number lands where
    the same key sent in a column with missing values (read as floats) does."""
    points = []
    for key in keys:
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
        points.append(int.from_bytes(digest[:8], "big") / 2.0 ** 64)
    return np.asarray(points, dtype=float)


def variant_of(points: np.ndarray, shares: Sequence[float]) -> np.ndarray:
    """The index of the variant each point falls to, by cumulative percentage ``shares``."""
    bounds = np.cumsum(np.asarray(shares, dtype=float)) / 100.0
    bounds[-1] = 1.0  # rounding never leaves a point beyond the last variant
    return np.minimum(np.searchsorted(bounds, points, side="right"), len(shares) - 1)


class Assigner:
    """Places a request's rows: by key where the rows carry ``key`` (and it is not missing),
    else the whole request at one seeded random point. ``shares`` may change between calls (a
    canary's ramp)."""

    def __init__(self, key: str | None, seed: int) -> None:
        self.key = key
        self.seed = seed
        self._random = random.Random(seed)

    def assign(self, keys: Sequence[object] | None, rows: int,
               shares: Sequence[float]) -> np.ndarray:
        """The variant index of each of ``rows`` rows; ``keys`` their key values (None: the
        request has no key column). A missing key is placed at random, as a keyless row is."""
        if keys is None:
            return variant_of(np.full(rows, self._random.random()), shares)
        points = key_points(keys, self.seed)
        missing = np.array([_missing(key) for key in keys], dtype=bool)
        if missing.any():
            points[missing] = self._random.random()
        return variant_of(points, shares)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
