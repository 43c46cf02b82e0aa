"""The ``sql`` source: a query run through SQLAlchemy and read with pandas."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from engine.config.schema.dataset import SqlDataset
from engine.errors import DataError, first_line

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine


def read_sql(dataset: SqlDataset, *, seed: int) -> pd.DataFrame:
    """Run ``dataset.query`` against the database at ``dataset.url``."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url_text, query = dataset.url, dataset.query
    try:
        url = make_url(url_text)
    except ArgumentError as error:
        raise DataError(
            f"dataset.url: {url_text!r} is not a database URL: {first_line(error)}. Write it as "
            "dialect+driver://user:password@host/database, e.g. sqlite:///data.db."
        ) from error
    try:
        engine = create_engine(url)
    except (ArgumentError, ImportError) as error:
        raise DataError(
            f"dataset.url: cannot use {url.render_as_string(hide_password=True)!r}: "
            f"{first_line(error)}. Check the dialect and install the driver it names."
        ) from error
    try:
        _check_sqlite_file(url)
        return _run_query(engine, query)
    finally:
        engine.dispose()


def _check_sqlite_file(url: URL) -> None:
    """Refuse a missing SQLite file, which SQLite would otherwise create empty."""
    database = url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    if url.get_backend_name() == "sqlite" and not in_memory and not Path(database).exists():
        raise DataError(
            f"dataset.url: SQLite file '{database}' does not exist (resolved to "
            f"{Path(database).resolve()}). Fix the path: sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db."
        )


def _run_query(engine: Engine, query: str) -> pd.DataFrame:
    """Connect, then run the query; each failure names the key at fault."""
    from sqlalchemy.exc import SQLAlchemyError

    shown_url = engine.url.render_as_string(hide_password=True)
    try:
        connection = engine.connect()
    except SQLAlchemyError as error:
        raise DataError(
            f"dataset.url: cannot connect to {shown_url}: {_reason(error)}. Check the host, "
            "database name and credentials in dataset.url."
        ) from error
    with connection:
        try:
            return pd.read_sql_query(query, connection)
        except (SQLAlchemyError, pd.errors.DatabaseError) as error:
            raise DataError(
                f"dataset.query: {textwrap.shorten(query, 120)!r} failed on {shown_url}: "
                f"{_reason(error)}. Fix the SQL in dataset.query."
            ) from error


def _reason(error: Exception) -> str:
    """The database driver's own message, on one line (pandas wraps SQLAlchemy's error)."""
    cause = error.__cause__ or error
    return first_line(getattr(cause, "orig", None) or cause)
