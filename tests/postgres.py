"""A real, throw-away PostgreSQL server: the ``postgres_url`` fixture and ``postgres_server()``.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free localhost port with trust
authentication and the unix socket inside that directory; stopped and removed afterwards.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user. Without
PostgreSQL the fixture skips, unless ``ENGINE_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

REQUIRE_VARIABLE = "ENGINE_REQUIRE_POSTGRES"
INSTALL_HINT = "install it with: apt-get install postgresql (Debian/Ubuntu)"
START_ATTEMPTS = 3


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are not installed, or cannot run here."""


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+psycopg://postgres@127.0.0.1:<port>/postgres`` of a server for this session."""
    missing = postgres_missing()
    if missing and os.environ.get(REQUIRE_VARIABLE) == "1":
        pytest.fail(f"{REQUIRE_VARIABLE}=1 but {missing}", pytrace=False)
    if missing:
        pytest.skip(missing)
    with postgres_server() as url:
        yield url


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a PostgreSQL server for the ``with`` block; yields its SQLAlchemy URL."""
    bin_dir = find_bin_dir()
    run_as = server_user()
    root = Path(tempfile.mkdtemp(prefix="engine-postgres-"))
    data = root / "data"
    try:
        if run_as:
            shutil.chown(root, run_as, run_as)
        _run(bin_dir / "initdb", ["-D", str(data), "-U", "postgres", "-A", "trust",
                                  "--no-sync", "-E", "UTF8"], root, run_as)
        port = _start(bin_dir, data, root, run_as)
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run(bin_dir / "pg_ctl", ["stop", "-D", str(data), "-m", "immediate", "-w"],
                 root, run_as)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Create the empty database ``name`` on the server of ``url``; returns its URL."""
    import sqlalchemy

    admin = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return f"{url.rsplit('/', 1)[0]}/{name}"


def postgres_missing() -> str | None:
    """Why no PostgreSQL server can be started here, or None when one can."""
    try:
        find_bin_dir()
        server_user()
    except PostgresUnavailable as reason:
        return str(reason)
    return None


def find_bin_dir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian install."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major_version)
    if installed:
        return installed[-1].parent
    raise PostgresUnavailable(
        f"PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); "
        f"{INSTALL_HINT}"
    )


def server_user() -> str | None:
    """``postgres`` when we are root (PostgreSQL refuses to run as root), else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and there is no 'postgres' user to run the server as; {INSTALL_HINT}"
        ) from None
    return "postgres"


def free_port() -> int:
    """A localhost TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(bin_dir: Path, data: Path, root: Path, run_as: str | None) -> int:
    """``pg_ctl start`` on a free port, retrying if another process took the port meanwhile."""
    log = root / "server.log"
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        done = _run(bin_dir / "pg_ctl", ["start", "-D", str(data), "-l", str(log), "-w",
                                         "-t", "30", "-o", options], root, run_as, check=False)
        if done.returncode == 0:
            return port
        if attempt == START_ATTEMPTS - 1:
            text = log.read_text() if log.is_file() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}{done.stderr}\n{text}")
    raise AssertionError("unreachable")


def _run(
    program: Path, args: Sequence[str], cwd: Path, run_as: str | None, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL program (as ``run_as`` through runuser when given); fail loudly."""
    command = [str(program), *args]
    if run_as:
        command = ["runuser", "-u", run_as, "--", *command]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return done


def _major_version(initdb: Path) -> int:
    """15 for /usr/lib/postgresql/15/bin/initdb, so that 15 sorts after 9."""
    match = re.fullmatch(r"\d+", initdb.parents[1].name)
    return int(match.group()) if match else -1
