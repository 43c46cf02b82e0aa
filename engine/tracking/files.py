"""Writing a run directory's files, and reading them back.

Every file the engine writes goes through :func:`atomic_path`: it is written under a temporary
name beside its place and then renamed over it, so a reader never sees a half-written file, nor
does a killed process leave one (the target holds its old content, or is absent). Every file a
verb reads back goes through :func:`read_json` or :func:`read_csv`, which turn a damaged file
into one line naming it.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import RecordError, first_line

if TYPE_CHECKING:
    import pandas as pd

RERUN = "Re-run the experiment to write it again."


def default_output_dir() -> Path:
    """Where runs land when no config says otherwise: ``$ENGINE_OUTPUT_DIR``, else ``outputs``
    (as ``engine/conf/paths/default.yaml`` resolves ``paths.output_dir``), for verbs that compose no
    config."""
    return Path(os.environ.get("ENGINE_OUTPUT_DIR", "outputs"))


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; when the block ends without an error it
    replaces ``path`` in one step, otherwise it is removed and ``path`` is left as it was.

    The temporary name keeps ``path``'s suffixes, so writers that infer a format from them
    (``to_csv`` compression, ``savefig``) behave as with ``path``::

        with atomic_path(run_dir / "predictions.csv") as temporary:
            frame.to_csv(temporary, index=False)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}.{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def locked_folder(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` itself, waited for, for work that two processes
    must not do at once (logging one run to MLflow, creating a local MLflow store's tables); the
    system drops it when the process ends, however it ends. No file is left behind."""
    import fcntl  # POSIX: taken when a lock is, not when this module is imported

    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write`` with a temporary path that then replaces ``path``; return ``path``.

    ``write_atomically(path, lambda p: frame.to_parquet(p, index=False))``.
    """
    with atomic_path(path) as temporary:
        write(temporary)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    return write_atomically(path, lambda temporary: temporary.write_bytes(data))


# A JSON list of numbers, strings or nulls, across its indented lines.
SCALAR_LIST = re.compile(r"\[\n[^\[\]{}]*?\n\s*\]")


def write_json(path: Path, payload: Any, *, inline_lists: bool = False) -> Path:
    """Write ``payload`` as indented JSON (NaN becomes null), atomically, and return the path.

    ``inline_lists`` keeps each list of scalars on one line, for files of long columns that a
    reviewer still reads (a regression baseline).
    """
    text = json.dumps(_finite(payload), indent=2, default=str)
    if inline_lists:  # JSON strings hold no raw newlines, so only the layout changes
        text = SCALAR_LIST.sub(lambda m: re.sub(r"(?<=,)\n\s*", " ",
                                                re.sub(r"(?<=\[)\n\s*|\n\s*(?=\])", "", m.group())),
                               text)
    return write_text(path, text + "\n")


def read_json(path: Path, *, fix: str = RERUN) -> Any:
    """The JSON in ``path``; a file that cannot be read or parsed is a RecordError naming it,
    what is wrong and ``fix``."""
    text = _read_text(path, fix)
    if not text.strip():
        raise damaged(path, "empty", fix)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise damaged(path, f"not valid JSON ({error.msg} at line {error.lineno} column "
                            f"{error.colno})", fix) from None


def read_csv(path: Path, *, fix: str = RERUN, **options: Any) -> pd.DataFrame:
    """The CSV file the engine wrote at ``path`` (``options`` go to ``pandas.read_csv``).

    An empty file, one cut short (every CSV file the engine writes ends with a newline) or one
    that does not parse is a RecordError naming it, what is wrong and ``fix``.
    """
    import pandas as pd

    try:
        with path.open("rb") as handle:
            if handle.seek(0, os.SEEK_END) == 0:
                raise damaged(path, "empty", fix)
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                raise damaged(path, "cut short (its last line is incomplete)", fix)
        return pd.read_csv(path, **options)
    except UnicodeDecodeError:
        raise damaged(path, "not UTF-8 text", fix) from None
    except (pd.errors.ParserError, ValueError) as error:
        raise damaged(path, f"not a valid CSV file ({first_line(error)})", fix) from None
    except OSError as error:
        raise _unreadable(path, error, fix) from None


def read_yaml(path: Path, *, fix: str = RERUN) -> Any:
    """The YAML in ``path``; a file that cannot be read or parsed is a RecordError naming it,
    the line and column, and ``fix``."""
    import yaml

    text = _read_text(path, fix)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise damaged(path, f"not valid YAML ({yaml_problem(error)})", fix) from None


def yaml_problem(error: Exception) -> str:
    """A YAML syntax error in one line, positions counted from 1 as editors do:
    ``line 3, column 9: expected ',' or ']', but got ':' (while parsing a flow sequence that
    starts at line 3, column 4)``."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or first_line(error)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
    started = (f" ({context} that starts at line {start.line + 1}, column {start.column + 1})"
               if context and start is not None and start.line != getattr(mark, "line", None)
               else f" ({context})" if context else "")
    return f"{where}{problem}{started}"


def damaged(path: Path, problem: str, fix: str = RERUN) -> RecordError:
    """``<path>: <problem>; the file was damaged after it was written. <fix>``"""
    return RecordError(f"{path}: {problem}; the file was damaged after it was written. {fix}")


def _read_text(path: Path, fix: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise damaged(path, "not UTF-8 text", fix) from None
    except OSError as error:
        raise _unreadable(path, error, fix) from None


def _unreadable(path: Path, error: OSError, fix: str) -> RecordError:
    return RecordError(f"{path}: cannot be read ({error.strerror or error}). {fix}")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
