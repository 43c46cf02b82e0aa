"""A server following a registry alias: ``serve churn@champion`` answers with whatever version
``champion`` points at, without a restart.

:class:`ModelFollower` is a daemon thread that reads the alias every ``every_s`` seconds (one
cheap SQLite read). When it moves (a promotion, a rollback) the thread loads the new version
(its manifest checked against the registered digest before any byte is deserialised) and warms
it up, both off the event loop, then hands it to the server, which swaps one reference. A
version that cannot be loaded is one warning line and is not tried again for
``RETRY_SECONDS``; the server keeps answering with the version it has.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from engine.errors import first_line

Loaded = TypeVar("Loaded")
RETRY_SECONDS = 60.0
"""A version that failed to load is tried again this long after, if the alias still names it."""


@dataclass(frozen=True)
class FollowedAlias:
    """The alias a server follows: ``name@alias`` in the registry at ``registry`` (None: the
    default registry), read every ``every_s`` seconds."""

    name: str
    alias: str
    registry: Path | None
    every_s: float


def followed_alias(reference: str, registry: Path | None, every_s: float) -> FollowedAlias | None:
    """The alias ``serve REFERENCE --follow EVERY_S`` follows; None when the server is pinned:
    a run directory, ``NAME/VERSION``, or ``every_s`` 0."""
    name, at, alias = reference.removeprefix("models:/").partition("@")
    if every_s <= 0 or not at or Path(reference).exists():
        return None
    return FollowedAlias(name, alias, registry, every_s)


def say_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ModelFollower(Generic[Loaded]):
    """Follows ``followed`` from ``serving`` (the version the server started with): on a move,
    ``load(version)`` (which loads and warms up, on this thread) then ``install(loaded)``.
    Each swap is one line to ``say`` (stderr); so is a version that cannot be loaded (with
    ``on_failure(version)``), and a registry that cannot say which version to serve (once
    while the problem lasts)."""

    def __init__(self, followed: FollowedAlias, *, serving: int | None,
                 load: Callable[[int], Loaded], install: Callable[[Loaded], None],
                 on_failure: Callable[[int], None] = lambda version: None,
                 say: Callable[[str], None] = say_on_stderr) -> None:
        self.followed = followed
        self.serving = serving
        self._load = load
        self._install = install
        self._on_failure = on_failure
        self._say = say
        self._failed: dict[int, float] = {}  # version -> monotonic time it may be tried again
        self._problem = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop polling; a load under way is abandoned with the (daemon) thread."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.followed.every_s):
            self.check()

    def check(self) -> None:
        """One poll: swap to the version the alias names if it moved and can be loaded."""
        version = self._aliased()
        if version is None or version == self.serving:
            return
        if time.monotonic() < self._failed.get(version, 0.0):
            return
        name, alias = self.followed.name, self.followed.alias
        try:
            loaded = self._load(version)
        except Exception as error:
            if self._stop.is_set():  # the server is shutting down under the load
                return
            self._failed[version] = time.monotonic() + RETRY_SECONDS
            self._on_failure(version)
            self._say(f"serve {name}@{alias}: version {version} cannot be served "
                       f"({first_line(error)}); still serving version {self.serving}, trying "
                       f"again in {RETRY_SECONDS:g} s if {alias} still points at it")
            return
        if self._stop.is_set():
            return
        previous, self.serving = self.serving, version
        self._failed.pop(version, None)
        self._install(loaded)
        self._say(f"serve {name}@{alias}: now serving version {version} (was {previous})")

    def _aliased(self) -> int | None:
        """The version the alias names now; None (and one warning line per new problem) when
        the registry cannot say."""
        from engine.deploy.registry import Registry

        name, alias = self.followed.name, self.followed.alias
        try:
            version = Registry(self.followed.registry).alias_version(name, alias)
            problem = "" if version is not None else "no such alias in it any more"
        except Exception as error:
            version, problem = None, f"cannot read it: {first_line(error)}"
        if problem and problem != self._problem:
            self._say(f"serve {name}@{alias}: the registry names no version ({problem}); "
                       f"still serving version {self.serving}")
        self._problem = problem
        return version
