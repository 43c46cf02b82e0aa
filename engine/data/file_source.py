"""The ``file`` source: a CSV or Parquet file read with pandas."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pandas as pd

from engine.config.schema.dataset import FileDataset
from engine.errors import ConfigError, DataError, did_you_mean, first_line

FORMAT_BY_SUFFIX = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
}  # fmt: skip
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".zip", ".xz", ".zst")


def read_file(dataset: FileDataset, *, seed: int) -> pd.DataFrame:
    """Read ``dataset.path`` with ``dataset.na_values`` as extra missing markers."""
    path_text = dataset.path
    path = Path(path_text).expanduser()
    file_format = _file_format(path, dataset.format)
    if not path.exists():
        raise _missing_file_error(path_text, path.resolve())
    options = dict(dataset.read_options or {})
    na_values = list(dataset.na_values or [])
    try:
        if file_format == "csv":
            return pd.read_csv(path, **_csv_options(path, options, na_values))
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
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if len(suffixes) > 1 and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    suffix = suffixes[-1] if suffixes else ""
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


def check_read_options(dataset: FileDataset) -> None:
    """The format ``dataset.path`` is read as is known, and for CSV each ``read_options`` name
    is a ``pandas.read_csv`` option (the config schema asks this before any data loads)."""
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
