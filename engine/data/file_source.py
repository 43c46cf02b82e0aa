"""The ``file`` source: a CSV or Parquet file read with pandas."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pandas as pd

from engine.config.schema.dataset import FileDataset
from engine.data.validation import pasteable
from engine.errors import ConfigError, DataError, did_you_mean, first_line

FORMAT_BY_SUFFIX = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")
DIRECTORY_LISTING = 5  # data files named when dataset.path is a folder
SEPARATORS = {";": "';'", "\t": "tabs", "|": "'|'"}  # others a one-column header may hide
MANGLED = re.compile(r".+\.\d+")  # how pandas renames a repeated column: x, x.1, x.2
# read_csv options that decide how the header row itself is read.
HEADER_OPTIONS = ("sep", "delimiter", "encoding", "encoding_errors", "compression", "skiprows",
                  "comment", "quotechar", "quoting", "escapechar", "doublequote",
                  "skipinitialspace", "lineterminator", "dialect", "engine")


def read_file(dataset: FileDataset, *, seed: int) -> pd.DataFrame:
    """Read ``dataset.path`` with ``dataset.na_values`` as extra missing markers."""
    path_text = dataset.path
    path = Path(path_text).expanduser()
    _refuse_directory(dataset)
    file_format = _file_format(path, dataset.format)
    if not path.exists():
        raise _missing_file_error(path_text, path.resolve())
    options = dict(dataset.read_options or {})
    na_values = list(dataset.na_values or [])
    try:
        if file_format == "csv":
            return _checked_header(pd.read_csv(path, **_csv_options(path, options, na_values)),
                                   path, path_text, options)
        frame = pd.read_parquet(path, **options)
    except TypeError as error:
        raise ConfigError(
            f"dataset.read_options: pandas.read_{file_format} rejected {options}: "
            f"{first_line(error)}."
        ) from error
    except (OSError, ValueError, NotImplementedError) as error:
        raise DataError(
            f"dataset.path: cannot read '{path_text}' as {file_format}: {first_line(error)}. "
            "Check the file, or set dataset.format and dataset.read_options (e.g. sep, encoding)."
        ) from error
    return _mark_missing(frame, na_values) if na_values else frame


def _file_format(path: Path, declared: str) -> str:
    """The declared format, or the one the suffix implies (``data.csv.gz`` is CSV)."""
    if declared != "auto":
        return declared
    suffix = _data_suffix(path)
    if suffix not in FORMAT_BY_SUFFIX:
        raise ConfigError(
            f"dataset.format: cannot tell the format of '{path}' from its suffix {suffix!r}. "
            f"Set dataset.format to csv or parquet (auto knows {', '.join(FORMAT_BY_SUFFIX)})."
        )
    return FORMAT_BY_SUFFIX[suffix]


def _missing_file_error(path_text: str, resolved: Path) -> DataError:
    """Say where the path resolved to, and suggest a near name in that folder."""
    folder = resolved.parent
    if folder.is_dir():
        hint = did_you_mean(resolved.name, [entry.name for entry in folder.iterdir()])
        where = f"check that the file is present in {folder}"
    else:
        hint = ""
        where = f"check that the folder {folder} is present"
    return DataError(
        f"dataset.path: file '{path_text}' does not exist (resolved to {resolved}).{hint} "
        f"Fix the path, or {where}."
    )


def _refuse_directory(dataset: FileDataset) -> None:
    """``dataset.path`` names a folder (other than a Parquet dataset's): say so, with the data
    files in it as suggestions."""
    path = Path(dataset.path).expanduser()
    if not path.is_dir() or "parquet" in (dataset.format, FORMAT_BY_SUFFIX.get(_data_suffix(path))):
        return
    files = sorted(entry.name for entry in path.iterdir()
                   if entry.is_file() and _data_suffix(entry) in FORMAT_BY_SUFFIX)
    shown = ", ".join(files[:DIRECTORY_LISTING]) + (", ..." if len(files) > DIRECTORY_LISTING
                                                    else "")
    suggestion = (f" Data files in it: {shown}; e.g. dataset.path={path / files[0]}."
                  if files else " It holds no .csv, .tsv or .parquet file.")
    raise DataError(f"dataset.path: '{dataset.path}' is a directory, not a data file."
                    f"{suggestion} Set dataset.path to the file itself.")


def _data_suffix(path: Path) -> str:
    """The suffix that names the format: ``.csv`` for ``data.csv.gz``; empty when none."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if len(suffixes) > 1 and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _checked_header(frame: pd.DataFrame, path: Path, path_text: str,
                    options: dict[str, Any]) -> pd.DataFrame:
    """Refuse a header that pandas would silently change: a repeated name (read as ``x.1``),
    or a whole header read as one column because the file uses another separator."""
    columns = [str(column) for column in frame.columns]
    if len(columns) == 1:
        separator = next((sep for sep in SEPARATORS if sep in columns[0]), None)
        if separator is not None:
            raise DataError(f"dataset.path: '{path_text}' was read as one column named "
                            f"{columns[0]!r}: its header holds {SEPARATORS[separator]}, the "
                            f"file's separator it seems. {_separator_fix(separator)}")
    if any(MANGLED.fullmatch(column) for column in columns):
        repeated = _repeated_names(path, options)
        if repeated:
            raise DataError(f"dataset.path: '{path_text}' repeats the column name(s) "
                            f"{', '.join(map(repr, repeated))} in its header (pandas would "
                            f"silently rename the second to '{repeated[0]}.1'). Rename the "
                            "columns in the file so that each is unique.")
    return frame


def _separator_fix(separator: str) -> str:
    if separator == "\t":
        return ("Name the file with a .tsv suffix (read as tab-separated), or set "
                'read_options: {sep: "\\t"} in its dataset YAML file.')
    return f"Read it with {pasteable('++dataset.read_options.sep', separator)}."


def _repeated_names(path: Path, options: dict[str, Any]) -> list[str]:
    """The names the header row of ``path`` holds more than once (none when the options say
    the header is elsewhere or renamed)."""
    if "names" in options or options.get("header", "infer") not in ("infer", 0):
        return []
    reading = {name: value for name, value in options.items() if name in HEADER_OPTIONS}
    if path.suffix.lower() == ".tsv":
        reading.setdefault("sep", "\t")
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False,
                         **reading).iloc[0].tolist()
    return sorted({name for name in header if header.count(name) > 1})


def check_read_options(dataset: FileDataset) -> None:
    """The format ``dataset.path`` is read as is known, and for CSV each ``read_options`` name
    is a ``pandas.read_csv`` option (the config schema asks this before any data loads)."""
    _refuse_directory(dataset)
    if _file_format(Path(dataset.path), dataset.format) != "csv":
        return  # read_parquet hands its options on to the Parquet engine
    known = inspect.signature(pd.read_csv).parameters
    for name in dataset.read_options or {}:
        if name not in known:
            raise ConfigError(
                f"dataset.read_options.{name}: pandas.read_csv has no option '{name}'."
                f"{did_you_mean(name, known)}"
            )


def _csv_options(path: Path, options: dict[str, Any], na_values: list[Any]) -> dict[str, Any]:
    """``read_options`` with the suffix's separator (a .tsv file is tab-separated)."""
    if path.suffix.lower() == ".tsv":
        options.setdefault("sep", "\t")
    # read_options.na_values, when given, wins over dataset.na_values.
    return {"na_values": na_values or None, **options}


def _mark_missing(frame: pd.DataFrame, markers: list[Any]) -> pd.DataFrame:
    """Turn the marker values into missing values (read_csv does this itself via na_values)."""
    hits = frame.isin(markers)
    for column in frame.columns[hits.any()]:
        frame[column] = frame[column].mask(hits[column])
    return frame
